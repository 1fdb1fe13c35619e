import type { NodeHeartbeat } from '../domain/clusterState';
import type { TableClient } from '@azure/data-tables';
import { readText, storedJson, textProperties } from './largeText';
import { storageCall } from './storageCall';
import { filterId, statusOf } from './tableErrors';

export type { CheckReport } from '../domain/clusterState';
/** The last heartbeat of one node, and the last request sequence accepted from it (replay protection). */
export type HeartbeatRecord = NodeHeartbeat;

export type HeartbeatWrite = { ok: true; etag: string } | { ok: false; reason: 'conflict' };

/** One partition per node (`<cluster>~<node>`): a cluster's heartbeats never share a partition's write budget. */
const partitionOf = (clusterId: string, nodeId: string) => `${clusterId}~${nodeId}`;

export class HeartbeatStore {
  constructor(private readonly table: TableClient) {}

  async get(
    clusterId: string,
    nodeId: string,
  ): Promise<{ record: HeartbeatRecord; etag: string } | undefined> {
    try {
      const e = await storageCall(`heartbeat of ${clusterId}/${nodeId}`, () =>
        this.table.getEntity<{ Record: string }>(partitionOf(clusterId, nodeId), 'hb'),
      );
      return { record: JSON.parse(readText(e, 'Record')) as HeartbeatRecord, etag: e.etag };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /**
   * Writes the heartbeat: one storage request. With `etag` it replaces the row only if unchanged since that read
   * (so two hosts can never both accept the same sequence); without, it creates the row. A lost race is `conflict`.
   */
  async put(record: HeartbeatRecord, etag: string | undefined): Promise<HeartbeatWrite> {
    const entity = {
      partitionKey: partitionOf(record.clusterId, record.nodeId),
      rowKey: 'hb',
      ...textProperties('Record', storedJson(record)),
      Seq: record.seq,
      ReceivedAt: new Date(record.receivedAt),
    };
    try {
      const response = await storageCall(`heartbeat of ${record.clusterId}/${record.nodeId}`, () =>
        etag ? this.table.updateEntity(entity, 'Replace', { etag }) : this.table.createEntity(entity),
      );
      return { ok: true, etag: response.etag ?? '' };
    } catch (error) {
      const status = statusOf(error);
      if (status === 412 || status === 409 || status === 404) return { ok: false, reason: 'conflict' };
      throw error;
    }
  }

  /**
   * Changes the row's ETag without touching what it records (a merge of one `NudgedAt` property), so that the node's
   * next heartbeat loses its conditional write and is answered from a fresh read of the cluster state rather than
   * a cached one: how a promotion or a fence request reaches the node at its very next heartbeat. A node that never
   * sent a heartbeat has no row and needs no nudge.
   */
  async nudge(clusterId: string, nodeId: string, at: number): Promise<void> {
    try {
      await storageCall(`heartbeat of ${clusterId}/${nodeId}`, () =>
        this.table.updateEntity(
          { partitionKey: partitionOf(clusterId, nodeId), rowKey: 'hb', NudgedAt: new Date(at) },
          'Merge',
        ),
      );
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  async listForCluster(clusterId: string): Promise<HeartbeatRecord[]> {
    const filter = `PartitionKey ge '${filterId(clusterId)}~' and PartitionKey lt '${clusterId}~~'`;
    return storageCall(`heartbeats of ${clusterId}`, async () => {
      const out: HeartbeatRecord[] = [];
      const rows = this.table.listEntities<{ Record: string }>({
        queryOptions: {
          filter,
        },
      });
      for await (const e of rows) out.push(JSON.parse(readText(e, 'Record')) as HeartbeatRecord);
      return out;
    });
  }

  /** Deletes a node's heartbeat row (cluster deletion); false when it had none. */
  async delete(clusterId: string, nodeId: string): Promise<boolean> {
    try {
      await storageCall(`heartbeat of ${clusterId}/${nodeId}`, () =>
        this.table.deleteEntity(partitionOf(clusterId, nodeId), 'hb'),
      );
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }
}
