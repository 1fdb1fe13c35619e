import { planPlacement, type PlacementPlan } from '../../domain/spilloverPlan';
import type { Services } from '../../services/services';
import type { SiteHeadroom } from '../../stores/poolStore';
import { mapLimit } from '../../util/mapLimit';
import type { Outcome } from '../common/outcome';
import { findPool } from './findPool';

/** The longest one site's headroom read may take in a dry run: a site that does not answer is not planned. */
export const HEADROOM_READ_MS = 10_000;

/**
 * The dry run (`POST …/pools/{poolId}/plan`): reads each site's headroom now (one provider call per site, 8 at a
 * time, each bounded by `HEADROOM_READ_MS`), keeps it as the pool's "headroom as last read", and answers the plan
 * the planner makes for the demand (the pool's, or `demand` when given) — without provisioning anything. A site
 * whose read failed is in the plan's skipped list (`no-headroom-read`) and its error in `headroom`.
 */
export async function planPool(
  services: Services,
  clusterId: string,
  poolId: string,
  options: { demand?: number } = {},
): Promise<Outcome<{ plan: PlacementPlan; demand: number; headroom: SiteHeadroom[] }>> {
  const found = await findPool(services, clusterId, poolId);
  if (!found.ok) return found;
  const { pool } = found;
  const headroom = await mapLimit(pool.sites, 8, async (site): Promise<SiteHeadroom> => {
    const ref = { cloud: site.cloud, region: site.region, ...(site.zone ? { zone: site.zone } : {}) };
    try {
      const read = await services.providers
        .forSite(ref)
        .headroom(ref, site.size, { abortSignal: AbortSignal.timeout(HEADROOM_READ_MS) });
      return {
        siteId: site.id,
        quotaNodes: read.quotaNodes,
        capacityNodes: read.capacityNodes,
        ...(read.restricted ? { restricted: read.restricted } : {}),
        readAt: services.now(),
      };
    } catch (error) {
      return {
        siteId: site.id,
        quotaNodes: 0,
        capacityNodes: 'unknown',
        readAt: services.now(),
        error: error instanceof Error ? error.message : String(error),
      };
    }
  });
  const now = services.now();
  const state = await services.pools.update(clusterId, poolId, (s) => ({ ...s, headroom }), now);
  const demand = options.demand ?? state.demand?.count ?? pool.desired;
  const plan = planPlacement({
    pool,
    demand,
    placements: state.placements,
    headroom: headroom.filter((h) => h.error === undefined),
    coolDowns: state.coolDowns,
    now,
  });
  return { ok: true, plan, demand, headroom };
}
