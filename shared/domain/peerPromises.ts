import { minDriftMarginMs } from './clockDrift';

/**
 * Peer promises (design.md rule 5, ARCHITECTURE.md "Peer promises"): while the active cannot renew its lease from the
 * control plane, it holds a **peer lease** as long as every node that could be promoted under its epoch has promised
 * — persisted before answering — to accept no promotion, under any epoch, until a time its lease ends before.
 * Pure rules, shared by the agent (`agent/peers/`), the control plane (heartbeat path, detector, failover steps) and
 * the safety simulation (`sim/`), so `npm run sim` proves the rules the product runs.
 *
 * Timing mirrors the control-plane lease (rule 2): the active times a promise on its monotonic clock from the SEND
 * time of its request; the promising node times its side from the RECEIVE time and adds the drift margin, so the
 * promise always outlasts the peer lease it supports, whatever the two clocks' drift within `MAX_CLOCK_DRIFT_RATE`.
 */

/** The longest promise a node gives, whatever the request asks: a promise delays a real failover by this much. */
export const MAX_PROMISE_MS = 120_000;

/** A promise a node gave: it accepts no promotion, under any epoch, until `until` on its own monotonic clock. */
export interface PeerPromise {
  /** The active it recognises. */
  to: string;
  /** The epoch it recognises `to` as active under. */
  epoch: number;
  /** The end of the promise on the promising node's monotonic clock: receive time + duration + drift margin. */
  until: number;
}

/** What the promising node knows of itself when a request arrives (its persisted state and live lease). */
export interface PromiserView {
  nodeId: string;
  role: 'standby' | 'promoting' | 'active' | 'demoting';
  /** The highest epoch it has seen (from the control plane, or from a promise it gave). */
  highestEpoch: number;
  /**
   * The highest epoch the control plane told it was revoked: it promises nothing under that epoch or an older one
   * (so a failover the control plane started can finish: the old active's peer lease runs out).
   */
  closedEpoch: number;
  /** Whether it holds a lease of its own now (it is, or is becoming, an active). */
  holdsLease: boolean;
  /** The promises it gave (live or not: the rules look at the live ones). */
  promises: readonly PeerPromise[];
}

/** What the active asks for. */
export interface PromiseRequest {
  /** The active asking. */
  from: string;
  /** The epoch it holds the active role under. */
  epoch: number;
  /** How long it asks for (its control-plane lease duration). */
  durationMs: number;
}

export type PromiseRefusalCode =
  'self' | 'duration' | 'epoch-behind' | 'epoch-closed' | 'not-standby' | 'bound-to-another';

export type PromiseDecision =
  | { granted: true; promise: PeerPromise; durationMs: number }
  | { granted: false; code: PromiseRefusalCode; reason: string };

/** The margin the promising node adds to a promise of `durationMs`: the drift margin of rule 3 (at least 1 ms). */
export const promiseMarginMs = (durationMs: number): number => Math.max(1, minDriftMarginMs(durationMs));

/** The promises still binding at `now` (their end not reached). */
export const livePromises = (promises: readonly PeerPromise[], now: number): PeerPromise[] =>
  promises.filter((p) => now < p.until);

/**
 * Whether to promise `request.from` to accept no promotion until receive time + duration + margin. The caller must
 * persist the promise (fsync) before it answers, and record it in memory in the same synchronous step as this
 * decision, so no promotion accepted meanwhile can slip between the two.
 */
export function decidePromise(
  view: PromiserView,
  request: PromiseRequest,
  receivedAt: number,
): PromiseDecision {
  if (request.from === view.nodeId)
    return { granted: false, code: 'self', reason: 'a node cannot promise itself' };
  if (!Number.isInteger(request.durationMs) || request.durationMs < 1 || request.durationMs > MAX_PROMISE_MS)
    return {
      granted: false,
      code: 'duration',
      reason: `durationMs must be an integer from 1 to ${MAX_PROMISE_MS}`,
    };
  if (request.epoch < view.highestEpoch)
    return {
      granted: false,
      code: 'epoch-behind',
      reason: `epoch ${request.epoch} is below the highest this node has seen (${view.highestEpoch})`,
    };
  if (request.epoch <= view.closedEpoch)
    return {
      granted: false,
      code: 'epoch-closed',
      reason: `the control plane revoked epoch ${view.closedEpoch}: no promise under it`,
    };
  if (view.role !== 'standby' || view.holdsLease)
    return {
      granted: false,
      code: 'not-standby',
      reason: `this node is ${view.holdsLease && view.role === 'standby' ? 'holding a lease' : view.role}, not a bare standby`,
    };
  const other = livePromises(view.promises, receivedAt).find(
    (p) => p.to !== request.from && p.epoch >= request.epoch,
  );
  if (other)
    return {
      granted: false,
      code: 'bound-to-another',
      reason: `this node promised ${other.to} under epoch ${other.epoch}`,
    };
  const until = receivedAt + request.durationMs + promiseMarginMs(request.durationMs);
  const same = view.promises.find((p) => p.to === request.from && p.epoch === request.epoch);
  return {
    granted: true,
    durationMs: request.durationMs,
    promise: { to: request.from, epoch: request.epoch, until: Math.max(until, same?.until ?? 0) },
  };
}

/** The promises after granting `promise`: one per (to, epoch), the dead ones dropped. */
export function withPromise(
  promises: readonly PeerPromise[],
  promise: PeerPromise,
  now: number,
): PeerPromise[] {
  const kept = livePromises(promises, now).filter((p) => !(p.to === promise.to && p.epoch === promise.epoch));
  return [...kept, promise];
}

/** The promise that binds this node now (the one ending last), if any. */
export function bindingPromise(promises: readonly PeerPromise[], now: number): PeerPromise | undefined {
  let binding: PeerPromise | undefined;
  for (const p of livePromises(promises, now)) if (!binding || p.until > binding.until) binding = p;
  return binding;
}

/** Rule: a node bound by a promise accepts no promotion (no promote command, no lease grant) until it lapses. */
export function mayAcceptPromotion(
  promises: readonly PeerPromise[],
  now: number,
): { allowed: true } | { allowed: false; promise: PeerPromise; reason: string } {
  const promise = bindingPromise(promises, now);
  if (!promise) return { allowed: true };
  return {
    allowed: false,
    promise,
    reason: `bound by a promise to ${promise.to} under epoch ${promise.epoch} for ${Math.ceil(promise.until - now)} ms more`,
  };
}

/** A promise the active holds, on its own monotonic clock. */
export interface HeldPromise {
  /** The node that promised. */
  from: string;
  epoch: number;
  /** The active's monotonic send time of the request the promise answered. */
  sentAt: number;
  durationMs: number;
}

/**
 * The end of the active's peer lease on its monotonic clock, or null when it holds none: it needs, under its own
 * epoch, a promise from EVERY node of the epoch's promotable set (a set fixed per epoch by the control plane), each
 * timed from its request's send time; the lease is the earliest of those ends, shortened by the fence margin. An
 * empty set gives no peer lease (a one-node cluster has nobody to vouch for it).
 */
export function peerLeaseEndsAt(
  promotable: readonly string[],
  epoch: number,
  held: readonly HeldPromise[],
  fenceMarginMs = 0,
): number | null {
  if (promotable.length === 0) return null;
  let end = Number.POSITIVE_INFINITY;
  for (const nodeId of promotable) {
    let best: number | null = null;
    for (const h of held)
      if (h.from === nodeId && h.epoch === epoch && (best === null || h.sentAt + h.durationMs > best))
        best = h.sentAt + h.durationMs;
    if (best === null) return null;
    end = Math.min(end, best);
  }
  return end - fenceMarginMs;
}

/** Whether the active holds a peer lease at `now` (see `peerLeaseEndsAt`). */
export function agentHoldsPeerLease(
  promotable: readonly string[],
  epoch: number,
  held: readonly HeldPromise[],
  now: number,
  fenceMarginMs = 0,
): boolean {
  const end = peerLeaseEndsAt(promotable, epoch, held, fenceMarginMs);
  return end !== null && now < end;
}

/** The promotable set of an epoch: every node of the document but the active, sorted. */
export const promotableSet = (nodeIds: readonly string[], activeNodeId: string): string[] =>
  [...new Set(nodeIds)].filter((id) => id !== activeNodeId).sort();

/** A promise as a standby's heartbeat reports it, with the control plane's receive time of that heartbeat. */
export interface PromiseReport {
  /** The node that gave the promise (the heartbeat's sender). */
  nodeId: string;
  to: string;
  epoch: number;
  /** What was left of it when the heartbeat was sent. */
  remainingMs: number;
  /** The control plane's receive time of the heartbeat. */
  receivedAt: number;
}

/**
 * Whether a standby's promise confirms the active alive: a promise to the current, unrevoked active under the
 * current epoch, still running at `now` by the report (receive time + what was left). The active asked for it within
 * the last promise duration, over the network the nodes share, so the active is alive and acting — silence to the
 * control plane alone is no reason to fail over.
 */
export function peerConfirmation(
  state: { epoch: number; activeNodeId: string | null; revoked: boolean },
  reports: readonly PromiseReport[],
  now: number,
): { by: string; until: number; epoch: number } | undefined {
  if (state.revoked || state.activeNodeId === null) return undefined;
  let best: { by: string; until: number; epoch: number } | undefined;
  for (const r of reports) {
    if (r.to !== state.activeNodeId || r.epoch !== state.epoch || r.nodeId === r.to) continue;
    const until = r.receivedAt + r.remainingMs;
    if (until > now && (!best || until > best.until)) best = { by: r.nodeId, until, epoch: r.epoch };
  }
  return best;
}

/** What a promotable node's latest heartbeat says about its promises under a revoked epoch. */
export interface PromiserEvidence {
  nodeId: string;
  receivedAt: number;
  /** The highest epoch the node says the control plane told it was revoked (it promises nothing under it). */
  closedEpoch: number;
  /** Its promise to the old active under the epoch, if it still holds one (remaining at send time). */
  promise?: { to: string; epoch: number; remainingMs: number };
}

/**
 * When every peer lease the old active of a revoked epoch could hold has certainly ended, or null while that is
 * unknown. The old active needs a promise from every node of the epoch's promotable set, so one node that has closed
 * the epoch (it will promise nothing more under it) and whose last promise has ended is enough: its end, plus the
 * drift margin, bounds every peer lease. Until one such node is heard from, a node outside the set may not be
 * promoted without fencing (a node inside refuses promotion by itself while bound).
 */
export function peerLeasesEndAt(
  epoch: number,
  promotable: readonly string[],
  evidence: readonly PromiserEvidence[],
  driftMarginMs: number,
): number | null {
  if (promotable.length === 0) return Number.NEGATIVE_INFINITY;
  let end: number | null = null;
  for (const e of evidence) {
    if (!promotable.includes(e.nodeId) || e.closedEpoch < epoch) continue;
    const held = e.promise && e.promise.epoch === epoch ? e.promise.remainingMs : 0;
    const bound = e.receivedAt + held + driftMarginMs;
    if (end === null || bound < end) end = bound;
  }
  return end;
}
