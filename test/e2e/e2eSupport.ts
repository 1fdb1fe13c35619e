import type { LocalStack } from '../helpers/localStack';

/**
 * A fast detection policy for the end-to-end tests: heartbeats every 250 ms, a failure after 6 missed (1.5 s), a
 * 2 s lease. Roomier than the tightest policy so that a loaded 2-core machine does not miss heartbeats by accident.
 */
export const FAST = { heartbeatIntervalMs: 250, missedHeartbeats: 6, leaseMs: 2000, driftMarginMs: 250 };

/**
 * Waits until `nodeId` is the active under `epoch` as the control plane sees it — and as its agent reports it (a
 * heartbeat as the active under that epoch) — and each of `standbys` heartbeats as a standby. Returns the status.
 */
export async function activeUnder(
  stack: LocalStack,
  clusterId: string,
  nodeId: string,
  epoch: number,
  standbys: string[] = [],
  timeoutMs = 30_000,
): Promise<any> {
  return stack.until(
    `${nodeId} active under epoch ${epoch} in ${clusterId}`,
    () => stack.status(clusterId),
    (s) => {
      const node = (id: string) => (s.nodes as { nodeId: string }[]).find((n) => n.nodeId === id) as any;
      return (
        s.epoch === epoch &&
        s.activeNodeId === nodeId &&
        s.leaseExpiresAt !== null &&
        node(nodeId)?.reportedRole === 'active' &&
        node(nodeId)?.reportedEpoch === epoch &&
        standbys.every((id) => node(id)?.reportedRole === 'standby')
      );
    },
    timeoutMs,
  );
}
