import type { ClusterState } from './clusterState';

/**
 * The decision rules of the safety protocol (design.md "Safety"). Pure: state, time and evidence in, decision out.
 * The heartbeat handler, the failover orchestration, arbitration and the simulation all call these, so the
 * simulation proves the rules the product runs.
 */

export type LeaseDecision =
  | { granted: true; state: ClusterState; leaseMs: number }
  | { granted: false; reason: 'not-active' | 'epoch-ahead' | 'revoked' };

/**
 * Rule 2: a lease is granted only to the active node of the current, unrevoked epoch. The node may still report an
 * older epoch (it learns the current one from this answer: that is how a promotion reaches it); a node reporting a
 * newer epoch than the state is refused. The recorded expiry is measured from `now` (the control plane's receive
 * time); the agent measures its own from its send time, so the agent's lease always ends first.
 */
export function grantLease(
  state: ClusterState,
  nodeId: string,
  epoch: number,
  now: number,
  leaseMs: number,
): LeaseDecision {
  if (state.activeNodeId !== nodeId) return { granted: false, reason: 'not-active' };
  if (epoch > state.epoch) return { granted: false, reason: 'epoch-ahead' };
  if (state.revoked) return { granted: false, reason: 'revoked' };
  const expiry = Math.max(state.leaseExpiresAt ?? 0, now + leaseMs);
  return { granted: true, leaseMs, state: { ...state, leaseExpiresAt: expiry, updatedAt: now } };
}

/** Stops all grants under the current epoch. Committed with If-Match: no grant can follow it. */
export function revoke(state: ClusterState, now: number, reason: string): ClusterState {
  if (state.revoked) return state;
  return { ...state, revoked: true, fenced: false, updatedAt: now, reason };
}

/** The old active is confirmed stopped (cloud power state) or demoted (its agent acknowledged under this epoch). */
export function confirmFenced(state: ClusterState, now: number, evidence: string): ClusterState {
  if (!state.revoked) throw new Error('fencing is only meaningful after the epoch was revoked');
  return { ...state, fenced: true, updatedAt: now, reason: evidence };
}

/** When the lease of a revoked epoch is certainly over, allowing for clock drift. */
export function oldLeaseEndsAt(state: ClusterState, driftMarginMs: number): number {
  return state.leaseExpiresAt === null ? state.updatedAt : state.leaseExpiresAt + driftMarginMs;
}

export type PromotionDecision = { allowed: true } | { allowed: false; reason: string; retryAt?: number };

/**
 * Rule 3: a standby may be promoted under epoch E+1 only after the revocation of E has committed and either the old
 * active is confirmed fenced or its recorded lease expiry plus the drift margin has passed.
 */
export function mayPromote(state: ClusterState, now: number, driftMarginMs: number): PromotionDecision {
  if (!state.revoked && state.activeNodeId !== null) {
    return { allowed: false, reason: `epoch ${state.epoch} is not revoked: revoke it first` };
  }
  if (state.fenced || state.leaseExpiresAt === null) return { allowed: true };
  const endsAt = oldLeaseEndsAt(state, driftMarginMs);
  if (now >= endsAt) return { allowed: true };
  return {
    allowed: false,
    reason: `the old active's lease may run until ${new Date(endsAt).toISOString()}`,
    retryAt: endsAt,
  };
}

/** Raises the epoch and names the new active. Throws when `mayPromote` says no: callers must check first. */
export function promote(
  state: ClusterState,
  nodeId: string,
  now: number,
  driftMarginMs: number,
  reason: string,
  options: { promotable?: readonly string[] } = {},
): ClusterState {
  const decision = mayPromote(state, now, driftMarginMs);
  if (!decision.allowed) throw new Error(`promotion of ${nodeId} refused: ${decision.reason}`);
  // The role change a shown plan hastened the heartbeats for has happened: back to the normal interval.
  // So do the previous epoch's peer fields: the new epoch has its own promotable set (or none: peer leases off).
  const { hastenUntil: _hastened, promotable: _set, peerConfirmed: _confirmed, ...rest } = state;
  return {
    ...rest,
    ...(options.promotable ? { promotable: [...options.promotable] } : {}),
    epoch: state.epoch + 1,
    activeNodeId: nodeId,
    leaseExpiresAt: null,
    revoked: false,
    fenced: false,
    updatedAt: now,
    reason,
  };
}

/**
 * Keeps the current active under a new epoch (arbitration won by the active): its lease carries on, and every
 * command issued under the old epoch — including any to the loser — is refused from now on.
 */
export function reaffirm(
  state: ClusterState,
  now: number,
  reason: string,
  options: { promotable?: readonly string[] } = {},
): ClusterState {
  if (state.revoked || state.activeNodeId === null)
    throw new Error('only an unrevoked active can be reaffirmed');
  // The new epoch's promotable set: as given, else the old one carried on (the same active, the same peers).
  const { promotable: old, peerConfirmed: _confirmed, ...rest } = state;
  const promotable = options.promotable ?? old;
  return {
    ...rest,
    ...(promotable ? { promotable: [...promotable] } : {}),
    epoch: state.epoch + 1,
    updatedAt: now,
    reason,
  };
}

export interface DetectionPolicyLike {
  heartbeatIntervalMs: number;
  missedHeartbeats: number;
}

/** The active is considered failed when its heartbeats stopped for `missedHeartbeats` intervals. */
export function detectFailure(
  lastHeartbeatAt: number | undefined,
  now: number,
  policy: DetectionPolicyLike,
): { failed: boolean; missed: number; silentForMs: number } {
  const silentForMs =
    lastHeartbeatAt === undefined ? Number.POSITIVE_INFINITY : Math.max(0, now - lastHeartbeatAt);
  const missed = Number.isFinite(silentForMs)
    ? Math.floor(silentForMs / policy.heartbeatIntervalMs)
    : policy.missedHeartbeats;
  return { failed: missed >= policy.missedHeartbeats, missed, silentForMs };
}

export interface HealthCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
}

export interface ArbitrationCandidate {
  nodeId: string;
  priority: number;
  checks: readonly HealthCheck[];
}

/** Healthy means no failing check. Healthier: fewer failing checks, then fewer warnings. */
export const isHealthy = (c: ArbitrationCandidate) => !c.checks.some((check) => check.status === 'fail');
const score = (c: ArbitrationCandidate) => [
  c.checks.filter((check) => check.status === 'fail').length,
  c.checks.filter((check) => check.status === 'warn').length,
];

/**
 * Witness arbitration: exactly one winner among the nodes that asked. Prefer the current active if it asked and is
 * healthy; else the healthier; else the lowest priority number; ties by node id so every decider agrees.
 */
export function arbitrate(
  candidates: readonly ArbitrationCandidate[],
  currentActive: string | null,
): { winner: string; losers: string[] } {
  if (candidates.length === 0) throw new Error('arbitration needs at least one candidate');
  const active = candidates.find((c) => c.nodeId === currentActive);
  const sorted = [...candidates].sort((a, b) => {
    const [fa, wa] = score(a);
    const [fb, wb] = score(b);
    return (
      (fa as number) - (fb as number) ||
      (wa as number) - (wb as number) ||
      a.priority - b.priority ||
      (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0)
    );
  });
  const winner = active && isHealthy(active) ? active : (sorted[0] as ArbitrationCandidate);
  return {
    winner: winner.nodeId,
    losers: candidates.filter((c) => c.nodeId !== winner.nodeId).map((c) => c.nodeId),
  };
}

/**
 * The agent's side of rule 2 and rule 5: it may act as active only while its lease, timed on its own monotonic clock
 * from the moment it sent the heartbeat that was granted, has not run out.
 */
export function agentHoldsLease(
  grantSentAtMonotonic: number,
  leaseMs: number,
  nowMonotonic: number,
): boolean {
  return nowMonotonic < grantSentAtMonotonic + leaseMs;
}

/** Flapping guard: how many failovers in the period, and whether the cooldown since the last one has passed. */
export function failoverAllowed(
  history: readonly number[],
  now: number,
  policy: { cooldownMs: number; maxFailoversPerPeriod: number; periodMs: number },
): { allowed: true } | { allowed: false; reason: string } {
  const last = history.length ? Math.max(...history) : undefined;
  if (last !== undefined && now - last < policy.cooldownMs)
    return { allowed: false, reason: `cooldown until ${new Date(last + policy.cooldownMs).toISOString()}` };
  const recent = history.filter((t) => now - t < policy.periodMs).length;
  if (recent >= policy.maxFailoversPerPeriod)
    return {
      allowed: false,
      reason: `${recent} failovers in the last ${policy.periodMs} ms (max ${policy.maxFailoversPerPeriod})`,
    };
  return { allowed: true };
}

/**
 * How long a revoked epoch may stay without an active before the detector starts another failover: twice the
 * detection window, at least 15 s. A failover that found no healthy node (`NoHealthyTarget`) leaves the epoch revoked
 * and the cluster without an active; once a node is healthy again (a standby back from its backoff after a
 * control-plane outage, a repaired VM) the retry promotes it. Slow enough that a cluster with every node dead adds at
 * most a few failed operations a minute.
 */
export function orphanRetryDelayMs(policy: DetectionPolicyLike): number {
  return Math.max(2 * policy.heartbeatIntervalMs * policy.missedHeartbeats, 15_000);
}

/**
 * Whether a cluster left without an active is due another failover: its epoch is revoked (a failover ended without
 * promoting anyone) and its state has not changed for `orphanRetryDelayMs`. Pure; the detector records it once per
 * state version (the state's `updatedAt`), and a failover that fails again rewrites the state, so the next retry
 * comes one delay later.
 */
export function orphanedEpochDue(
  view: { revoked: boolean; updatedAt?: number },
  now: number,
  policy: DetectionPolicyLike,
): boolean {
  return view.revoked && view.updatedAt !== undefined && now - view.updatedAt >= orphanRetryDelayMs(policy);
}
