import type { Services } from '../../services/services';
import type { PlacementRecord } from '../../stores/placementStore';
import { refuse, type Outcome } from '../common/outcome';
import { findPool } from './findPool';

/** A placement record as the API shows it (times as ISO strings). */
export interface PoolNodeView {
  nodeId: string;
  siteId: string;
  cloud: string;
  region: string;
  zone: string | null;
  size: string;
  resourceId: string;
  status: PlacementRecord['status'];
  reason: string;
  placedAt: string;
  operationId: string;
  idleSince: string | null;
  removedAt: string | null;
  removeReason: string | null;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function toPoolNodeView(r: PlacementRecord): PoolNodeView {
  return {
    nodeId: r.nodeId,
    siteId: r.siteId,
    cloud: r.cloud,
    region: r.region,
    zone: r.zone ?? null,
    size: r.size,
    resourceId: r.resourceId,
    status: r.status,
    reason: r.reason,
    placedAt: iso(r.placedAt) ?? '',
    operationId: r.operationId,
    idleSince: iso(r.idleSince),
    removedAt: iso(r.removedAt),
    removeReason: r.removeReason ?? null,
  };
}

/** `GET …/pools/{poolId}/nodes[?all=true]`: where every node went and why (removed ones too with `all`). */
export async function listPoolNodes(
  services: Services,
  clusterId: string,
  poolId: string,
  options: { includeRemoved?: boolean } = {},
): Promise<Outcome<{ nodes: PoolNodeView[] }>> {
  const found = await findPool(services, clusterId, poolId);
  if (!found.ok) return found;
  const records = await services.placements.list(clusterId, poolId, options);
  return { ok: true, nodes: records.map(toPoolNodeView) };
}

/**
 * `PUT …/pools/{poolId}/nodes/{nodeId}/idle {idle}`: marks a running node idle (a spill-back may then move it to a
 * more preferred site, and a scale-in takes idle nodes first) or busy again. Audited.
 */
export async function setPoolNodeIdle(
  services: Services,
  clusterId: string,
  poolId: string,
  nodeId: string,
  idle: boolean,
  actor: string,
): Promise<Outcome<{ node: PoolNodeView }>> {
  const found = await findPool(services, clusterId, poolId);
  if (!found.ok) return found;
  const now = services.now();
  const record = await services.placements.setIdle(clusterId, poolId, nodeId, idle, now);
  if (!record)
    return refuse(
      'not-found',
      'NodeNotFound',
      `pool ${poolId} of ${clusterId} has no running node ${nodeId}`,
    );
  await services.audit.append({
    clusterId,
    at: now,
    actor,
    action: 'pool-node-idle-set',
    detail: { poolId, nodeId, idle },
  });
  return { ok: true, node: toPoolNodeView(record) };
}
