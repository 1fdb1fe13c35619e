import { createHash } from 'node:crypto';
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { taskHubNames } from '../../devhost/durable/taskHubNames';

/** A digest of the stored state, and what it covers (for the failure message). */
export interface StateSnapshot {
  digest: string;
  /** `table:<name>` / `blob:<container>` → digest of that part, to name what changed. */
  parts: Record<string, string>;
  /** The rows of each part (entities, blobs) as compared: to show what changed. */
  rows: Record<string, string[]>;
}

/** Reads the control plane's stored state: every table under the prefix and every blob container of the account. */
export interface StateReader {
  snapshot(): Promise<StateSnapshot>;
  /** Whether the durable task hub has no message queued or in flight (nothing will move the state on its own). */
  durableIdle(): Promise<boolean>;
}

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Entity properties that change on every write without meaning anything (the service's own bookkeeping). */
const BOOKKEEPING = new Set(['etag', 'timestamp', 'odata.etag', 'odata.metadata']);

/**
 * An agent request whose signature verified consumes its sequence number even when the request is then refused
 * (shared/control/agents/heartbeatService.ts `consume`, functions/http/agentHttp.ts), so that it cannot be replayed:
 * the node's last accepted sequence number and key version are replay protection, not state the request changed.
 * They are left out of the heartbeat rows (the `Seq` column and the `seq`/`keyVersion` of the `Record` JSON).
 */
function withoutReplayBookkeeping(table: string, entity: Record<string, unknown>): Record<string, unknown> {
  if (table !== 'Heartbeats') return entity;
  const { Seq: _seq, KeyVersion: _keyVersion, ...rest } = entity;
  if (typeof rest.Record === 'string') {
    try {
      const { seq: _s, keyVersion: _k, ...record } = JSON.parse(rest.Record) as Record<string, unknown>;
      rest.Record = JSON.stringify(record);
    } catch {
      // not JSON: compared as it is
    }
  }
  return rest;
}

/**
 * A reader of the state a rejected request must not change: every entity of every table whose name starts with
 * `tablePrefix` (the app's tables; compared by content, without the service's etag and timestamp) and every blob of
 * every container (name, MD5, metadata). The task hub's own tables and queues are not part of it: they hold the
 * durable engine's bookkeeping, which a request moves only through the app (whose tables are compared).
 */
export function stateReader(connectionString: string, tablePrefix: string, hubName: string): StateReader {
  const options = { allowInsecureConnection: true };
  const tables = TableServiceClient.fromConnectionString(connectionString, options);
  const blobs = BlobServiceClient.fromConnectionString(connectionString);
  const queues = QueueServiceClient.fromConnectionString(connectionString);
  const names = taskHubNames(hubName);
  const tableClients = new Map<string, TableClient>();

  async function tablePart(name: string): Promise<string[]> {
    let client = tableClients.get(name);
    if (!client) {
      client = TableClient.fromConnectionString(connectionString, name, options);
      tableClients.set(name, client);
    }
    const rows: string[] = [];
    for await (const entity of client.listEntities()) {
      const kept = Object.entries(withoutReplayBookkeeping(name.slice(tablePrefix.length), entity))
        .filter(([k]) => !BOOKKEEPING.has(k))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      rows.push(
        JSON.stringify(kept, (_k, v: unknown) =>
          v instanceof Date ? v.toISOString() : typeof v === 'bigint' ? `${v}n` : v,
        ),
      );
    }
    return rows.sort();
  }

  async function containerPart(name: string): Promise<string[]> {
    const rows: string[] = [];
    for await (const blob of blobs.getContainerClient(name).listBlobsFlat({ includeMetadata: true })) {
      const md5 = blob.properties.contentMD5
        ? Buffer.from(blob.properties.contentMD5).toString('base64')
        : '';
      rows.push(JSON.stringify([blob.name, md5, blob.properties.contentLength, blob.metadata ?? {}]));
    }
    return rows.sort();
  }

  return {
    async snapshot() {
      const parts: Record<string, string> = {};
      const rows: Record<string, string[]> = {};
      const work: Promise<void>[] = [];
      // An empty table or container is no state (the app creates its tables on first use).
      const keep = (part: string) => (found: string[]) => {
        if (found.length === 0) return;
        rows[part] = found;
        parts[part] = sha(found.join('\n'));
      };
      for await (const table of tables.listTables()) {
        const name = table.name ?? '';
        if (!name.startsWith(tablePrefix)) continue;
        work.push(tablePart(name).then(keep(`table:${name}`)));
      }
      for await (const container of blobs.listContainers()) {
        const name = container.name;
        work.push(containerPart(name).then(keep(`blob:${name}`)));
      }
      await Promise.all(work);
      const keys = Object.keys(parts).sort();
      return { digest: sha(keys.map((k) => `${k}=${parts[k]}`).join('\n')), parts, rows };
    },
    async durableIdle() {
      for (const queue of [names.controlQueue, names.workItemQueue]) {
        const client = queues.getQueueClient(queue);
        if (!(await client.exists())) continue;
        const properties = await client.getProperties();
        if ((properties.approximateMessagesCount ?? 0) > 0) return false;
      }
      return true;
    },
  };
}

/** The parts of two snapshots that differ (added, removed or changed), each with its first changed rows. */
export function changedParts(before: StateSnapshot, after: StateSnapshot): string[] {
  const keys = new Set([...Object.keys(before.parts), ...Object.keys(after.parts)]);
  return [...keys]
    .filter((k) => before.parts[k] !== after.parts[k])
    .sort()
    .map((k) => {
      const was = new Set(before.rows[k] ?? []);
      const now = new Set(after.rows[k] ?? []);
      const removed = [...was].filter((r) => !now.has(r)).slice(0, 2);
      const added = [...now].filter((r) => !was.has(r)).slice(0, 2);
      const cut = (r: string) => (r.length > 600 ? `${r.slice(0, 600)}…` : r);
      return `${k}: ${[...removed.map((r) => `- ${cut(r)}`), ...added.map((r) => `+ ${cut(r)}`)].join(' ')}`;
    });
}
