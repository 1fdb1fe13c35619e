import type { TableClient } from '@azure/data-tables';
import { ConcurrencyError } from '../errors';
import { readText, storedJson, textProperties } from './largeText';
import { storageCall } from './storageCall';
import { statusOf } from './tableErrors';

/** What a site could take when its headroom was last read (or why it could not be read). */
export interface SiteHeadroom {
  siteId: string;
  /** How many more nodes of the site's size the quota allows. */
  quotaNodes: number;
  /** Capacity where the cloud reports it (OCI capacity reports), else `unknown`. */
  capacityNodes: number | 'unknown';
  /** A restriction ruling the size out there (Azure SKU restrictions). */
  restricted?: string;
  readAt: number;
  /** The read failed: why (the site is then not planned). */
  error?: string;
}

/** A (site, size) that failed to provision, left alone until `until`. */
export interface SiteCoolDown {
  siteId: string;
  until: number;
  /** The error kind: allocationFailed, quota, zonalRestriction, sizeNotOffered, throttled. */
  kind: string;
  reason: string;
}

/** The live state of a capacity pool: what the document does not say and operators and spillovers change. */
export interface PoolState {
  clusterId: string;
  poolId: string;
  /** Set with `PUT …/pools/{poolId}/demand` (absent: the document's `desired`). */
  demand?: { count: number; setAt: number; setBy: string };
  headroom: SiteHeadroom[];
  coolDowns: SiteCoolDown[];
  /** Nodes placed per site (placement records summed; none before the first spillover). */
  placements: { siteId: string; count: number }[];
  /** The spillover run under way (set when it begins, cleared when it ends). */
  running?: { operationId: string; startedAt: number };
  /** The last spillover run that ended: its operation, when, and how many it could not place. */
  lastRun?: { operationId: string; endedAt: number; shortfall: number; reason: string };
  updatedAt: number;
}

const rowOf = (poolId: string) => `pool-${poolId}`;

/** One row per pool (partition = cluster id), changed with If-Match so two writers never lose each other's change. */
export class PoolStore {
  constructor(private readonly table: TableClient) {}

  async get(clusterId: string, poolId: string): Promise<{ state: PoolState; etag: string } | undefined> {
    try {
      const e = await storageCall(`pool ${clusterId}/${poolId}`, () =>
        this.table.getEntity<Record<string, unknown>>(clusterId, rowOf(poolId)),
      );
      return { state: JSON.parse(readText(e, 'State')) as PoolState, etag: e.etag };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /**
   * Applies `change` to the stored state (or to `empty` when there is none) and writes it conditionally, re-reading
   * and re-applying on a lost race. `change` must be idempotent. Returns the state written.
   */
  async update(
    clusterId: string,
    poolId: string,
    change: (state: PoolState) => PoolState,
    now: number,
  ): Promise<PoolState> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const stored = await this.get(clusterId, poolId);
      const current: PoolState = stored?.state ?? {
        clusterId,
        poolId,
        headroom: [],
        coolDowns: [],
        placements: [],
        updatedAt: now,
      };
      const next = { ...change(current), updatedAt: now };
      const entity = {
        partitionKey: clusterId,
        rowKey: rowOf(poolId),
        ...textProperties('State', storedJson(next)),
      };
      try {
        await storageCall(`pool ${clusterId}/${poolId}`, () =>
          stored
            ? this.table.updateEntity(entity, 'Replace', { etag: stored.etag })
            : this.table.createEntity(entity),
        );
        return next;
      } catch (error) {
        const status = statusOf(error);
        if (status !== 412 && status !== 409) throw error;
      }
    }
    throw new ConcurrencyError(`pool ${poolId} of ${clusterId} kept changing; retry`);
  }

  /** Deletes a pool's live state (cluster deletion); false when it had none. */
  async delete(clusterId: string, poolId: string): Promise<boolean> {
    try {
      await storageCall(`pool ${clusterId}/${poolId}`, () =>
        this.table.deleteEntity(clusterId, rowOf(poolId)),
      );
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }
}
