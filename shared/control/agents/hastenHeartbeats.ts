import type { Services } from '../../services/services';

/** How long a shown make-active plan keeps the cluster's agents at the urgent interval: an operator's reading time. */
export const HASTEN_AFTER_PLAN_MS = 60_000;

/**
 * Tells a cluster's agents to heartbeat at the urgent interval until `until` (the state's `hastenUntil`, which the
 * heartbeat answers read), and nudges their heartbeat rows so that each learns it at its next heartbeat rather than
 * after a cached read. Called when a make-active plan is shown: the confirmation that follows then reaches the active
 * within an urgent interval instead of a whole one (the pull model: an agent hears only in heartbeat answers).
 *
 * Best effort: a hint, never a decision. A concurrent state write (a heartbeat extending the lease) is retried
 * once with a fresh read; if that loses too, nothing is hastened and the make-active is merely slower. Returns
 * whether the hint was written. Never lowers an existing `hastenUntil`.
 */
export async function hastenHeartbeats(
  services: Services,
  clusterId: string,
  nodeIds: readonly string[],
  until: number,
): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const stored = await services.clusters.getState(clusterId);
    if (!stored) return false;
    if ((stored.state.hastenUntil ?? 0) >= until) break;
    const write = await services.clusters.replaceState({ ...stored.state, hastenUntil: until }, stored.etag);
    if (write.ok) break;
    if (attempt === 1) return false;
  }
  const now = services.now();
  await Promise.all(nodeIds.map((nodeId) => services.heartbeats.nudge(clusterId, nodeId, now)));
  return true;
}
