import { peerLeasesOn, type ClusterDocument } from '../../domain/clusterDocument';
import { initialClusterState, type ClusterState, type DetectionPolicyCopy } from '../../domain/clusterState';
import { promotableSet } from '../../domain/peerPromises';

/** What the failure detector needs of the document, copied into the state (ARCHITECTURE.md "Detection at scale"). */
export const policyCopy = (
  document: Pick<ClusterDocument, 'detection' | 'failover'>,
): DetectionPolicyCopy => ({
  heartbeatIntervalMs: document.detection.heartbeatIntervalMs,
  missedHeartbeats: document.detection.missedHeartbeats,
  ...(document.failover.mode === 'manual' ? { manual: true } : {}),
});

/** The state of a cluster declared with `activeNodeId` active: epoch 1, the policy copy, the epoch's promotable set. */
export const initialStateFor = (
  document: Pick<ClusterDocument, 'id' | 'nodes' | 'detection' | 'failover'>,
  activeNodeId: string,
  now: number,
): ClusterState =>
  initialClusterState(
    document.id,
    activeNodeId,
    now,
    policyCopy(document),
    epochPromotable(document, activeNodeId),
  );

/**
 * The promotable set a new epoch records when `activeNodeId` holds the active role under it (peer promises, issue
 * 15): every node of the document but the active, sorted; undefined when the document turns peer leases off
 * (`detection.peerLeases: false`), so the state records no set and no grant carries one.
 */
export function epochPromotable(
  document: Pick<ClusterDocument, 'nodes' | 'detection'>,
  activeNodeId: string,
): string[] | undefined {
  if (!peerLeasesOn(document.detection)) return undefined;
  return promotableSet(
    document.nodes.map((n) => n.id),
    activeNodeId,
  );
}

/**
 * The most nodes a heartbeat answer lists in `peers` (the reply schema's bound): a larger promotable set is not sent
 * at all — an active given part of the set could count promises from only some promotable nodes — so the active of
 * such a cluster holds no peer lease (it self-fences on losing the control plane, as without peer leases).
 */
export const MAX_REPLY_PEERS = 64;
