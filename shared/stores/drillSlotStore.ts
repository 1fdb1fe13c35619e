import type { TableClient } from '@azure/data-tables';
import { storageCall } from './storageCall';
import { filterId, statusOf } from './tableErrors';

const MAX_TIME = 9_999_999_999_999;
const SLOT_ROW = /^slot-(\d{13})$/;

/** Newest first: a partition's rows come back in row-key order, so the first row is the latest slot claimed. */
const rowKeyOf = (slot: number) => `slot-${String(MAX_TIME - Math.trunc(slot)).padStart(13, '0')}`;

function slotOf(rowKey: string | undefined): number | undefined {
  const match = SLOT_ROW.exec(rowKey ?? '');
  return match ? MAX_TIME - Number(match[1]) : undefined;
}

/**
 * Schedule slots claimed, one row per (cluster, slot): partition the cluster id, row key the slot inverted
 * (`slot-<MAX - ms>`), so a cluster's latest claim is the first row of its partition. A claim is an insert: of any
 * number of hosts claiming one slot at once exactly one inserts (the others get 409), which is how a slot starts one
 * drill however many hosts run the timer. There is no separate "last" row to keep in step (no If-Match loop, no
 * window where the claim and the "last" disagree); `lastClaimed` is one query returning one row. Rows are small and
 * never rewritten; one accumulates per slot actually claimed.
 */
export class DrillSlotStore {
  constructor(private readonly table: TableClient) {}

  /** True when this caller inserted the claim of `slot` (it starts the drill); false when the slot was claimed. */
  async claim(clusterId: string, slot: number, claimedBy: string): Promise<boolean> {
    try {
      await storageCall(`drill schedule of ${clusterId}`, () =>
        this.table.createEntity({
          partitionKey: clusterId,
          rowKey: rowKeyOf(slot),
          Slot: new Date(slot).toISOString(),
          ClaimedBy: claimedBy,
        }),
      );
      return true;
    } catch (error) {
      if (statusOf(error) === 409) return false;
      throw error;
    }
  }

  /** The latest slot (ms) claimed for the cluster, or undefined when none was. */
  async lastClaimed(clusterId: string): Promise<number | undefined> {
    const filter = `PartitionKey eq '${filterId(clusterId)}'`;
    return storageCall(`drill schedule of ${clusterId}`, async () => {
      const pages = this.table
        .listEntities<{ rowKey: string }>({ queryOptions: { filter, select: ['RowKey'] } })
        .byPage({ maxPageSize: 1 });
      // The service may answer a page that is empty but continued: the first row is on the first non-empty page.
      for await (const page of pages) if (page.length > 0) return slotOf(page[0]?.rowKey);
      return undefined;
    });
  }

  /**
   * Gives a claimed slot back (a start that failed for a temporary reason), so a later round may claim and start
   * it again. Releasing a slot that is not claimed is not an error.
   */
  async release(clusterId: string, slot: number): Promise<void> {
    try {
      await storageCall(`drill schedule of ${clusterId}`, () =>
        this.table.deleteEntity(clusterId, rowKeyOf(slot)),
      );
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }
}
