import type { TableClient } from '@azure/data-tables';
import { ConcurrencyError } from '../errors';
import { continuationAfter, rowKeyOf } from './continuation';
import { readText, storedJson, textProperties } from './largeText';
import { storageCall } from './storageCall';
import { filterId, statusOf } from './tableErrors';

export type OperationKind =
  | 'failure-detected'
  | 'failover'
  | 'make-active'
  | 'drill'
  | 'arbitration'
  /** A capacity pool's spillover run (placing, removing, spilling nodes back). */
  | 'spillover';
/**
 * `pending` and `running` are unfinished; the others are ended. `superseded`: overtaken by events (a detection whose
 * epoch moved on or whose active was heard again); `refused`: declined by whoever handles it (e.g. a failover).
 */
export type OperationStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'superseded' | 'refused';

export const UNFINISHED: readonly OperationStatus[] = ['pending', 'running'];

/** What started an operation. */
export interface OperationTrigger {
  kind: 'detector' | 'webhook' | 'api' | 'portal' | 'arbitration' | 'schedule' | 'drill';
  /** E.g. the alert id, the detection's operation id, the request id. */
  reference?: string;
}

/** One step of an operation, as the orchestration records it: recorded again under its id, it is replaced. */
export interface OperationStep {
  /** Unique within the operation (derived from the orchestration's instance and step), so a replay is idempotent. */
  id: string;
  /** What the step does, in runbook words: "revoke epoch 3", "fence head-a (power off)", "promote head-b". */
  name: string;
  startedAt: number;
  endedAt?: number;
  outcome: 'running' | 'ok' | 'warn' | 'failed' | 'skipped';
  /** Evidence and results (a hook's steps from an acknowledgement, a power state); never secrets. */
  detail?: Record<string, unknown>;
}

export interface OperationRecord {
  clusterId: string;
  /** Deterministic where exactly-once matters, e.g. `detect-<epoch>` for a detection. */
  operationId: string;
  kind: OperationKind;
  status: OperationStatus;
  createdAt: number;
  updatedAt: number;
  /** The epoch the operation started under. */
  epoch: number;
  /** What the operation is based on (a detection's evidence: last heartbeat, missed count). */
  evidence: Record<string, unknown>;
  trigger?: OperationTrigger;
  /** Who asked: `admin`, `controller`, `node:<id>`, an operator's name. */
  actor?: string;
  targetNodeId?: string | null;
  /** The epoch the operation ended the cluster under, when it changed it. */
  toEpoch?: number;
  steps?: OperationStep[];
  /** Measured recovery time (trigger or last heartbeat → new active verified). */
  rtoMs?: number;
  /** Why it ended as it did, in one sentence. */
  reason?: string;
  /** Why it ended, as a stable code, when it was refused or failed for a named reason (e.g. `CoolingDown`). */
  code?: string;
  /** The drill this operation belongs to: a drill's own record, its make-active legs, the failover it caused. */
  drillId?: string;
  /** Why it ended, as data (e.g. what superseded a detection). */
  outcome?: Record<string, unknown>;
  endedAt?: number;
}

export type OperationWrite = { ok: true } | { ok: false; reason: 'conflict' | 'not-found' };

export interface OperationPage {
  operations: OperationRecord[];
  /** Opaque: pass it back for the next (older) page; absent on the last page. */
  continuation?: string;
}

const MAX_TIME = 9_999_999_999_999;
/** Index rows, one per operation, keyed newest first: `idx-<inverted createdAt>-<operationId>`. */
const INDEX_PREFIX = 'idx-';
const INDEX_ROW = /^idx-\d{13}-[a-z0-9-]{1,63}$/;
const indexKey = (op: Pick<OperationRecord, 'createdAt' | 'operationId'>) =>
  `${INDEX_PREFIX}${String(MAX_TIME - op.createdAt).padStart(13, '0')}-${op.operationId}`;

type OperationEntity = Record<string, unknown> & { etag?: string };

/**
 * Operations per cluster (partition = cluster id): the record (row = operation id, its JSON split across properties
 * when large) and an index row per operation keyed newest first, so the history pages without sorting. Changes to a
 * record are conditional (If-Match): two writers never lose each other's steps.
 */
export class OperationStore {
  constructor(private readonly table: TableClient) {}

  /** Creates the operation unless one with its id exists: exactly once, whichever host instance gets there first. */
  async createOnce(operation: OperationRecord): Promise<{ created: boolean; operation: OperationRecord }> {
    try {
      await storageCall(`operation ${operation.operationId}`, () =>
        this.table.createEntity({
          partitionKey: operation.clusterId,
          rowKey: operation.operationId,
          Status: operation.status,
          ...textProperties('Operation', storedJson(operation)),
        }),
      );
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
      const existing = await this.get(operation.clusterId, operation.operationId);
      if (!existing) throw error;
      return { created: false, operation: existing };
    }
    // The index row after the record: a crash between the two leaves a record the history does not list yet; the
    // next createOnce of the same id (a retried activity) writes it.
    await this.#index(operation);
    return { created: true, operation };
  }

  async #index(operation: OperationRecord): Promise<void> {
    try {
      await storageCall(`operation index ${operation.operationId}`, () =>
        this.table.createEntity({
          partitionKey: operation.clusterId,
          rowKey: indexKey(operation),
          OperationId: operation.operationId,
        }),
      );
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
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
        this.table.getEntity<OperationEntity>(clusterId, operationId),
      );
      return { operation: JSON.parse(readText(e, 'Operation')) as OperationRecord, etag: e.etag ?? '' };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Replaces an operation if it still has `etag` (412: `conflict`, someone changed it first). */
  async replace(operation: OperationRecord, etag: string): Promise<OperationWrite> {
    try {
      await storageCall(`operation ${operation.operationId}`, () =>
        this.table.updateEntity(
          {
            partitionKey: operation.clusterId,
            rowKey: operation.operationId,
            Status: operation.status,
            ...textProperties('Operation', storedJson(operation)),
          },
          'Replace',
          { etag },
        ),
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
   * Changes a record with If-Match, re-reading and re-applying `change` when another writer got there first.
   * `change` must be idempotent (it is applied to whatever is stored). Undefined when the operation does not exist.
   */
  async update(
    clusterId: string,
    operationId: string,
    change: (operation: OperationRecord) => OperationRecord,
  ): Promise<OperationRecord | undefined> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const stored = await this.getWithEtag(clusterId, operationId);
      if (!stored) return undefined;
      const next = change(stored.operation);
      // Nothing to change (`change` handed the record back): no write.
      if (next === stored.operation) return next;
      try {
        await storageCall(`operation ${operationId}`, () =>
          this.table.updateEntity(
            {
              partitionKey: clusterId,
              rowKey: operationId,
              Status: next.status,
              ...textProperties('Operation', storedJson(next)),
            },
            'Replace',
            { etag: stored.etag },
          ),
        );
        return next;
      } catch (error) {
        if (statusOf(error) !== 412) throw error;
      }
    }
    throw new ConcurrencyError(`operation ${operationId} of ${clusterId} kept changing; retry`);
  }

  /** Records a step (replacing the step with the same id: a replayed activity records it once). */
  recordStep(
    clusterId: string,
    operationId: string,
    step: OperationStep,
    now: number,
  ): Promise<OperationRecord | undefined> {
    return this.update(clusterId, operationId, (op) => {
      const steps = [...(op.steps ?? [])];
      const at = steps.findIndex((s) => s.id === step.id);
      if (at >= 0) steps[at] = step;
      else steps.push(step);
      return { ...op, steps, status: op.status === 'pending' ? 'running' : op.status, updatedAt: now };
    });
  }

  /** Records a step unless one with its id is recorded already (then nothing is written). */
  recordStepIfAbsent(
    clusterId: string,
    operationId: string,
    step: OperationStep,
    now: number,
  ): Promise<OperationRecord | undefined> {
    return this.update(clusterId, operationId, (op) =>
      op.steps?.some((s) => s.id === step.id)
        ? op
        : {
            ...op,
            steps: [...(op.steps ?? []), step],
            status: op.status === 'pending' ? 'running' : op.status,
            updatedAt: now,
          },
    );
  }

  /**
   * Ends an operation: its status, why, and any final fields (toEpoch, rtoMs); a step still running ends as skipped.
   * Ending it again changes nothing.
   */
  finish(
    clusterId: string,
    operationId: string,
    end: { status: OperationStatus; reason: string; at: number } & Pick<
      OperationRecord,
      'toEpoch' | 'rtoMs' | 'code'
    >,
  ): Promise<OperationRecord | undefined> {
    return this.update(clusterId, operationId, (op) =>
      op.endedAt !== undefined
        ? op
        : {
            ...op,
            // A step still running when the operation ends was overtaken: it ends with it, as skipped.
            ...(op.steps
              ? {
                  steps: op.steps.map((step) =>
                    step.outcome === 'running'
                      ? { ...step, outcome: 'skipped' as const, endedAt: end.at }
                      : step,
                  ),
                }
              : {}),
            status: end.status,
            reason: end.reason,
            endedAt: end.at,
            updatedAt: end.at,
            ...(end.toEpoch !== undefined ? { toEpoch: end.toEpoch } : {}),
            ...(end.rtoMs !== undefined ? { rtoMs: end.rtoMs } : {}),
            ...(end.code !== undefined ? { code: end.code } : {}),
          },
    );
  }

  /** Whether `token` is a continuation this store handed out for the cluster's history. */
  static isContinuation(token: string): boolean {
    return rowKeyOf(token, INDEX_ROW) !== undefined;
  }

  /**
   * A cluster's operations, newest first, `limit` at a time (check a client's token with `isContinuation`); with
   * `since`, only those created at or after it (one query of index rows, then a read per operation listed).
   */
  async list(
    clusterId: string,
    options: { limit?: number; continuation?: string; since?: number } = {},
  ): Promise<OperationPage> {
    const limit = options.limit ?? 20;
    const after = options.continuation ? rowKeyOf(options.continuation, INDEX_ROW) : undefined;
    if (options.continuation && !after) throw new RangeError('not a continuation of this list');
    // `since`: only operations created at or after it (newest first, so the index rows before a bound).
    const until =
      options.since !== undefined
        ? `${INDEX_PREFIX}${String(MAX_TIME - options.since + 1).padStart(13, '0')}`
        : 'idx.';
    const filter =
      `PartitionKey eq '${filterId(clusterId)}' and RowKey ${after ? 'gt' : 'ge'} '${after ?? INDEX_PREFIX}'` +
      ` and RowKey lt '${until}'`;
    // One more than asked, to know whether there is a next page.
    const rows = await storageCall(`operations of ${clusterId}`, async () => {
      const pages = this.table
        .listEntities<{ rowKey: string; OperationId: string }>({
          queryOptions: { filter, select: ['RowKey', 'OperationId'] },
        })
        .byPage({ maxPageSize: limit + 1 });
      const first = await pages.next();
      return first.done ? [] : first.value;
    });
    const page = rows.slice(0, limit);
    const operations = await Promise.all(page.map((row) => this.get(clusterId, row.OperationId)));
    const last = page[page.length - 1];
    return {
      operations: operations.filter((o): o is OperationRecord => o !== undefined),
      ...(rows.length > limit && last ? { continuation: continuationAfter(last.rowKey) } : {}),
    };
  }

  /**
   * Every pending detection of every cluster: one query across partitions (detections are few: at most one
   * unfinished per cluster), so a detector round can end the superseded ones without a read per cluster.
   */
  async listPendingDetections(): Promise<OperationRecord[]> {
    const filter = `Status eq 'pending' and RowKey ge 'detect-' and RowKey lt 'detect.'`;
    return storageCall('the pending detections', async () => {
      const out: OperationRecord[] = [];
      for await (const e of this.table.listEntities<OperationEntity>({ queryOptions: { filter } }))
        out.push(JSON.parse(readText(e, 'Operation')) as OperationRecord);
      return out;
    });
  }

  async listUnfinished(clusterId: string): Promise<OperationRecord[]> {
    const filter = `PartitionKey eq '${filterId(clusterId)}' and (Status eq 'pending' or Status eq 'running')`;
    return storageCall(`operations of ${clusterId}`, async () => {
      const out: OperationRecord[] = [];
      const rows = this.table.listEntities<OperationEntity>({ queryOptions: { filter } });
      for await (const e of rows) out.push(JSON.parse(readText(e, 'Operation')) as OperationRecord);
      return out;
    });
  }
}
