import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { continuationAfter, rowKeyOf } from './continuation';
import { storageCall } from './storageCall';
import { filterId } from './tableErrors';

export interface AuditEntry {
  clusterId: string;
  at: number;
  /** Who: `admin`, `node:<id>`, `controller`. */
  actor: string;
  action: string;
  detail: Record<string, unknown>;
}

const MAX_TIME = 9_999_999_999_999;
const AUDIT_ROW = /^\d{13}-[0-9a-f-]{36}$/;

/** Append-only: entries are only ever created, keyed newest-first, never updated or deleted by the control plane. */
export class AuditLog {
  constructor(private readonly table: TableClient) {}

  async append(entry: AuditEntry): Promise<void> {
    const rowKey = `${String(MAX_TIME - entry.at).padStart(13, '0')}-${randomUUID()}`;
    await storageCall(`audit log of ${entry.clusterId}`, () =>
      this.table.createEntity({ partitionKey: entry.clusterId, rowKey, Entry: JSON.stringify(entry) }),
    );
  }

  /** Whether `token` is a continuation this log handed out for the cluster. */
  static isContinuation(token: string): boolean {
    return rowKeyOf(token, AUDIT_ROW) !== undefined;
  }

  /** A cluster's entries, newest first, `limit` at a time (check a client's token with `isContinuation`). */
  async page(
    clusterId: string,
    options: { limit?: number; continuation?: string } = {},
  ): Promise<{ entries: AuditEntry[]; continuation?: string }> {
    const limit = options.limit ?? 50;
    const after = options.continuation ? rowKeyOf(options.continuation, AUDIT_ROW) : undefined;
    if (options.continuation && !after) throw new RangeError('not a continuation of this list');
    const filter = `PartitionKey eq '${filterId(clusterId)}'${after ? ` and RowKey gt '${after}'` : ''}`;
    const rows = await storageCall(`audit log of ${clusterId}`, async () => {
      const pages = this.table
        .listEntities<{ rowKey: string; Entry: string }>({ queryOptions: { filter } })
        .byPage({ maxPageSize: limit + 1 });
      const first = await pages.next();
      return first.done ? [] : first.value;
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      entries: page.map((e) => JSON.parse(e.Entry) as AuditEntry),
      ...(rows.length > limit && last ? { continuation: continuationAfter(last.rowKey) } : {}),
    };
  }

  async recent(clusterId: string, max = 50): Promise<AuditEntry[]> {
    const filter = `PartitionKey eq '${filterId(clusterId)}'`;
    return storageCall(`audit log of ${clusterId}`, async () => {
      const pages = this.table
        .listEntities<{ Entry: string }>({
          queryOptions: { filter },
        })
        .byPage({ maxPageSize: max });
      const first = await pages.next();
      return first.done ? [] : first.value.map((e) => JSON.parse(e.Entry) as AuditEntry);
    });
  }
}
