import { planPlacement, type PlacementPlan } from '../../domain/spilloverPlan';
import type { Services } from '../../services/services';
import type { SiteHeadroom } from '../../stores/poolStore';
import { mergeHeadroom, readHeadroom } from './readHeadroom';
import type { Outcome } from '../common/outcome';
import { findPool } from './findPool';

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
  const headroom = await readHeadroom(services, pool.sites);
  const now = services.now();
  const state = await services.pools.update(
    clusterId,
    poolId,
    (s) => ({ ...s, headroom: mergeHeadroom(s.headroom, headroom) }),
    now,
  );
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
