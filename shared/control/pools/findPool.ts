import type { ClusterDocument, Pool } from '../../domain/clusterDocument';
import type { Services } from '../../services/services';
import { refuse, type Outcome } from '../common/outcome';

/** The cluster's document and the pool it declares under `poolId`: `ClusterNotFound` or `PoolNotFound` otherwise. */
export async function findPool(
  services: Services,
  clusterId: string,
  poolId: string,
): Promise<Outcome<{ document: ClusterDocument; pool: Pool }>> {
  const stored = await services.clusters.getDocument(clusterId);
  if (!stored) return refuse('not-found', 'ClusterNotFound', `cluster ${clusterId} is not declared`);
  const pool = stored.document.pools?.find((p) => p.id === poolId);
  if (!pool)
    return refuse(
      'not-found',
      'PoolNotFound',
      `cluster ${clusterId} declares no pool ${poolId} (pools: ${(stored.document.pools ?? []).map((p) => p.id).join(', ') || 'none'})`,
    );
  return { ok: true, document: stored.document, pool };
}
