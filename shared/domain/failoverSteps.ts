import type { PeerHeartbeat } from '../contracts/agentApi';
import type { ClusterState } from './clusterState';
import {
  arbitrate,
  confirmFenced,
  isHealthy,
  mayPromote,
  promote,
  revoke,
  type ArbitrationCandidate,
  type HealthCheck,
  type PromotionDecision,
} from './decisions';
import {
  peerConfirmation,
  peerLeasesEndAt,
  promotableSet,
  type PromiseReport,
  type PromiserEvidence,
} from './peerPromises';

/**
 * The step rules of the failover (unplanned) and make-active (planned) operations: given the operation's plan, what
 * it has done so far, the cluster state, the evidence and the time, what to do next. Pure: no I/O, no clock; the
 * caller (the orchestration, or the simulation's controller) does the I/O each step names — an If-Match write of the
 * `state` a step carries, a fencing call, a timer — records the outcome with `recordStep` and asks again. The safety
 * decisions themselves (revoke, confirmFenced, mayPromote, promote) are those of `decisions.ts`, so rule 3 is
 * enforced here the way it is everywhere else: a promotion is proposed only when `mayPromote` allows it.
 */

export type FailoverKind = 'failover' | 'make-active';

/** What started an operation (the operation record's `trigger.kind`). */
export type FailoverTrigger =
  'detector' | 'webhook' | 'api' | 'portal' | 'arbitration' | 'schedule' | 'drill';

/**
 * How the old active is fenced: power it off through the cloud provider, demote it through its agent, or neither
 * (lease-wait: rule 3's wait for the recorded lease expiry plus the drift margin is the only fence).
 */
export type FenceMethod = 'power-off' | 'demote' | 'lease-wait';

export interface FailoverCandidate {
  nodeId: string;
  /** Lower wins a tie (the cluster document's `priority`). */
  priority: number;
}

export interface FailoverPlan {
  kind: FailoverKind;
  clusterId: string;
  /** The epoch the operation set out to end: the state's epoch when it started. */
  epoch: number;
  /** The active node under `epoch` when the operation started (null: nobody was); make-active rolls back to it. */
  oldActive: string | null;
  /**
   * make-active: the node asked for (required). failover: a node decided beforehand (arbitration's winner), or null
   * to let `choose-target` pick the healthiest standby.
   */
  target: string | null;
  /** Every node of the cluster, from the cluster document. */
  candidates: readonly FailoverCandidate[];
  /** How a failover fences the old active (see `defaultFenceMethod`). make-active always demotes gracefully. */
  fencing: FenceMethod;
  /**
   * Every node of the cluster document (`candidates` may leave some out: a failover's avoided regions): what the
   * promotable set of the epoch a promotion begins is made of. Absent: the candidates.
   */
  nodes?: readonly string[];
  /**
   * Whether the cluster uses peer promises (document `detection.peerLeases`, default true): a promotion then records
   * the new epoch's promotable set. Absent: as under the epoch being ended (on when the state has a promotable set).
   */
  peerLeases?: boolean;
  /**
   * What started the operation. A failover the failure detector started is refused while a standby reports a live
   * promise to the active (`ActiveConfirmedAliveByPeer`). Absent: no such refusal.
   */
  trigger?: FailoverTrigger;
}

/** A promotion the operation committed (recorded by the caller after the If-Match write succeeded). */
export interface Promotion {
  nodeId: string;
  epoch: number;
  /** Control-plane time of the commit. */
  at: number;
}

/** What one leg (the switchover, a retry with the next candidate, or a roll-back) has done. */
export interface LegProgress {
  /** When fencing (or the graceful demotion) of the leg's old holder was started, control-plane time. */
  fencingStartedAt?: number;
  promoted?: Promotion;
}

/** Why a promoted node did not become the verified active. */
export type TakeOverFailure =
  /** The target acknowledged its promote command as failed (its promote hook failed, or it refused). */
  | 'PromoteFailed'
  /** The target did not report the healthy active heartbeats the verification asks for in time. */
  | 'TargetDidNotTakeOver';

/**
 * A failover whose promoted target failed: the operation ends that target's epoch and tries the next candidate
 * (`failed` are never chosen again by this operation).
 */
export interface RetryProgress extends LegProgress {
  /** The epoch of the failed promotion: the one this leg ends. */
  epoch: number;
  /** Every target this operation promoted that failed, oldest first. */
  failed: string[];
  reason: TakeOverFailure;
  /** The target this leg chose. */
  chosenTarget?: string;
}

/** What the operation has done so far: facts only the operation knows (the rest is in the state). */
export interface FailoverProgress extends LegProgress {
  /** The target `choose-target` picked (failover without a planned target). */
  chosenTarget?: string;
  /** Set by `roll-back` (make-active only): from then on the operation restores `plan.oldActive`. */
  rollBack?: LegProgress & { epoch: number; reason: RollBackReason };
  /** Set by `retry` (failover only): the promoted target failed; this leg promotes another candidate. */
  retry?: RetryProgress;
  /** Set by `start-target` (failover only): a stopped standby the operation started, and when. */
  started?: { nodeId: string; at: number };
}

/**
 * Evidence that the holder of a revoked epoch's lease can no longer act. It must name the epoch and the node it is
 * about: a late acknowledgement or power-off report from an earlier failover must not confirm a later one.
 */
export type FencingEvidence =
  | { kind: 'power-state'; nodeId: string; epoch: number; power: 'stopped' | 'running' | 'unknown' }
  | { kind: 'demotion-ack'; nodeId: string; epoch: number }
  /** A fencer node acknowledged its `fence-peer` command for `nodeId` under `epoch` (its hook powered it off). */
  | { kind: 'peer-fenced'; nodeId: string; epoch: number; by: string };

/** What the control plane knows of a node's health. */
export interface NodeEvidence {
  nodeId: string;
  /** Control-plane receive time of its latest heartbeat (undefined: never heard from). */
  lastHeartbeatAt?: number;
  /** The checks of its latest heartbeat. */
  checks?: readonly HealthCheck[];
  /** Its replication lag behind the active, as its latest heartbeat reported it (undefined: no replication). */
  replicationLagMs?: number;
  /** Its acknowledgement of the promote command of `epoch`, if it sent one. */
  promoteAck?: { epoch: number; outcome: 'ok' | 'warn' | 'failed' };
  /** How many healthy heartbeats in a row it sent as the active under `epoch` (the latest epoch it sent them under). */
  activeHeartbeats?: { epoch: number; count: number };
  /**
   * Its power state in its cloud, when the caller looked (it does for silent cloud nodes once no node is healthy):
   * a `stopped` standby can be started and then promoted (a cold standby).
   */
  power?: 'stopped' | 'running' | 'unknown';
  /**
   * What its latest heartbeat (received at `lastHeartbeatAt`) said of peer promises: the promise binding it (it
   * accepts no promotion until it lapses) and the highest epoch it closed (it promises nothing under it).
   */
  peer?: PeerHeartbeat;
}

export interface FailoverEvidence {
  fencing: readonly FencingEvidence[];
  nodes: readonly NodeEvidence[];
}

export interface FailoverPolicy {
  /** The cluster document's detection policy. */
  detection: {
    heartbeatIntervalMs: number;
    missedHeartbeats: number;
    leaseMs: number;
    driftMarginMs: number;
  };
  /** The recovery point objective (`failover.rpoObjectiveMs` of the document): a make-active target's lag bound. */
  rpoMs: number;
  /** How long a make-active waits for the active to acknowledge its demotion before rolling back (default: the lease). */
  demoteTimeoutMs?: number;
  /**
   * How long after a promotion the new active has to report as the active (its promote hooks included; default: the
   * detection window). A target that stops heartbeating fails before that.
   */
  verifyTimeoutMs?: number;
  /**
   * How many healthy heartbeats in a row the new active must send as the active under the new epoch before the
   * operation counts it verified (undefined: its lease is enough, as the simulation's agents do not count).
   */
  verifyHeartbeats?: number;
}

export interface FailoverStepInput {
  plan: FailoverPlan;
  progress: FailoverProgress;
  state: ClusterState;
  evidence: FailoverEvidence;
  policy: FailoverPolicy;
  /** The control plane's clock. */
  now: number;
}

/** Why an operation stops without changing (or without finishing) a switchover. Stable: callers branch on it. */
export type FailoverRefusalCode =
  /** make-active without a target. */
  | 'TargetRequired'
  /** The target is not a node of the cluster. */
  | 'TargetNotInCluster'
  /** The target has a failing check or has missed its heartbeats. */
  | 'TargetUnhealthy'
  /** The target's replication lag exceeds the recovery point objective. */
  | 'ReplicationLagAboveRpo'
  /** A failover found no healthy node to promote (the old active included): the cluster is left with no active. */
  | 'NoHealthyTarget'
  /** A make-active failed and there is no original active to roll back to. */
  | 'NothingToRollBackTo'
  /**
   * A failover the failure detector started, of an active a standby reports a live promise to under the current
   * epoch: the active is alive and reaches its peer; only the control plane does not hear it. Nothing was changed.
   */
  | 'ActiveConfirmedAliveByPeer';

/** Why a make-active rolls back to the original active. */
export type RollBackReason =
  | 'TargetUnhealthy'
  | 'ReplicationLagAboveRpo'
  /** The active did not acknowledge its demotion in time and its lease has not run out. */
  | 'DemotionNotAcknowledged'
  /** The promoted target did not report as the healthy active within the verify timeout. */
  | 'TargetDidNotTakeOver'
  /** The target acknowledged its promote command as failed. */
  | 'PromoteFailed';

export type FailoverStep =
  /** The state is no longer at the epoch this operation (leg) is about: somebody else moved the cluster on. Stop. */
  | { step: 'superseded'; epoch: number; activeNodeId: string | null }
  /** Revoke the epoch's lease: write `state` with If-Match. */
  | { step: 'revoke'; epoch: number; nodeId: string | null; state: ClusterState }
  /** Start fencing `nodeId`, the holder of the revoked `epoch` (nothing to do for lease-wait). */
  | { step: 'fence'; method: FenceMethod; nodeId: string; epoch: number }
  /** make-active: send the active a demotion under `epoch`; without an acknowledgement by `deadline`, roll back. */
  | { step: 'demote-gracefully'; nodeId: string; epoch: number; deadline: number }
  /** Valid fencing evidence arrived: record it (write `state` with If-Match); promotion need not wait any more. */
  | { step: 'confirm-fenced'; nodeId: string; epoch: number; evidence: string; state: ClusterState }
  /** Nothing to do before `until` (or before new evidence arrives). */
  | { step: 'wait'; until: number; reason: string }
  /** Record `target` as the node to promote. */
  | { step: 'choose-target'; target: string; reason: string }
  /** failover: no node is healthy but `nodeId` is stopped in its cloud: start it, then wait for its heartbeat. */
  | { step: 'start-target'; nodeId: string; reason: string }
  /** Promote `target` under `epoch` (= the revoked epoch + 1): write `state` with If-Match, then tell the target. */
  | { step: 'promote'; target: string; epoch: number; state: ClusterState }
  /** The promotion committed: wait for the new active to take its lease, at the latest until `until`. */
  | { step: 'verify'; target: string; epoch: number; until: number }
  /** make-active failed: restore the original active `to`, starting by ending `epoch` (see `recordStep`). */
  | { step: 'roll-back'; to: string; epoch: number; reason: RollBackReason }
  /** failover: the promoted `from` failed under `epoch`; end that epoch and promote another candidate. */
  | { step: 'retry'; from: string; epoch: number; reason: TakeOverFailure }
  | {
      step: 'done';
      outcome: 'promoted' | 'already-active' | 'rolled-back';
      activeNodeId: string;
      epoch: number;
      /** The active took a lease under `epoch` (false: the verify timeout passed first). */
      verified: boolean;
    }
  | { step: 'refuse'; code: FailoverRefusalCode; message: string };

/**
 * The safety decisions the steps are made of: `decisions.ts`. A parameter only so that the simulation can swap in a
 * deliberately broken rule and show its checker catches it; the product passes nothing.
 */
export interface FailoverDecisions {
  revoke(state: ClusterState, now: number, reason: string): ClusterState;
  confirmFenced(state: ClusterState, now: number, evidence: string): ClusterState;
  mayPromote(state: ClusterState, now: number, driftMarginMs: number): PromotionDecision;
  promote(
    state: ClusterState,
    nodeId: string,
    now: number,
    driftMarginMs: number,
    reason: string,
    /** The new epoch's promotable set (peer promises), when the cluster uses them. */
    options?: { promotable?: readonly string[] },
  ): ClusterState;
}

export const productDecisions: FailoverDecisions = { revoke, confirmFenced, mayPromote, promote };

/** Power off a node the cloud can stop; otherwise demote it through its agent. */
export function defaultFenceMethod(compute: { kind: string }): FenceMethod {
  return compute.kind === 'none' ? 'demote' : 'power-off';
}

/**
 * The leg under way: the switchover itself, (failover, after `retry`) the switchover to the next candidate, or
 * (make-active, after `roll-back`) the restoration of the original.
 */
interface Leg {
  rollingBack: boolean;
  epoch: number;
  progress: LegProgress;
  /** The node to promote, when known. */
  target: string | null;
  /** Nodes this leg must not promote: the targets that already failed. */
  excluded: readonly string[];
}

function currentLeg(plan: FailoverPlan, progress: FailoverProgress): Leg {
  if (progress.rollBack)
    return {
      rollingBack: true,
      epoch: progress.rollBack.epoch,
      progress: progress.rollBack,
      target: plan.oldActive,
      excluded: [],
    };
  if (progress.retry)
    return {
      rollingBack: false,
      epoch: progress.retry.epoch,
      progress: progress.retry,
      target: progress.retry.chosenTarget ?? null,
      excluded: progress.retry.failed,
    };
  return {
    rollingBack: false,
    epoch: plan.epoch,
    progress,
    target: plan.target ?? progress.chosenTarget ?? null,
    excluded: [],
  };
}

/** How the leg fences the holder of its epoch: the plan's method, but a failed target of a retry is demoted. */
export function legFenceMethod(plan: FailoverPlan, progress: FailoverProgress): FenceMethod {
  if (plan.kind === 'make-active' || progress.retry || progress.rollBack) return 'demote';
  return plan.fencing;
}

/** The epoch the operation is ending now (where fencing evidence must point). */
export function currentEpoch(plan: FailoverPlan, progress: FailoverProgress): number {
  return currentLeg(plan, progress).epoch;
}

/**
 * The health checks the control plane sees for a node: its heartbeat age (ok within two intervals, warn within the
 * detection window, fail beyond), its reported checks, and its replication lag against the RPO (warn above it).
 */
export function nodeChecks(
  node: NodeEvidence | undefined,
  policy: FailoverPolicy,
  now: number,
): HealthCheck[] {
  const d = policy.detection;
  const age = node?.lastHeartbeatAt === undefined ? Number.POSITIVE_INFINITY : now - node.lastHeartbeatAt;
  const heartbeat: HealthCheck['status'] =
    age < 2 * d.heartbeatIntervalMs
      ? 'ok'
      : age < d.missedHeartbeats * d.heartbeatIntervalMs
        ? 'warn'
        : 'fail';
  const checks: HealthCheck[] = [{ name: 'heartbeat', status: heartbeat }, ...(node?.checks ?? [])];
  const lag = node?.replicationLagMs;
  if (lag !== undefined) checks.push({ name: 'replication', status: lag <= policy.rpoMs ? 'ok' : 'warn' });
  return checks;
}

type TargetProblem = {
  code: 'TargetNotInCluster' | 'TargetUnhealthy' | 'ReplicationLagAboveRpo';
  message: string;
};

/**
 * Whether `target` may become active now: a node of the cluster, healthy, and (unless `rpo` is false) caught up,
 * lag ≤ RPO. A make-active holds its target to the RPO; an unplanned failover does not (the active is gone: a
 * lagging standby beats none), it only prefers a caught-up one.
 */
export function targetProblem(input: FailoverStepInput, target: string, rpo = true): TargetProblem | null {
  const { plan, evidence, policy, now } = input;
  if (!plan.candidates.some((c) => c.nodeId === target))
    return { code: 'TargetNotInCluster', message: `${target} is not a node of ${plan.clusterId}` };
  const node = evidence.nodes.find((n) => n.nodeId === target);
  const checks = nodeChecks(node, policy, now);
  const failing = checks.filter((c) => c.status === 'fail').map((c) => c.name);
  if (failing.length > 0)
    return { code: 'TargetUnhealthy', message: `${target} fails ${failing.join(', ')}` };
  const lag = node?.replicationLagMs;
  if (rpo && lag !== undefined && lag > policy.rpoMs)
    return {
      code: 'ReplicationLagAboveRpo',
      message: `${target} lags ${lag} ms behind, above the RPO of ${policy.rpoMs} ms`,
    };
  return null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The promise binding `node` at `now`, as its latest heartbeat reported it: it ends at that heartbeat's receive time
 * plus what was left of it when it was sent (later than its true end: the sending took time). Undefined: not bound.
 */
export function reportedPromise(
  node: NodeEvidence | undefined,
  now: number,
): { to: string; epoch: number; until: number } | undefined {
  const promise = node?.peer?.promise;
  if (!promise || node?.lastHeartbeatAt === undefined) return undefined;
  const until = node.lastHeartbeatAt + promise.remainingMs;
  return until > now ? { to: promise.to, epoch: promise.epoch, until } : undefined;
}

/** Whether a promotion records the new epoch's promotable set: the plan says, else as under the current epoch. */
export function usesPeerLeases(plan: FailoverPlan, state: ClusterState): boolean {
  return plan.peerLeases ?? state.promotable !== undefined;
}

/** What the nodes' latest heartbeats say of their promises and the epochs they closed (`peerLeasesEndAt`'s input). */
export function promiserEvidence(nodes: readonly NodeEvidence[]): PromiserEvidence[] {
  return nodes.flatMap((n) =>
    n.lastHeartbeatAt === undefined
      ? []
      : [
          {
            nodeId: n.nodeId,
            receivedAt: n.lastHeartbeatAt,
            closedEpoch: n.peer?.closedEpoch ?? 0,
            ...(n.peer?.promise ? { promise: n.peer.promise } : {}),
          },
        ],
  );
}

/**
 * Rule (peer promises): the holder of the state's (revoked) epoch may hold a peer lease from the nodes of that
 * epoch's promotable set, which refuse promotion by themselves while bound; a node outside the set (added later)
 * refuses nothing, so it is promoted only once the holder is confirmed fenced, or every peer lease it could hold has
 * certainly ended (`peerLeasesEndAt`: a node of the set closed the epoch and its promise ended, plus the drift
 * margin). Null when `nodeId` may be promoted as far as peer leases go; else until when (null: until new evidence)
 * and why not.
 */
export function peerLeaseBlock(
  input: FailoverStepInput,
  nodeId: string,
): { until: number | null; reason: string } | null {
  const { state, evidence, policy, now } = input;
  const set = state.promotable;
  if (set === undefined || set.includes(nodeId) || nodeId === state.activeNodeId || state.fenced) return null;
  const end = peerLeasesEndAt(
    state.epoch,
    set,
    promiserEvidence(evidence.nodes),
    policy.detection.driftMarginMs,
  );
  if (end !== null && now >= end) return null;
  const holder = state.activeNodeId ?? 'the old active';
  const outside = `${nodeId} is outside the promotable set of epoch ${state.epoch} (${set.join(', ') || 'none'})`;
  return end === null
    ? {
        until: null,
        reason: `${outside} and no node of that set has reported closing epoch ${state.epoch}: ${holder} may still hold a peer lease (waiting for such a report, or for ${holder}'s fencing)`,
      }
    : {
        until: end,
        reason: `${outside}: every peer lease ${holder} could hold under epoch ${state.epoch} ends by ${iso(end)}`,
      };
}

/** Why `nodeId` cannot be promoted yet on account of peer promises (rules b and c), or undefined. */
function peerHold(input: FailoverStepInput, nodeId: string): { until: number; reason: string } | undefined {
  const { evidence, policy, now } = input;
  const bound = reportedPromise(
    evidence.nodes.find((n) => n.nodeId === nodeId),
    now,
  );
  if (bound)
    return {
      until: bound.until,
      reason: `${nodeId} is bound by its promise to ${bound.to} (epoch ${bound.epoch}) until ${iso(bound.until)}: it accepts no promotion before`,
    };
  const block = peerLeaseBlock(input, nodeId);
  if (block)
    return { until: block.until ?? now + policy.detection.heartbeatIntervalMs, reason: block.reason };
  return undefined;
}

/**
 * The promise a standby reports to the current, unrevoked active under the current epoch, live at `now` (from the
 * nodes' latest heartbeats, or as the heartbeat path recorded it in the state): the active is alive.
 */
export function activeConfirmedByPeer(
  state: ClusterState,
  nodes: readonly NodeEvidence[],
  now: number,
): { by: string; until: number; epoch: number } | undefined {
  const reports: PromiseReport[] = nodes.flatMap((n) =>
    n.peer?.promise && n.lastHeartbeatAt !== undefined
      ? [{ nodeId: n.nodeId, ...n.peer.promise, receivedAt: n.lastHeartbeatAt }]
      : [],
  );
  const recorded = state.peerConfirmed;
  if (recorded && recorded.by !== state.activeNodeId)
    reports.push({
      nodeId: recorded.by,
      to: state.activeNodeId ?? '',
      epoch: recorded.epoch,
      remainingMs: recorded.until - recorded.at,
      receivedAt: recorded.at,
    });
  return peerConfirmation(state, reports, now);
}

/**
 * The failover's target rule: among the nodes other than the old active that have no failing check, the one
 * `arbitrate` prefers (fewer failing, then fewer warning checks — a stale heartbeat or a lag above the RPO warns —
 * then the lower priority number, then the node id), preferring one free to take over now (peer promises: not bound
 * by a promise, not waiting for the old active's peer leases to end) when there is one. When no other node qualifies
 * but the old active is healthy (a false alarm, or it came back), it is reinstated under the new epoch: a cluster
 * with a live node is never left without an active. Null when no node qualifies.
 */
export function chooseTarget(
  input: FailoverStepInput,
  oldActive: string | null,
  excluded: readonly string[] = [],
): { target: string; reason: string } | null {
  const { plan, evidence, policy, now } = input;
  const healthy: ArbitrationCandidate[] = plan.candidates
    .filter((c) => !excluded.includes(c.nodeId))
    .map((c) => ({
      nodeId: c.nodeId,
      priority: c.priority,
      checks: nodeChecks(
        evidence.nodes.find((n) => n.nodeId === c.nodeId),
        policy,
        now,
      ),
    }))
    .filter(isHealthy);
  const others = healthy.filter((c) => c.nodeId !== oldActive);
  if (others.length > 0) {
    const held = new Map(
      others.flatMap((c) => {
        const hold = peerHold(input, c.nodeId);
        return hold ? [[c.nodeId, hold.reason] as const] : [];
      }),
    );
    const free = others.filter((c) => !held.has(c.nodeId));
    if (free.length > 0 && held.size > 0)
      return {
        target: arbitrate(free, null).winner,
        reason: `the healthiest standby free to take over now, by priority (not ${[...held.values()].join('; ')})`,
      };
    return { target: arbitrate(others, null).winner, reason: 'the healthiest standby, by priority' };
  }
  if (healthy.length > 0 && oldActive !== null)
    return { target: oldActive, reason: `no healthy standby; ${oldActive}, the old active, is healthy` };
  return null;
}

/** The evidence that confirms `nodeId`, the holder of `epoch`'s lease, fenced: a demotion ack or a stopped VM. */
export function fencingConfirmedBy(
  evidence: readonly FencingEvidence[],
  nodeId: string,
  epoch: number,
): FencingEvidence | undefined {
  return evidence.find(
    (e) =>
      e.nodeId === nodeId &&
      e.epoch === epoch &&
      (e.kind === 'demotion-ack' ||
        e.kind === 'peer-fenced' ||
        (e.kind === 'power-state' && e.power === 'stopped')),
  );
}

function describeEvidence(e: FencingEvidence): string {
  switch (e.kind) {
    case 'demotion-ack':
      return `${e.nodeId} acknowledged its demotion from epoch ${e.epoch}`;
    case 'peer-fenced':
      return `${e.by} fenced ${e.nodeId} through its fence-peer hook (epoch ${e.epoch})`;
    case 'power-state':
      return `the cloud shows ${e.nodeId} stopped (epoch ${e.epoch})`;
  }
}

/**
 * A failover with no healthy node left: start a stopped standby (lowest priority number first) and wait for it to
 * boot and heartbeat, up to the verify timeout; one started node per operation. Null when there is none to start.
 */
function coldStandby(
  input: FailoverStepInput,
  holder: string | null,
  excluded: readonly string[],
): FailoverStep | null {
  const { plan, progress, evidence, policy, now } = input;
  const started = progress.started;
  if (started) {
    if (excluded.includes(started.nodeId)) return null;
    const d = policy.detection;
    const deadline = started.at + (policy.verifyTimeoutMs ?? d.heartbeatIntervalMs * d.missedHeartbeats);
    if (now >= deadline) return null;
    return {
      step: 'wait',
      until: deadline,
      reason: `${started.nodeId} is starting: waiting for its heartbeat`,
    };
  }
  const stopped = plan.candidates
    .filter((c) => c.nodeId !== holder && c.nodeId !== plan.oldActive && !excluded.includes(c.nodeId))
    .filter((c) => evidence.nodes.find((n) => n.nodeId === c.nodeId)?.power === 'stopped')
    .sort((a, b) => a.priority - b.priority || a.nodeId.localeCompare(b.nodeId));
  const first = stopped[0];
  if (!first) return null;
  return {
    step: 'start-target',
    nodeId: first.nodeId,
    reason: `no healthy node; ${first.nodeId} is stopped`,
  };
}

/**
 * Whether the promoted target has taken over, failed, or is still on its way: its promote acknowledgement under the
 * new epoch, its healthy heartbeats as the active (`verifyHeartbeats`), its lease, and whether it still heartbeats.
 */
export function takeOver(
  input: FailoverStepInput,
  promoted: Promotion,
):
  | { status: 'verified' }
  | { status: 'pending'; until: number }
  | { status: 'failed'; reason: TakeOverFailure } {
  const { state, evidence, policy, now } = input;
  const node = evidence.nodes.find((n) => n.nodeId === promoted.nodeId);
  const ack = node?.promoteAck;
  if (ack && ack.epoch === promoted.epoch && ack.outcome === 'failed')
    return { status: 'failed', reason: 'PromoteFailed' };
  const wanted = policy.verifyHeartbeats;
  const heard = node?.activeHeartbeats;
  const enough =
    wanted === undefined || (heard !== undefined && heard.epoch === promoted.epoch && heard.count >= wanted);
  if (state.leaseExpiresAt !== null && enough) return { status: 'verified' };
  const d = policy.detection;
  const window = d.heartbeatIntervalMs * d.missedHeartbeats;
  const deadline = promoted.at + (policy.verifyTimeoutMs ?? window);
  // A target that stopped heartbeating since its promotion (none for a detection window) is not coming — unless no
  // node was heard for a window: then the control plane itself was unreachable (or down), not just the target.
  const last = node?.lastHeartbeatAt;
  const silentSince = Math.max(promoted.at, last ?? Number.NEGATIVE_INFINITY);
  const anyoneHeard = evidence.nodes.some(
    (n) => n.lastHeartbeatAt !== undefined && now - n.lastHeartbeatAt < window,
  );
  if (now >= deadline || (anyoneHeard && now - silentSince >= window))
    return { status: 'failed', reason: 'TargetDidNotTakeOver' };
  return { status: 'pending', until: Math.min(deadline, silentSince + window) };
}

/** The next step of a failover or make-active operation. */
export function nextFailoverStep(
  input: FailoverStepInput,
  decisions: FailoverDecisions = productDecisions,
): FailoverStep {
  const { plan, progress, state, policy, now } = input;
  const margin = policy.detection.driftMarginMs;
  const makeActive = plan.kind === 'make-active';
  if (makeActive && plan.target === null)
    return { step: 'refuse', code: 'TargetRequired', message: 'a make-active names the node to make active' };
  const leg = currentLeg(plan, progress);
  const what = leg.rollingBack ? `roll-back of ${plan.kind}` : plan.kind;
  const rollBack = (reason: RollBackReason, epoch: number): FailoverStep =>
    plan.oldActive === null
      ? {
          step: 'refuse',
          code: 'NothingToRollBackTo',
          message: `${plan.kind} failed (${reason}); no original active`,
        }
      : { step: 'roll-back', to: plan.oldActive, epoch, reason };

  // The leg's own promotion committed: verify the new active took over, or find the cluster moved on.
  const promoted = leg.progress.promoted;
  if (promoted) {
    if (state.epoch !== promoted.epoch || state.activeNodeId !== promoted.nodeId || state.revoked)
      return { step: 'superseded', epoch: state.epoch, activeNodeId: state.activeNodeId };
    const outcome = leg.rollingBack ? 'rolled-back' : 'promoted';
    const took = takeOver(input, promoted);
    if (took.status === 'verified')
      return { step: 'done', outcome, activeNodeId: promoted.nodeId, epoch: promoted.epoch, verified: true };
    if (took.status === 'pending')
      return { step: 'verify', target: promoted.nodeId, epoch: promoted.epoch, until: took.until };
    if (makeActive && !leg.rollingBack) return rollBack(took.reason, promoted.epoch);
    if (!makeActive && !leg.rollingBack)
      return { step: 'retry', from: promoted.nodeId, epoch: promoted.epoch, reason: took.reason };
    // A roll-back's own promotion failed: there is nobody left to restore.
    return {
      step: 'refuse',
      code: 'NothingToRollBackTo',
      message: `${what}: ${promoted.nodeId} did not take over again (${took.reason})`,
    };
  }

  if (state.epoch !== leg.epoch)
    return { step: 'superseded', epoch: state.epoch, activeNodeId: state.activeNodeId };

  if (!state.revoked) {
    if (leg.target !== null && leg.target === state.activeNodeId)
      return {
        step: 'done',
        outcome: leg.rollingBack ? 'rolled-back' : 'already-active',
        activeNodeId: leg.target,
        epoch: state.epoch,
        verified: true,
      };
    if (makeActive && !leg.rollingBack && leg.target !== null) {
      const problem = targetProblem(input, leg.target);
      if (problem) return { step: 'refuse', ...problem };
    }
    // The detector saw the active silent to the control plane, but a standby it asked for a promise says it is alive:
    // no failover for that alone (a webhook's or an operator's failover goes ahead: the peer closes the epoch when it
    // learns the revocation, and its promise lapses before any promotion).
    if (!makeActive && !leg.rollingBack && !progress.retry && plan.trigger === 'detector') {
      const confirmed = activeConfirmedByPeer(state, input.evidence.nodes, now);
      if (confirmed)
        return {
          step: 'refuse',
          code: 'ActiveConfirmedAliveByPeer',
          message: `${state.activeNodeId ?? '?'} is unreachable from the control plane but confirmed alive by its peer ${confirmed.by} (a promise under epoch ${confirmed.epoch} until ${iso(confirmed.until)})`,
        };
    }
    return {
      step: 'revoke',
      epoch: state.epoch,
      nodeId: state.activeNodeId,
      state: decisions.revoke(state, now, `${what} (ending epoch ${state.epoch})`),
    };
  }

  // Revoked: fence the holder of the epoch's lease, unless it is the node to promote (a roll-back to it).
  const holder = state.activeNodeId;
  if (holder !== null && holder !== leg.target) {
    if (leg.progress.fencingStartedAt === undefined) {
      if (makeActive && !leg.rollingBack)
        return {
          step: 'demote-gracefully',
          nodeId: holder,
          epoch: state.epoch,
          deadline: now + (policy.demoteTimeoutMs ?? policy.detection.leaseMs),
        };
      return {
        step: 'fence',
        method: legFenceMethod(plan, progress),
        nodeId: holder,
        epoch: state.epoch,
      };
    }
    const fenced = fencingConfirmedBy(input.evidence.fencing, holder, state.epoch);
    if (fenced && !state.fenced) {
      const evidence = describeEvidence(fenced);
      return {
        step: 'confirm-fenced',
        nodeId: holder,
        epoch: state.epoch,
        evidence,
        state: decisions.confirmFenced(state, now, evidence),
      };
    }
  }

  // make-active: the target must still be fit to take over, or the switchover is rolled back.
  if (makeActive && !leg.rollingBack && leg.target !== null) {
    const problem = targetProblem(input, leg.target);
    if (problem) {
      if (problem.code === 'TargetNotInCluster') return { step: 'refuse', ...problem };
      return rollBack(problem.code, state.epoch);
    }
  }

  const decision = decisions.mayPromote(state, now, margin);
  if (!decision.allowed) {
    let until = decision.retryAt ?? now;
    const started = leg.progress.fencingStartedAt;
    if (makeActive && !leg.rollingBack && started !== undefined) {
      const deadline = started + (policy.demoteTimeoutMs ?? policy.detection.leaseMs);
      if (now >= deadline) return rollBack('DemotionNotAcknowledged', state.epoch);
      until = Math.min(until, deadline);
    }
    return { step: 'wait', until, reason: decision.reason };
  }

  const target = leg.target;
  if (!makeActive && !leg.rollingBack) {
    if (plan.target !== null && !progress.retry) {
      const problem = targetProblem(input, plan.target, false);
      if (problem) return { step: 'refuse', ...problem };
    } else if (target === null || targetProblem(input, target, false) !== null) {
      // A retry still prefers any other node to the original active (the node the failover set out to replace).
      const chosen = chooseTarget(input, progress.retry ? plan.oldActive : holder, leg.excluded);
      if (chosen === null) {
        const cold = coldStandby(input, holder, leg.excluded);
        if (cold) return cold;
        return {
          step: 'refuse',
          code: 'NoHealthyTarget',
          message:
            leg.excluded.length > 0
              ? `no healthy node left to promote in ${plan.clusterId} (failed: ${leg.excluded.join(', ')})`
              : `no healthy node to promote in ${plan.clusterId}`,
        };
      }
      return { step: 'choose-target', ...chosen };
    }
  }
  if (target === null)
    return { step: 'refuse', code: 'NothingToRollBackTo', message: `${what} has no node to promote` };
  // Peer promises: a bound target refuses the promotion until its promise lapses; a target outside the epoch's
  // promotable set waits for the old active's fencing or the end of every peer lease it could hold.
  const hold = peerHold(input, target);
  if (hold) return { step: 'wait', until: hold.until, reason: hold.reason };
  const nodeIds = plan.nodes ?? plan.candidates.map((c) => c.nodeId);
  return {
    step: 'promote',
    target,
    epoch: state.epoch + 1,
    state: decisions.promote(
      state,
      target,
      now,
      margin,
      `${what}: ${target} active under epoch ${state.epoch + 1}`,
      usesPeerLeases(plan, state) ? { promotable: promotableSet(nodeIds, target) } : undefined,
    ),
  };
}

/**
 * The operation's progress after the caller carried out `step` at `now` (for `promote`: after its write committed).
 * Steps that only write the state (revoke, confirm-fenced) or end the operation leave it unchanged.
 */
export function recordStep(progress: FailoverProgress, step: FailoverStep, now: number): FailoverProgress {
  const updateLeg = (patch: LegProgress): FailoverProgress =>
    progress.rollBack
      ? { ...progress, rollBack: { ...progress.rollBack, ...patch } }
      : progress.retry
        ? { ...progress, retry: { ...progress.retry, ...patch } }
        : { ...progress, ...patch };
  switch (step.step) {
    case 'fence':
    case 'demote-gracefully':
      return updateLeg({ fencingStartedAt: now });
    case 'start-target':
      return { ...progress, started: { nodeId: step.nodeId, at: now } };
    case 'choose-target':
      return progress.retry
        ? { ...progress, retry: { ...progress.retry, chosenTarget: step.target } }
        : { ...progress, chosenTarget: step.target };
    case 'retry':
      return {
        ...progress,
        retry: {
          epoch: step.epoch,
          failed: [...(progress.retry?.failed ?? []), step.from],
          reason: step.reason,
        },
      };
    case 'promote':
      return updateLeg({ promoted: { nodeId: step.target, epoch: step.epoch, at: now } });
    case 'roll-back':
      return { ...progress, rollBack: { epoch: step.epoch, reason: step.reason } };
    default:
      return progress;
  }
}
