import type { TableClient } from '@azure/data-tables';
import { storageCall } from './storageCall';
import { filterId, statusOf } from './tableErrors';

export type OperationKind = 'failure-detected' | 'failover' | 'make-active' | 'drill' | 'arbitration';
/**
 * `pending` and `running` are unfinished; the others are ended. `superseded`: overtaken by events (a detection whose
 * epoch moved on or whose active was heard again); `refused`: declined by whoever handles it (e.g. a failover).
 */
export type OperationStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'superseded' | 'refused';

export const UNFINISHED: readonly OperationStatus[] = ['pending', 'running'];

export interface OperationRecord {
  clusterId: string;
  /** Deterministic where exactly-once matters, e.g. `detect-<epoch>` for a detection. */
  operationId: string;
  kind: OperationKind;
  status: OperationStatus;
  createdAt: number;
  updatedAt: number;
  epoch: number;
  /** What the operation is based on (a detection's evidence: last heartbeat, missed count). */
  evidence: Record<string, unknown>;
  /** Why it ended, when it did (e.g. what superseded a detection). */
  outcome?: Record<string, unknown>;
}

export type OperationWrite = { ok: true } | { ok: false; reason: 'conflict' | 'not-found' };

const entityOf = (operation: OperationRecord) => ({
  partitionKey: operation.clusterId,
  rowKey: operation.operationId,
  Operation: JSON.stringify(operation),
  Status: operation.status,
});

export class OperationStore {
  constructor(private readonly table: TableClient) {}

  /** Creates the operation unless one with its id exists: exactly once, whichever host instance gets there first. */
  async createOnce(operation: OperationRecord): Promise<{ created: boolean; operation: OperationRecord }> {
    try {
      await storageCall(`operation ${operation.operationId}`, () =>
        this.table.createEntity(entityOf(operation)),
      );
      return { created: true, operation };
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
      const existing = await this.get(operation.clusterId, operation.operationId);
      if (!existing) throw error;
      return { created: false, operation: existing };
    }
  }

  async get(clusterId: string, operationId: string): Promise<OperationRecord | undefined> {
    return (await this.getWithEtag(clusterId, operationId))?.operation;
  }

  async getWithEtag(
    clusterId: string,
    operationId: string,
  ): Promise<{ operation: OperationRecord; etag: string } | undefined> {
    try {
      const e = await storageCall(`operation ${operationId}`, () =>
        this.table.getEntity<{ Operation: string }>(clusterId, operationId),
      );
      return { operation: JSON.parse(e.Operation) as OperationRecord, etag: e.etag };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Replaces an operation if it still has `etag` (412: `conflict`, someone changed it first). */
  async replace(operation: OperationRecord, etag: string): Promise<OperationWrite> {
    try {
      await storageCall(`operation ${operation.operationId}`, () =>
        this.table.updateEntity(entityOf(operation), 'Replace', { etag }),
      );
      return { ok: true };
    } catch (error) {
      const status = statusOf(error);
      if (status === 412) return { ok: false, reason: 'conflict' };
      if (status === 404) return { ok: false, reason: 'not-found' };
      throw error;
    }
  }

  /**
   * Every pending detection of every cluster: one query across partitions (detections are few: at most one
   * unfinished per cluster), so a detector round can end the superseded ones without a read per cluster.
   */
  async listPendingDetections(): Promise<OperationRecord[]> {
    const filter = `Status eq 'pending' and RowKey ge 'detect-' and RowKey lt 'detect.'`;
    return storageCall('the pending detections', async () => {
      const out: OperationRecord[] = [];
      for await (const e of this.table.listEntities<{ Operation: string }>({ queryOptions: { filter } }))
        out.push(JSON.parse(e.Operation) as OperationRecord);
      return out;
    });
  }

  async listUnfinished(clusterId: string): Promise<OperationRecord[]> {
    const filter = `PartitionKey eq '${filterId(clusterId)}' and (Status eq 'pending' or Status eq 'running')`;
    return storageCall(`operations of ${clusterId}`, async () => {
      const out: OperationRecord[] = [];
      const rows = this.table.listEntities<{ Operation: string }>({
        queryOptions: {
          filter,
        },
      });
      for await (const e of rows) out.push(JSON.parse(e.Operation) as OperationRecord);
      return out;
    });
  }
}
