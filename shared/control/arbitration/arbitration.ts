import type { ArbitrationCandidate } from '../../domain/decisions';
import { arbitrate, mayPromote, promote, reaffirm, revoke } from '../../domain/decisions';
import type { ClusterState } from '../../domain/clusterState';
import type { Services } from '../../services/services';
import type { WitnessLease } from '../../witness/blobWitness';
import {
  commitDecision,
  withWitnessDecision,
  writeState,
  type WitnessSession,
} from '../common/witnessDecision';
import { automaticFailoverRefusal } from '../operations/failoverPolicy';

export interface ArbitrationVote extends ArbitrationCandidate {
  /** When the vote arrived (ISO), for the record. */
  at?: string;
}

export interface ArbitrationInput {
  clusterId: string;
  /** The epoch under which the nodes lost each other: the decision raises it. */
  epoch: number;
  votes: ArbitrationVote[];
  decider: string;
}

/** After waiting for `retryAt`: the winner of `decideArbitration` to promote once rule 3 allows it. */
export interface CompleteArbitrationInput extends ArbitrationInput {
  winner: string;
  losers: string[];
}

export type ArbitrationDecision =
  | { outcome: 'decided'; winner: string; losers: string[]; epoch: number; reason: string }
  /** The winner must wait for the old active's lease to end (rule 3) before it may be promoted. */
  | { outcome: 'waiting'; winner: string; losers: string[]; retryAt: number }
  /** Another decision (failover, make-active, an earlier arbitration) already moved the cluster on. */
  | { outcome: 'superseded'; epoch: number; activeNodeId: string | null }
  /**
   * The vote would change the active, but the cluster's policy forbids an automatic failover now (`failover.mode`
   * manual, the cooldown, too many failovers): nothing changed; the refusal is recorded as an operation.
   */
  | { outcome: 'refused'; code: string; reason: string; epoch: number; activeNodeId: string | null };

/**
 * The side effects of witness arbitration, for the arbitration orchestration's activities. Each step holds the
 * witness lease while it decides and writes the decision into the witness blob (under the lease, If-Match) before
 * the cluster state (If-Match). A crash between the two is reconciled by the next attempt: a witness record newer
 * than the state is applied to the state first.
 */
export async function decideArbitration(
  services: Services,
  input: ArbitrationInput,
): Promise<ArbitrationDecision> {
  return withWitness(services, input, async ({ lease, state, etag }) => {
    if (state.epoch !== input.epoch)
      return {
        outcome: 'superseded',
        epoch: state.epoch,
        activeNodeId: state.revoked ? null : state.activeNodeId,
      };
    const votes = await withLiveActive(services, state, input.votes);
    const { winner, losers } = arbitrate(votes, state.revoked ? null : state.activeNodeId);
    const now = services.now();
    if (winner === state.activeNodeId && !state.revoked) {
      const next = reaffirm(
        state,
        now,
        `arbitration: ${winner} kept the vote against ${losers.join(', ') || 'nobody'}`,
      );
      await commit(services, lease, next, etag, input.decider);
      return { outcome: 'decided', winner, losers, epoch: next.epoch, reason: next.reason };
    }
    if (!state.revoked) {
      const refused = await policyRefusal(services, input, state, winner, now);
      if (refused) return refused;
    }
    const revoked = revoke(
      state,
      now,
      `arbitration: revoking ${state.activeNodeId ?? 'nobody'} for ${winner}`,
    );
    const revokedEtag = state.revoked
      ? etag
      : await writeState(services, revoked, etag, 'during arbitration');
    return promoteIfAllowed(services, lease, revoked, revokedEtag, winner, losers, input.decider);
  });
}

/**
 * An arbitration that would move the active role is an automatic failover: the cluster's `failover.mode` and
 * anti-flapping policy apply to it as to the detector's and the webhooks'. A refusal is recorded once per epoch as a
 * refused failover operation (trigger arbitration) and in the audit log.
 */
async function policyRefusal(
  services: Services,
  input: ArbitrationInput,
  state: ClusterState,
  winner: string,
  now: number,
): Promise<ArbitrationDecision | undefined> {
  const stored = await services.clusters.getDocument(input.clusterId);
  if (!stored) return undefined;
  const refusal = await automaticFailoverRefusal(services, input.clusterId, stored.document.failover, now);
  if (!refusal) return undefined;
  const operationId = `arbitration-${input.epoch}-refused`;
  const recorded = await services.operations.createOnce({
    clusterId: input.clusterId,
    operationId,
    kind: 'failover',
    status: 'pending',
    createdAt: now,
    updatedAt: now,
    epoch: state.epoch,
    evidence: { votes: input.votes.map((v) => v.nodeId), winner },
    trigger: { kind: 'arbitration', reference: input.decider },
    actor: 'arbitration',
    targetNodeId: winner,
  });
  if (recorded.created) {
    await services.operations.finish(input.clusterId, operationId, {
      status: 'refused',
      reason: `${refusal.code}: ${refusal.reason}`,
      at: now,
      code: refusal.code,
    });
    await services.audit.append({
      clusterId: input.clusterId,
      at: now,
      actor: 'arbitration',
      action: 'failover-refused',
      detail: { operationId, code: refusal.code, reason: refusal.reason, winner, epoch: state.epoch },
    });
  }
  return {
    outcome: 'refused',
    code: refusal.code,
    reason: refusal.reason,
    epoch: state.epoch,
    activeNodeId: state.activeNodeId,
  };
}

/** Called after waiting for `retryAt`: promotes the arbitration's winner once rule 3 allows it. */
export async function completeArbitration(
  services: Services,
  input: CompleteArbitrationInput,
): Promise<ArbitrationDecision> {
  return withWitness(services, input, async ({ lease, state, etag }) => {
    if (state.epoch !== input.epoch || !state.revoked)
      return {
        outcome: 'superseded',
        epoch: state.epoch,
        activeNodeId: state.revoked ? null : state.activeNodeId,
      };
    return promoteIfAllowed(services, lease, state, etag, input.winner, input.losers, input.decider);
  });
}

/**
 * An active the control plane still hears from is a candidate even if it did not ask (it may not have noticed the
 * partition yet): its latest heartbeat stands for its vote, so a standby cut off from it alone cannot take over.
 */
async function withLiveActive(
  services: Services,
  state: ClusterState,
  votes: ArbitrationVote[],
): Promise<ArbitrationVote[]> {
  const active = state.revoked ? null : state.activeNodeId;
  const heard = state.activeHeartbeat;
  if (!active || votes.some((v) => v.nodeId === active) || heard?.nodeId !== active) return votes;
  const document = await services.clusters.getDocument(state.clusterId);
  if (!document) return votes;
  const { heartbeatIntervalMs, missedHeartbeats } = document.document.detection;
  if (services.now() - heard.receivedAt >= heartbeatIntervalMs * missedHeartbeats) return votes;
  const priority = document.document.nodes.find((n) => n.id === active)?.priority ?? 100;
  return [
    ...votes,
    { nodeId: active, priority, checks: heard.checks, at: new Date(heard.receivedAt).toISOString() },
  ];
}

async function promoteIfAllowed(
  services: Services,
  lease: WitnessLease,
  revoked: ClusterState,
  etag: string,
  winner: string,
  losers: string[],
  decider: string,
): Promise<ArbitrationDecision> {
  const document = await services.clusters.getDocument(revoked.clusterId);
  const margin = document?.document.detection.driftMarginMs ?? 0;
  const now = services.now();
  const allowed = mayPromote(revoked, now, margin);
  if (!allowed.allowed) return { outcome: 'waiting', winner, losers, retryAt: allowed.retryAt ?? now + 1000 };
  const next = promote(
    revoked,
    winner,
    now,
    margin,
    `arbitration: ${winner} promoted, ${losers.join(', ') || 'nobody'} must fence`,
  );
  await commit(services, lease, next, etag, decider);
  return { outcome: 'decided', winner, losers, epoch: next.epoch, reason: next.reason };
}

function commit(
  services: Services,
  lease: WitnessLease,
  next: ClusterState,
  stateEtag: string,
  decider: string,
): Promise<string> {
  return commitDecision(services, lease, next, stateEtag, decider, { action: 'arbitration-decided' });
}

/** Arbitration on the witness decision kernel: a reconciled record of the next epoch is this arbitration's decision. */
function withWitness(
  services: Services,
  input: ArbitrationInput,
  decide: (session: WitnessSession) => Promise<ArbitrationDecision>,
): Promise<ArbitrationDecision> {
  return withWitnessDecision<ArbitrationDecision>(services, input.clusterId, input.decider, {
    decide,
    reconciled(record, state) {
      if (record.epoch === input.epoch + 1 && record.activeNodeId) {
        const losers = input.votes.map((v) => v.nodeId).filter((n) => n !== record.activeNodeId);
        return {
          outcome: 'decided',
          winner: record.activeNodeId,
          losers,
          epoch: record.epoch,
          reason: state.reason,
        };
      }
      return { outcome: 'superseded', epoch: record.epoch, activeNodeId: record.activeNodeId };
    },
  });
}

/** The arbitration orchestration's activities, bound to their dependencies. */
export function createArbitrationActivities(services: Services) {
  return {
    decideArbitration: (input: ArbitrationInput) => decideArbitration(services, input),
    completeArbitration: (input: CompleteArbitrationInput) => completeArbitration(services, input),
  };
}
