import { MAX_POOL_DEMAND } from '../../contracts/operationsRequests';
import type { Services } from '../../services/services';
import type { Outcome } from '../common/outcome';
import { findPool } from './findPool';
import { buildPoolView, type PoolView } from './poolView';

/**
 * `PUT …/pools/{poolId}/demand`: records the desired node count (`desired`, or `change` relative to the current
 * demand, applied under If-Match so concurrent changes add up) (it overrides the document's `desired` until set
 * again; re-declaring the document does not reset it) and audits who set it. Setting the same count again changes
 * nothing but the time.
 */
export async function setPoolDemand(
  services: Services,
  clusterId: string,
  poolId: string,
  demand: { desired: number } | { change: number },
  actor: string,
): Promise<Outcome<{ view: PoolView; previous: number; demand: number }>> {
  const found = await findPool(services, clusterId, poolId);
  if (!found.ok) return found;
  const now = services.now();
  let previous = found.pool.desired;
  let count = 0;
  const state = await services.pools.update(
    clusterId,
    poolId,
    (s) => {
      previous = s.demand?.count ?? found.pool.desired;
      count =
        'desired' in demand
          ? demand.desired
          : Math.max(0, Math.min(MAX_POOL_DEMAND, previous + demand.change));
      return { ...s, demand: { count, setAt: now, setBy: actor } };
    },
    now,
  );
  await services.audit.append({
    clusterId,
    at: now,
    actor,
    action: 'pool-demand-set',
    detail: { poolId, demand: count, previous, ...('change' in demand ? { change: demand.change } : {}) },
  });
  return { ok: true, view: buildPoolView(clusterId, found.pool, state, now), previous, demand: count };
}
