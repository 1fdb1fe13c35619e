import type { ClusterState } from '../../domain/clusterState';
import { ConcurrencyError } from '../../errors';
import type { Services } from '../../services/services';
import type { WitnessLease, WitnessRecord } from '../../witness/blobWitness';

/** What a decider sees while it holds the witness lease: the cluster state as stored, with its ETag. */
export interface WitnessSession {
  lease: WitnessLease;
  state: ClusterState;
  etag: string;
}

export interface WitnessDecisionHandlers<T> {
  /** Decides under the lease, with the state reconciled to the witness. */
  decide(session: WitnessSession): Promise<T>;
  /**
   * The witness already recorded a newer epoch than the state (a decider crashed after its witness write): the
   * state has just been brought up to that record, and this says what that means to the caller.
   */
  reconciled(record: WitnessRecord, state: ClusterState): T;
}

/**
 * The witness decision kernel shared by every flow that changes who is active (arbitration, failover, make-active):
 * hold the cluster's witness lease, reconcile a witness record newer than the state (apply it to the state first),
 * then decide. The lease is released whatever happens (a lost release ends with the lease's own expiry).
 */
export async function withWitnessDecision<T>(
  services: Services,
  clusterId: string,
  decider: string,
  handlers: WitnessDecisionHandlers<T>,
): Promise<T> {
  const lease = await services.witness.acquire(clusterId, decider);
  try {
    const stored = await services.clusters.getState(clusterId);
    if (!stored) throw new Error(`cluster ${clusterId} has no state`);
    const { record } = await services.witness.read(clusterId);
    if (record.epoch > stored.state.epoch) {
      const reconciled = reconcileFromWitness(stored.state, record, services.now());
      await writeState(services, reconciled, stored.etag, 'during reconciliation');
      return handlers.reconciled(record, reconciled);
    }
    return await handlers.decide({ lease, state: stored.state, etag: stored.etag });
  } finally {
    await services.witness.release(lease).catch(() => undefined);
  }
}

/**
 * The state a witness record newer than it stands for (pure). The kept `activeHeartbeat` is tagged with its node, so
 * it stays even when the active changes: it is that node's latest heartbeat, carried to its own row by the new
 * active's first heartbeat (nothing reads it as the new active's).
 */
export function reconcileFromWitness(state: ClusterState, record: WitnessRecord, now: number): ClusterState {
  const sameActive = record.activeNodeId === state.activeNodeId;
  return {
    ...state,
    epoch: record.epoch,
    activeNodeId: record.activeNodeId,
    revoked: false,
    fenced: false,
    leaseExpiresAt: sameActive ? state.leaseExpiresAt : null,
    updatedAt: now,
    reason: `reconciled from the witness: ${record.reason}`,
  };
}

/** A conditional state write that must win: a lost race is a fault to retry (the caller re-reads and decides again). */
export async function writeState(
  services: Services,
  next: ClusterState,
  etag: string,
  when: string,
): Promise<string> {
  const write = await services.clusters.replaceState(next, etag);
  if (!write.ok) throw new ConcurrencyError(`the state of ${next.clusterId} changed ${when}`);
  return write.etag;
}

/**
 * Commits a decision: the witness first (the durable record of the vote, written under the lease with If-Match),
 * then the state (If-Match), then the audit entry. A crash between the first two is reconciled by the next decider.
 */
export async function commitDecision(
  services: Services,
  lease: WitnessLease,
  next: ClusterState,
  stateEtag: string,
  decider: string,
  audit: { action: string; detail?: Record<string, unknown> },
): Promise<string> {
  const { etag: witnessEtag } = await services.witness.read(next.clusterId);
  await services.witness.writeDecision(
    lease,
    {
      epoch: next.epoch,
      activeNodeId: next.activeNodeId,
      decidedAt: new Date(next.updatedAt).toISOString(),
      decidedBy: decider,
      reason: next.reason,
    },
    witnessEtag,
  );
  const etag = await writeState(services, next, stateEtag, `after the witness recorded epoch ${next.epoch}`);
  await services.audit.append({
    clusterId: next.clusterId,
    at: next.updatedAt,
    actor: decider,
    action: audit.action,
    detail: { epoch: next.epoch, activeNodeId: next.activeNodeId, reason: next.reason, ...audit.detail },
  });
  return etag;
}
