import type { TableClient } from '@azure/data-tables';
import type { StorageConnection } from '../config/storageConnection';
import { createTableClient, type StorageClientOptions } from './storageClients';

/** The control plane's tables. A prefix isolates one deployment (or one test) from another in the same account. */
export interface TableNames {
  clusters: string;
  clusterState: string;
  heartbeats: string;
  operations: string;
  audit: string;
  commandAcks: string;
  /** Signed failover webhooks already acted on, one row per `webhook-id` (replay protection). */
  webhookReplay: string;
  /** Drill reports' index (newest first per cluster); the reports themselves are blobs. */
  drills: string;
  /** Scheduled drill slots claimed, one row per (cluster, slot): how a slot starts one drill across hosts. */
  drillSlots: string;
  /** Capacity pools' live state (demand set by operators, headroom as last read, cool-downs), one row per pool. */
  pools: string;
  /** Where every pool node went and why: one placement record per node (partition = cluster). */
  placements: string;
}

export function tableNames(prefix = ''): TableNames {
  if (prefix && !/^[A-Za-z][A-Za-z0-9]{0,30}$/.test(prefix))
    throw new Error(`table prefix "${prefix}" must be letters and digits`);
  return {
    clusters: `${prefix}Clusters`,
    clusterState: `${prefix}ClusterState`,
    heartbeats: `${prefix}Heartbeats`,
    operations: `${prefix}Operations`,
    audit: `${prefix}Audit`,
    commandAcks: `${prefix}CommandAcks`,
    webhookReplay: `${prefix}WebhookReplay`,
    drills: `${prefix}Drills`,
    drillSlots: `${prefix}DrillSlots`,
    pools: `${prefix}Pools`,
    placements: `${prefix}Placements`,
  };
}

export type TableClients = { [K in keyof TableNames]: TableClient };

/**
 * A client per table of the state account: from a connection string (Azurite locally: plain HTTP allowed) or an
 * identity-based connection (the table service URI and a managed identity's tokens). A bare string is a connection
 * string. `options` carries what tests inject (a credential, an HTTP transport); never the environment.
 */
export function createTableClients(
  connection: StorageConnection | string,
  names: TableNames,
  options: StorageClientOptions = {},
): TableClients {
  const resolved: StorageConnection =
    typeof connection === 'string' ? { kind: 'connectionString', value: connection } : connection;
  const client = (table: string) => createTableClient(resolved, table, options);
  return {
    clusters: client(names.clusters),
    clusterState: client(names.clusterState),
    heartbeats: client(names.heartbeats),
    operations: client(names.operations),
    audit: client(names.audit),
    commandAcks: client(names.commandAcks),
    webhookReplay: client(names.webhookReplay),
    drills: client(names.drills),
    drillSlots: client(names.drillSlots),
    pools: client(names.pools),
    placements: client(names.placements),
  };
}

/** Creates every table (an existing table is fine). */
export async function ensureTables(clients: TableClients): Promise<void> {
  await Promise.all(Object.values(clients).map((c: TableClient) => c.createTable()));
}
