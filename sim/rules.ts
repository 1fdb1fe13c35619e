import { MAX_CLOCK_DRIFT_RATE } from '../shared/domain/clusterDocument';
import type { ClusterState } from '../shared/domain/clusterState';
import type { FailoverDecisions } from '../shared/domain/failoverSteps';
import {
  agentHoldsLease,
  confirmFenced,
  grantLease,
  mayPromote,
  promote,
  reaffirm,
  revoke,
  type LeaseDecision,
} from '../shared/domain/decisions';
import { peerLeaseEndsAt, type HeldPromise } from '../shared/domain/peerPromises';

/**
 * The rules the simulated actors run. `correctRules` are the product's own functions from shared/domain; each
 * broken rule swaps in one deliberately wrong decision (or drops one safeguard of the protocol around them) so the
 * tests can show the invariant checker notices. The controller hands this object to
 * `shared/domain/failoverSteps.ts#nextFailoverStep` as its `FailoverDecisions` (revoke, confirmFenced, mayPromote,
 * promote), so a broken decision is broken inside the product's step rules.
 */
export interface Rules extends FailoverDecisions {
  grantLease(state: ClusterState, nodeId: string, epoch: number, now: number, leaseMs: number): LeaseDecision;
  reaffirm(
    state: ClusterState,
    now: number,
    reason: string,
    options?: { promotable?: readonly string[] },
  ): ClusterState;
  /** `decisions.promote`, which also takes the new epoch's promotable set. */
  promote(
    state: ClusterState,
    nodeId: string,
    now: number,
    driftMarginMs: number,
    reason: string,
    options?: { promotable?: readonly string[] },
  ): ClusterState;
  /** The end of the active's peer lease on its clock (`peerPromises.peerLeaseEndsAt`), null when it holds none. */
  peerLeaseEndsAt(promotable: readonly string[], epoch: number, held: readonly HeldPromise[]): number | null;
  agentHoldsLease(grantSentAtMonotonic: number, leaseMs: number, nowMonotonic: number): boolean;
  /**
   * The monotonic instant at which `agentHoldsLease` turns false (its closed form), so the recorder knows, in real
   * time, until when the agent believes it holds the lease.
   */
  agentLeaseEndsAt(grantSentAtMonotonic: number, leaseMs: number): number;
  /** Protocol safeguards outside the pure functions, each of which a broken rule may switch off. */
  readonly store: { ifMatch: boolean };
  readonly agent: {
    /** The lease is timed from the send time of the granted heartbeat (true) or from the receipt of the answer. */
    leaseFromSendTime: boolean;
    /** Refuse grants under an epoch the agent was demoted from (or older than the highest it has seen). */
    refusesStaleGrants: boolean;
  };
  /**
   * Fencing evidence reaches nextFailoverStep naming its own epoch and node (which the step rules check). Off: the
   * controller files every demotion acknowledgement under the epoch and node it is fencing, whatever it says.
   */
  readonly controller: { fenceEvidenceChecked: boolean };
  /** Peer promises: the safeguards around the pure rules of shared/domain/peerPromises.ts. */
  readonly peer: {
    /** A promise is persisted before the answer and survives a crash. */
    promisesPersisted: boolean;
    /** The active times a promise from the send time of its request (false: from the answer's receipt). */
    promiseFromSendTime: boolean;
    /** A node bound by a promise refuses grants and promote commands (`mayAcceptPromotion`). */
    boundRefusesPromotion: boolean;
  };
}

export const correctRules: Rules = {
  grantLease,
  revoke,
  confirmFenced,
  mayPromote,
  promote,
  reaffirm,
  agentHoldsLease,
  agentLeaseEndsAt: (sentAt, leaseMs) => sentAt + leaseMs,
  store: { ifMatch: true },
  agent: { leaseFromSendTime: true, refusesStaleGrants: true },
  controller: { fenceEvidenceChecked: true },
  peerLeaseEndsAt: (promotable, epoch, held) => peerLeaseEndsAt(promotable, epoch, held),
  peer: { promisesPersisted: true, promiseFromSendTime: true, boundRefusesPromotion: true },
};

export const BROKEN_RULES = [
  /** mayPromote allows a promotion as soon as the epoch is revoked, without waiting out the old lease. */
  'promote-without-waiting',
  /** grantLease ignores the revocation: the revoked active keeps getting leases. */
  'grant-after-revoke',
  /** The agent acts whenever it believes it is active, without checking its lease (no self-fencing). */
  'agent-ignores-lease',
  /** The agent times its lease from the receipt of the answer instead of the send time of the request. */
  'lease-from-receipt',
  /** The store writes without If-Match: every compare-and-set succeeds (last writer wins). */
  'no-if-match',
  /** The controller takes any demotion acknowledgement as fencing of whatever epoch and node it is handling. */
  'fence-any-epoch',
  /** The agent accepts a (late) grant under an epoch it already acknowledged a demotion for. */
  'agent-accepts-stale-grant',
  /** mayPromote is called without the clock-drift margin. */
  'no-drift-margin',
  /**
   * mayPromote is called with the margin the schema required before the simulation found it short: 1% of the lease,
   * covering the drift of one clock when two (agent and control plane) drift independently.
   */
  'single-clock-drift-margin',
  /** A crash of the promising node forgets its promises (not persisted before the answer). */
  'promise-not-persisted',
  /** The active times its peer lease from the receipt of the answer instead of the send time of the request. */
  'promise-from-receive-time',
  /** The active holds a peer lease with a promise from any one promotable peer instead of every one. */
  'peer-lease-some-peers',
  /** A standby bound by a promise still accepts a grant (a promotion). */
  'promotion-while-bound',
] as const;

export type BrokenRule = (typeof BROKEN_RULES)[number];

export function isBrokenRule(name: string): name is BrokenRule {
  return (BROKEN_RULES as readonly string[]).includes(name);
}

export function rulesFor(broken: BrokenRule | undefined, policy: { leaseMs: number }): Rules {
  switch (broken) {
    case undefined:
      return correctRules;
    case 'promote-without-waiting':
      return {
        ...correctRules,
        mayPromote: (state, now, margin) =>
          state.revoked || state.activeNodeId === null ? { allowed: true } : mayPromote(state, now, margin),
        // The real promotion, told the old lease is over (revoked and fenced) whatever the truth.
        promote: (state, nodeId, now, margin, reason, options) =>
          promote({ ...state, revoked: true, fenced: true }, nodeId, now, margin, reason, options),
      };
    case 'grant-after-revoke':
      return {
        ...correctRules,
        grantLease: (state, nodeId, epoch, now, leaseMs) => {
          const decision = grantLease({ ...state, revoked: false }, nodeId, epoch, now, leaseMs);
          return decision.granted
            ? { ...decision, state: { ...decision.state, revoked: state.revoked } }
            : decision;
        },
      };
    case 'agent-ignores-lease':
      return {
        ...correctRules,
        agentHoldsLease: () => true,
        agentLeaseEndsAt: () => Number.POSITIVE_INFINITY,
      };
    case 'lease-from-receipt':
      return { ...correctRules, agent: { ...correctRules.agent, leaseFromSendTime: false } };
    case 'no-if-match':
      return { ...correctRules, store: { ifMatch: false } };
    case 'fence-any-epoch':
      return { ...correctRules, controller: { fenceEvidenceChecked: false } };
    case 'agent-accepts-stale-grant':
      return { ...correctRules, agent: { ...correctRules.agent, refusesStaleGrants: false } };
    case 'no-drift-margin':
      return {
        ...correctRules,
        mayPromote: (state, now) => mayPromote(state, now, 0),
        promote: (state, nodeId, now, _margin, reason, options) =>
          promote(state, nodeId, now, 0, reason, options),
      };
    case 'single-clock-drift-margin': {
      const margin = Math.ceil(policy.leaseMs * MAX_CLOCK_DRIFT_RATE);
      return {
        ...correctRules,
        mayPromote: (state, now) => mayPromote(state, now, margin),
        promote: (state, nodeId, now, _margin, reason, options) =>
          promote(state, nodeId, now, margin, reason, options),
      };
    }
    case 'promise-not-persisted':
      return { ...correctRules, peer: { ...correctRules.peer, promisesPersisted: false } };
    case 'promise-from-receive-time':
      return { ...correctRules, peer: { ...correctRules.peer, promiseFromSendTime: false } };
    case 'peer-lease-some-peers':
      return {
        ...correctRules,
        // any one peer's promise is enough: the latest end over the peers taken one at a time
        peerLeaseEndsAt: (promotable, epoch, held) => {
          let end: number | null = null;
          for (const nodeId of promotable) {
            const one = peerLeaseEndsAt([nodeId], epoch, held);
            if (one !== null && (end === null || one > end)) end = one;
          }
          return end;
        },
      };
    case 'promotion-while-bound':
      return { ...correctRules, peer: { ...correctRules.peer, boundRefusesPromotion: false } };
  }
}
