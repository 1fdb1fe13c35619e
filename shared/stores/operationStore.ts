import type { TableClient } from '@azure/data-tables';
import { storageCall } from './storageCall';
import { filterId, statusOf } from './tableErrors';

export type OperationKind = 'failure-detected' | 'failover' | 'make-active' | 'drill' | 'arbitration';
export type OperationStatus = 'pending' | 'running' | 'succeeded' | 'failed';

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
}

export class OperationStore {
  constructor(private readonly table: TableClient) {}

  /** Creates the operation unless one with its id exists: exactly once, whichever host instance gets there first. */
  async createOnce(operation: OperationRecord): Promise<{ created: boolean; operation: OperationRecord }> {
    try {
      await storageCall(`operation ${operation.operationId}`, () =>
        this.table.createEntity({
          partitionKey: operation.clusterId,
          rowKey: operation.operationId,
          Operation: JSON.stringify(operation),
          Status: operation.status,
        }),
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
    try {
      const e = await storageCall(`operation ${operationId}`, () =>
        this.table.getEntity<{ Operation: string }>(clusterId, operationId),
      );
      return JSON.parse(e.Operation) as OperationRecord;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
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
