import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
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

/** Append-only: entries are only ever created, keyed newest-first, never updated or deleted by the control plane. */
export class AuditLog {
  constructor(private readonly table: TableClient) {}

  async append(entry: AuditEntry): Promise<void> {
    const rowKey = `${String(MAX_TIME - entry.at).padStart(13, '0')}-${randomUUID()}`;
    await storageCall(`audit log of ${entry.clusterId}`, () =>
      this.table.createEntity({ partitionKey: entry.clusterId, rowKey, Entry: JSON.stringify(entry) }),
    );
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
