import type { Pool } from '../../domain/clusterDocument';
import type { Services } from '../../services/services';
import type { PoolState, SiteCoolDown, SiteHeadroom } from '../../stores/poolStore';
import type { Outcome } from '../common/outcome';
import { findPool } from './findPool';

/** What `GET …/pools/{poolId}` answers. */
export interface PoolView {
  clusterId: string;
  poolId: string;
  /** The desired node count: set by `PUT …/demand`, else the document's `desired`. */
  demand: number;
  demandSource: 'api' | 'document';
  demandSetAt: string | null;
  demandSetBy: string | null;
  /** Per site, in the document's order: placed nodes, headroom as last read, a cool-down in force. */
  sites: {
    siteId: string;
    cloud: string;
    region: string;
    zone: string | null;
    size: string;
    placed: number;
    headroom: (Omit<SiteHeadroom, 'siteId' | 'readAt'> & { readAt: string }) | null;
    coolingDown: (Omit<SiteCoolDown, 'siteId' | 'until'> & { until: string }) | null;
  }[];
  placed: number;
  /** Demand not placed (0 when met). */
  shortfall: number;
  /** The spillover run under way (its operation id), null when none runs. */
  runningOperation: string | null;
  /** The last spillover run that ended: its operation, when, what it could not place, and why. */
  lastRun: { operationId: string; endedAt: string; shortfall: number; reason: string } | null;
  at: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The pool's view from its declaration and its live state (pure). */
export function buildPoolView(
  clusterId: string,
  pool: Pool,
  state: PoolState | undefined,
  now: number,
): PoolView {
  const placedAt = (siteId: string) => state?.placements.find((p) => p.siteId === siteId)?.count ?? 0;
  const demand = state?.demand?.count ?? pool.desired;
  const sites = pool.sites.map((site) => {
    const headroom = state?.headroom.find((h) => h.siteId === site.id);
    const cooling = state?.coolDowns.find((c) => c.siteId === site.id && c.until > now);
    return {
      siteId: site.id,
      cloud: site.cloud,
      region: site.region,
      zone: site.zone ?? null,
      size: site.size,
      placed: placedAt(site.id),
      headroom: headroom
        ? {
            quotaNodes: headroom.quotaNodes,
            capacityNodes: headroom.capacityNodes,
            ...(headroom.restricted ? { restricted: headroom.restricted } : {}),
            ...(headroom.error ? { error: headroom.error } : {}),
            readAt: iso(headroom.readAt),
          }
        : null,
      coolingDown: cooling ? { kind: cooling.kind, reason: cooling.reason, until: iso(cooling.until) } : null,
    };
  });
  const placed = sites.reduce((sum, s) => sum + s.placed, 0);
  return {
    clusterId,
    poolId: pool.id,
    demand,
    demandSource: state?.demand ? 'api' : 'document',
    demandSetAt: state?.demand ? iso(state.demand.setAt) : null,
    demandSetBy: state?.demand?.setBy ?? null,
    sites,
    placed,
    shortfall: Math.max(0, demand - placed),
    runningOperation: state?.running?.operationId ?? null,
    lastRun: state?.lastRun ? { ...state.lastRun, endedAt: iso(state.lastRun.endedAt) } : null,
    at: iso(now),
  };
}

/** `GET …/pools/{poolId}`: `ClusterNotFound` / `PoolNotFound`, else the view. */
export async function poolView(
  services: Services,
  clusterId: string,
  poolId: string,
): Promise<Outcome<{ view: PoolView }>> {
  const found = await findPool(services, clusterId, poolId);
  if (!found.ok) return found;
  const state = (await services.pools.get(clusterId, poolId))?.state;
  return { ok: true, view: buildPoolView(clusterId, found.pool, state, services.now()) };
}
