import type { Services } from '../../services/services';
import type { Outcome } from '../common/outcome';
import { findPool } from './findPool';
import { buildPoolView, type PoolView } from './poolView';

/**
 * `PUT …/pools/{poolId}/demand`: records the desired node count (it overrides the document's `desired` until set
 * again; re-declaring the document does not reset it) and audits who set it. Setting the same count again changes
 * nothing but the time.
 */
export async function setPoolDemand(
  services: Services,
  clusterId: string,
  poolId: string,
  count: number,
  actor: string,
): Promise<Outcome<{ view: PoolView; previous: number }>> {
  const found = await findPool(services, clusterId, poolId);
  if (!found.ok) return found;
  const now = services.now();
  let previous = found.pool.desired;
  const state = await services.pools.update(
    clusterId,
    poolId,
    (s) => {
      previous = s.demand?.count ?? found.pool.desired;
      return { ...s, demand: { count, setAt: now, setBy: actor } };
    },
    now,
  );
  await services.audit.append({
    clusterId,
    at: now,
    actor,
    action: 'pool-demand-set',
    detail: { poolId, demand: count, previous },
  });
  return { ok: true, view: buildPoolView(clusterId, found.pool, state, now), previous };
}
