import type { TableClient } from '@azure/data-tables';
import type { CommandAckEvent } from '../contracts/agentApi';
import { readText, storedJson, textProperties } from './largeText';
import { storageCall } from './storageCall';
import { filterId, statusOf } from './tableErrors';

/** A recorded acknowledgement: the event as first received, and the agent's message if it sent one. */
export interface CommandAckRecord {
  event: CommandAckEvent;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
}

export type CommandAckInsert =
  | { inserted: true }
  /** A row for this (cluster, node, command) exists: the first acknowledgement is kept and returned. */
  | { inserted: false; existing: CommandAckRecord };

/** One partition per node (`<cluster>~<node>`), like the heartbeats. */
const partitionOf = (clusterId: string, nodeId: string) => `${clusterId}~${nodeId}`;
/** Command ids are free text (up to 200 characters): base64url keeps them out of the characters a key refuses. */
const rowOf = (commandId: string) => Buffer.from(commandId, 'utf8').toString('base64url');

/**
 * Command acknowledgements, one row per (cluster, node, command id), created once: a duplicate or late re-send of an
 * acknowledgement never replaces the first one.
 */
export class CommandAckStore {
  constructor(private readonly table: TableClient) {}

  /** Creates the row unless it exists (one storage request; a second on a duplicate, to read the first). */
  async insertIfAbsent(record: CommandAckRecord): Promise<CommandAckInsert> {
    const { clusterId, nodeId, commandId } = record.event;
    const entity = {
      partitionKey: partitionOf(clusterId, nodeId),
      rowKey: rowOf(commandId),
      ...textProperties('Record', storedJson(record)),
      Epoch: record.event.epoch,
      Outcome: record.event.outcome,
      ReceivedAt: new Date(record.event.receivedAt),
    };
    try {
      await storageCall(`command acknowledgement of ${clusterId}/${nodeId}`, () =>
        this.table.createEntity(entity),
      );
      return { inserted: true };
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
    }
    const existing = await this.get(clusterId, nodeId, commandId);
    // Deleted between the two calls (nothing deletes rows today): the caller's record stands as the first.
    return existing ? { inserted: false, existing } : { inserted: true };
  }

  async get(clusterId: string, nodeId: string, commandId: string): Promise<CommandAckRecord | undefined> {
    try {
      const e = await storageCall(`command acknowledgement of ${clusterId}/${nodeId}`, () =>
        this.table.getEntity<Record<string, unknown>>(partitionOf(clusterId, nodeId), rowOf(commandId)),
      );
      return JSON.parse(readText(e, 'Record')) as CommandAckRecord;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /**
   * Deletes every acknowledgement of a node (cluster deletion): command ids repeat per epoch (`promote-2`), so a
   * cluster declared again under the same name must not find the old cluster's acknowledgements. Returns how many.
   */
  async deleteForNode(clusterId: string, nodeId: string): Promise<number> {
    const partition = partitionOf(clusterId, nodeId);
    return storageCall(`command acknowledgements of ${clusterId}/${nodeId}`, async () => {
      let deleted = 0;
      const rows = this.table.listEntities<{ rowKey: string }>({
        queryOptions: {
          filter: `PartitionKey eq '${filterId(clusterId)}~${filterId(nodeId)}'`,
          select: ['RowKey'],
        },
      });
      for await (const row of rows) {
        try {
          await this.table.deleteEntity(partition, row.rowKey);
          deleted++;
        } catch (error) {
          if (statusOf(error) !== 404) throw error;
        }
      }
      return deleted;
    });
  }
}
