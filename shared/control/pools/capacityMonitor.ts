import type { Pool } from '../../domain/clusterDocument';
import { spillBackMoves } from '../../domain/spillover';
import { planPlacement, preferenceOrder } from '../../domain/spilloverPlan';
import type { Services } from '../../services/services';
import type { PoolState } from '../../stores/poolStore';
import { headroomNow } from './spilloverActivities';
import { mergeHeadroom, readHeadroom } from './readHeadroom';

/** A site's headroom is read again by the monitor only when its last read is older than this. */
export const MONITOR_READ_AGE_MS = 5 * 60_000;
/** Headroom reads per monitor round, over all pools (the providers' request budgets are shared with everything else). */
export const MONITOR_READS_PER_ROUND = 48;

export interface MonitorStart {
  clusterId: string;
  poolId: string;
  reason: string;
}

export interface MonitorRound {
  /** Pools looked at (a shortfall, or idle nodes in spilled sites). */
  checked: number;
  reads: number;
  started: MonitorStart[];
  /** Pools left for a later round: the read budget was spent. */
  deferred: number;
  failed: { clusterId: string; poolId: string; error: string }[];
}

interface Candidate {
  clusterId: string;
  pool: Pool;
  state: PoolState;
  why: 'shortfall' | 'spill-back';
  /** Sites to read: not cooling down, read long enough ago. */
  sites: Pool['sites'];
  oldestRead: number;
}

/**
 * The capacity monitor's round: for every pool with a shortfall (that a spillover run has placed before, with no
 * run under way), re-read the headroom of the
 * sites that are not cooling down and were not read recently, and start a spillover run when the planner would now
 * place a node anywhere; for every pool whose demand is met but that has idle nodes in less preferred sites, do the
 * same for the sites they could move back to. At most `MONITOR_READS_PER_ROUND` reads per round, the pools whose
 * headroom is oldest first; the rest wait for the next round.
 */
export async function runCapacityMonitor(
  services: Services,
  start: (request: MonitorStart) => Promise<unknown>,
  options: { readsPerRound?: number; readAgeMs?: number } = {},
): Promise<MonitorRound> {
  const budget = options.readsPerRound ?? MONITOR_READS_PER_ROUND;
  const readAge = options.readAgeMs ?? MONITOR_READ_AGE_MS;
  const now = services.now();
  const round: MonitorRound = { checked: 0, reads: 0, started: [], deferred: 0, failed: [] };
  const candidates: Candidate[] = [];
  for (const { document } of await services.clusters.listDocuments()) {
    for (const pool of document.pools ?? []) {
      const state = (await services.pools.get(document.id, pool.id))?.state;
      // Only pools a run has placed (a dry run or a document alone provisions nothing), and not while one runs.
      if (!state || state.running || !state.lastRun) continue;
      const demand = state.demand?.count ?? pool.desired;
      const placed = state.placements.reduce((sum, p) => sum + p.count, 0);
      const ordered = preferenceOrder(pool.sites);
      const readable = (site: Pool['sites'][number]) =>
        !state.coolDowns.some((c) => c.siteId === site.id && c.until > now) &&
        now - (state.headroom.find((h) => h.siteId === site.id)?.readAt ?? 0) >= readAge;
      let why: Candidate['why'] | undefined;
      let sites: Pool['sites'] = [];
      if (placed < demand) {
        why = 'shortfall';
        sites = pool.sites.filter(readable);
      } else {
        // Spilled: nodes placed below the most preferred site that has any. Only then are the records worth reading.
        const used = ordered.filter((s) => state.placements.some((p) => p.siteId === s.id && p.count > 0));
        const worst = used[used.length - 1];
        if (worst && ordered.indexOf(worst) > 0) {
          const idle = (await services.placements.list(document.id, pool.id)).some(
            (r) => r.idleSince !== undefined && r.siteId !== ordered[0]?.id,
          );
          if (idle) {
            why = 'spill-back';
            sites = ordered.slice(0, ordered.indexOf(worst)).filter(readable);
          }
        }
      }
      if (!why || sites.length === 0) continue;
      const oldestRead = Math.min(
        ...sites.map((s) => state.headroom.find((h) => h.siteId === s.id)?.readAt ?? 0),
      );
      candidates.push({ clusterId: document.id, pool, state, why, sites, oldestRead });
    }
  }
  candidates.sort((a, b) => a.oldestRead - b.oldestRead || a.clusterId.localeCompare(b.clusterId));
  for (const c of candidates) {
    if (round.reads + c.sites.length > budget) {
      round.deferred++;
      continue;
    }
    round.checked++;
    round.reads += c.sites.length;
    try {
      const read = await readHeadroom(services, c.sites);
      const state = await services.pools.update(
        c.clusterId,
        c.pool.id,
        (s) => ({ ...s, headroom: mergeHeadroom(s.headroom, read) }),
        services.now(),
      );
      const records = await services.placements.list(c.clusterId, c.pool.id);
      const headroom = headroomNow(state, records);
      const at = services.now();
      let reason: string | undefined;
      if (c.why === 'shortfall') {
        const plan = planPlacement({
          pool: c.pool,
          demand: state.demand?.count ?? c.pool.desired,
          placements: state.placements,
          headroom,
          coolDowns: state.coolDowns,
          now: at,
        });
        if (plan.add.length > 0)
          reason = `capacity monitor: room for ${plan.add.map((a) => `${a.count} in ${a.siteId}`).join(', ')}`;
      } else {
        const moves = spillBackMoves({
          pool: c.pool,
          nodes: records.map((r) => ({
            nodeId: r.nodeId,
            siteId: r.siteId,
            ...(r.idleSince !== undefined ? { idleSince: r.idleSince } : {}),
          })),
          headroom,
          coolDowns: state.coolDowns,
          now: at,
          batch: c.pool.spillBackBatch ?? 4,
        });
        if (moves.length > 0)
          reason = `capacity monitor: room returned for a spill-back (${moves.map((m) => `${m.nodeIds.length} ${m.from} → ${m.to}`).join(', ')})`;
      }
      if (reason) {
        const request = { clusterId: c.clusterId, poolId: c.pool.id, reason };
        await start(request);
        round.started.push(request);
      }
    } catch (error) {
      round.failed.push({
        clusterId: c.clusterId,
        poolId: c.pool.id,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return round;
}
