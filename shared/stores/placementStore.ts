import { createHash } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { storageCall } from './storageCall';
import { filterId, statusOf } from './tableErrors';

/** `running`: provisioned and counted; `removed`: scaled in (kept as history of where the node was and why). */
export type PlacementStatus = 'running' | 'removed';

/** Where one pool node went and why: written when its site's scale-out returned it. */
export interface PlacementRecord {
  clusterId: string;
  poolId: string;
  /** Stable per cloud resource: `<site id>-<8 hex of the resource id's hash>`. */
  nodeId: string;
  siteId: string;
  cloud: 'azure' | 'oci';
  region: string;
  zone?: string;
  size: string;
  group: string;
  /** The Azure VM (scale set instance) resource id or the OCI instance OCID. */
  resourceId: string;
  status: PlacementStatus;
  /** Why it was placed here (the planner's reason: preference, spill-over after a cool-down, a spill-back). */
  reason: string;
  placedAt: number;
  /** The spillover run that placed it. */
  operationId: string;
  /** Reported idle (by an agent check or `PUT …/nodes/{nodeId}/idle`): a spill-back may move it. */
  idleSince?: number;
  removedAt?: number;
  removedBy?: string;
  removeReason?: string;
}

/** The node id of a cloud resource in a pool site: an id (ID_PATTERN) that stays the same for the resource. */
export function placementNodeId(siteId: string, resourceId: string): string {
  const hash = createHash('sha256').update(resourceId.toLowerCase()).digest('hex').slice(0, 8);
  return `${siteId.slice(0, 54).replace(/-+$/, '')}-${hash}`;
}

interface PlacementEntity {
  partitionKey: string;
  rowKey: string;
  PoolId: string;
  Status: PlacementStatus;
  Record: string;
}

const rowOf = (poolId: string, nodeId: string) => `${poolId}~${nodeId}`;

/**
 * The placement records (table `Placements`, partition = cluster, row = `<pool>~<node>`). Writes are upserts keyed by
 * the node, so a redelivered activity that records the same nodes again changes nothing.
 */
export class PlacementStore {
  constructor(private readonly table: TableClient) {}

  /** Records nodes as running (a node already recorded keeps its first `placedAt`, reason and operation). */
  async recordPlaced(records: readonly PlacementRecord[]): Promise<void> {
    for (const record of records) {
      const existing = await this.get(record.clusterId, record.poolId, record.nodeId);
      if (existing?.status === 'running') continue;
      await this.#write(record);
    }
  }

  async get(clusterId: string, poolId: string, nodeId: string): Promise<PlacementRecord | undefined> {
    try {
      const e = await storageCall(`placement ${clusterId}/${poolId}/${nodeId}`, () =>
        this.table.getEntity<PlacementEntity>(clusterId, rowOf(poolId, nodeId)),
      );
      return JSON.parse(e.Record) as PlacementRecord;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** The pool's records, oldest placement first (`removed` ones only when asked). */
  async list(
    clusterId: string,
    poolId: string,
    options: { includeRemoved?: boolean } = {},
  ): Promise<PlacementRecord[]> {
    const filter =
      `PartitionKey eq '${filterId(clusterId)}' and PoolId eq '${filterId(poolId)}'` +
      (options.includeRemoved ? '' : ` and Status eq 'running'`);
    const records = await storageCall(`placements of ${clusterId}/${poolId}`, async () => {
      const found: PlacementRecord[] = [];
      for await (const e of this.table.listEntities<PlacementEntity>({ queryOptions: { filter } }))
        found.push(JSON.parse(e.Record) as PlacementRecord);
      return found;
    });
    return records.sort((a, b) => a.placedAt - b.placedAt || a.nodeId.localeCompare(b.nodeId));
  }

  /** Marks nodes removed (idempotent: a node already removed keeps its first removal). */
  async markRemoved(
    clusterId: string,
    poolId: string,
    nodeIds: readonly string[],
    removal: { operationId: string; reason: string; at: number },
  ): Promise<void> {
    for (const nodeId of nodeIds) {
      const existing = await this.get(clusterId, poolId, nodeId);
      if (!existing || existing.status === 'removed') continue;
      await this.#write({
        ...existing,
        status: 'removed',
        removedAt: removal.at,
        removedBy: removal.operationId,
        removeReason: removal.reason,
      });
    }
  }

  /** Sets or clears a running node's idle mark; undefined when the pool has no such running node. */
  async setIdle(
    clusterId: string,
    poolId: string,
    nodeId: string,
    idle: boolean,
    now: number,
  ): Promise<PlacementRecord | undefined> {
    const existing = await this.get(clusterId, poolId, nodeId);
    if (!existing || existing.status !== 'running') return undefined;
    const { idleSince: _was, ...rest } = existing;
    const next: PlacementRecord = idle ? { ...rest, idleSince: existing.idleSince ?? now } : rest;
    await this.#write(next);
    return next;
  }

  /** Forgets a pool's records, removed ones too (its cluster is deleted). */
  async deleteForPool(clusterId: string, poolId: string): Promise<void> {
    for (const r of await this.list(clusterId, poolId, { includeRemoved: true }))
      await storageCall(`placement ${clusterId}/${poolId}/${r.nodeId}`, async () => {
        try {
          await this.table.deleteEntity(clusterId, rowOf(poolId, r.nodeId));
        } catch (error) {
          if (statusOf(error) !== 404) throw error;
        }
      });
  }

  async #write(record: PlacementRecord): Promise<void> {
    const entity: PlacementEntity = {
      partitionKey: record.clusterId,
      rowKey: rowOf(record.poolId, record.nodeId),
      PoolId: record.poolId,
      Status: record.status,
      Record: JSON.stringify(record),
    };
    await storageCall(`placement ${record.clusterId}/${record.poolId}/${record.nodeId}`, () =>
      this.table.upsertEntity(entity, 'Replace'),
    );
  }
}
