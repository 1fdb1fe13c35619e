import type { ClusterDocument } from '../../domain/clusterDocument';
import type { ClusterState, NodeHeartbeat } from '../../domain/clusterState';
import {
  nodeChecks,
  targetProblem,
  type FailoverPolicy,
  type FailoverStepInput,
  type NodeEvidence,
} from '../../domain/failoverSteps';
import type { Services } from '../../services/services';
import { refuse, type Outcome } from '../common/outcome';

/**
 * The make-active confirmation screen: what a planned switchover to `target` would do (who becomes active, who
 * passive, which hooks run where) and whether it may run now. The preconditions are read with the step rules' own
 * `nodeChecks` and `targetProblem` (shared/domain/failoverSteps.ts), so the screen agrees with what the operation
 * will check when it starts.
 */

export type MakeActivePreconditionName =
  | 'target-in-cluster'
  | 'target-healthy'
  | 'target-heartbeating'
  | 'replication-lag-within-rpo'
  | 'not-already-active';

export interface MakeActivePrecondition {
  name: MakeActivePreconditionName;
  ok: boolean;
  /** What was measured: the node id, the failing checks, the heartbeat age (ms), the lag (ms), the active node. */
  value: string | number | string[] | null;
  /** The bound `value` is held to (ms), when there is one. */
  limit?: number;
  detail: string;
}

export interface MakeActiveHook {
  node: string;
  command: 'demote' | 'promote';
  runs:
    'demote hooks (pre-demote, demote, post-demote)' | 'promote hooks (pre-promote, promote, post-promote)';
}

export interface MakeActivePlan {
  clusterId: string;
  /** The epoch the operation would end (the state's now); the target becomes active under the next one. */
  epoch: number;
  /** The active node now (null: none, e.g. its lease was revoked). */
  currentActive: string | null;
  target: string;
  becomesActive: string;
  /** The node(s) whose role changes to passive: the current active, unless it is the target. */
  becomesPassive: string[];
  preconditions: MakeActivePrecondition[];
  /** The commands the switchover sends, in order: the active's demotion, then the target's promotion. */
  hooks: MakeActiveHook[];
  /** The names of the failed preconditions. */
  blockers: MakeActivePreconditionName[];
  /**
   * No blockers, or only the RPO bound and `force`: force never lifts a health precondition, which the operation's
   * step rules would refuse anyway (an unhealthy or silent target would not take over).
   */
  canRun: boolean;
}

export interface MakeActivePlanInput {
  document: ClusterDocument;
  state: ClusterState | undefined;
  /** The latest heartbeat of each node, as the status gathers them (the heartbeat rows and the active's in the state). */
  heartbeats: readonly NodeHeartbeat[];
  /** `document.failover.rpoObjectiveMs`. */
  rpoMs: number;
  now: number;
  target: string;
  force?: boolean;
}

/** The latest heartbeat of each node: its row, or the active's heartbeat kept in the state when not older. */
export function latestHeartbeats(
  heartbeats: readonly NodeHeartbeat[],
  state: ClusterState | undefined,
): NodeHeartbeat[] {
  const latest = new Map<string, NodeHeartbeat>();
  for (const hb of heartbeats) {
    const known = latest.get(hb.nodeId);
    if (!known || hb.receivedAt > known.receivedAt) latest.set(hb.nodeId, hb);
  }
  // As the operation reads it: the state's copy wins a tie with the row.
  const active = state?.activeHeartbeat;
  const row = active && latest.get(active.nodeId);
  if (active && (!row || active.receivedAt >= row.receivedAt)) latest.set(active.nodeId, active);
  return [...latest.values()];
}

/** The evidence of a node the step rules read, from its latest heartbeat. */
export function nodeEvidence(hb: NodeHeartbeat): NodeEvidence {
  return {
    nodeId: hb.nodeId,
    lastHeartbeatAt: hb.receivedAt,
    checks: hb.checks.map((c) => ({ name: c.name, status: c.status })),
    ...(hb.replicationLagMs !== undefined ? { replicationLagMs: hb.replicationLagMs } : {}),
    ...(hb.peer !== undefined ? { peer: hb.peer } : {}),
  };
}

/** The failover policy of a cluster document: its detection policy and RPO. */
export function failoverPolicy(document: ClusterDocument, rpoMs: number): FailoverPolicy {
  const d = document.detection;
  return {
    detection: {
      heartbeatIntervalMs: d.heartbeatIntervalMs,
      missedHeartbeats: d.missedHeartbeats,
      leaseMs: d.leaseMs,
      driftMarginMs: d.driftMarginMs,
    },
    rpoMs,
  };
}

const problemPrecondition: Record<
  NonNullable<ReturnType<typeof targetProblem>>['code'],
  MakeActivePreconditionName
> = {
  TargetNotInCluster: 'target-in-cluster',
  TargetUnhealthy: 'target-healthy',
  ReplicationLagAboveRpo: 'replication-lag-within-rpo',
};

/** The make-active plan. Pure. */
export function buildMakeActivePlan(input: MakeActivePlanInput): MakeActivePlan {
  const { document, state, now, target } = input;
  const clusterId = document.id;
  const epoch = state?.epoch ?? 0;
  const currentActive = state && !state.revoked ? state.activeNodeId : null;
  const policy = failoverPolicy(document, input.rpoMs);
  const evidence = latestHeartbeats(input.heartbeats, state).map(nodeEvidence);
  const node = evidence.find((n) => n.nodeId === target);
  const inCluster = document.nodes.some((n) => n.id === target);

  const checks = nodeChecks(node, policy, now);
  const heartbeat = checks.find((c) => c.name === 'heartbeat');
  // The node's own checks (nodeChecks puts the heartbeat first and the replication check last, when there is one).
  const reported = checks.slice(1, node?.replicationLagMs === undefined ? undefined : -1);
  const failing = reported.filter((c) => c.status === 'fail').map((c) => c.name);
  const age = node?.lastHeartbeatAt === undefined ? null : Math.max(0, now - node.lastHeartbeatAt);
  const window = policy.detection.missedHeartbeats * policy.detection.heartbeatIntervalMs;
  const lag = node?.replicationLagMs ?? null;

  const preconditions: MakeActivePrecondition[] = [
    {
      name: 'target-in-cluster',
      ok: inCluster,
      value: target,
      detail: inCluster ? `${target} is a node of ${clusterId}` : `${target} is not a node of ${clusterId}`,
    },
    {
      name: 'target-healthy',
      ok: failing.length === 0,
      value: failing,
      detail:
        failing.length === 0 ? `${target} reports no failing check` : `${target} fails ${failing.join(', ')}`,
    },
    {
      name: 'target-heartbeating',
      ok: heartbeat?.status !== 'fail',
      value: age,
      limit: window,
      detail:
        age === null
          ? `${target} was never heard from`
          : heartbeat?.status === 'fail'
            ? `${target} last heartbeat ${age} ms ago, beyond the detection window of ${window} ms`
            : `${target} last heartbeat ${age} ms ago (${heartbeat?.status ?? 'ok'})`,
    },
    {
      name: 'replication-lag-within-rpo',
      ok: lag === null || lag <= policy.rpoMs,
      value: lag,
      limit: policy.rpoMs,
      detail:
        lag === null
          ? `${target} reports no replication lag`
          : lag <= policy.rpoMs
            ? `${target} lags ${lag} ms, within the RPO of ${policy.rpoMs} ms`
            : `${target} lags ${lag} ms behind, above the RPO of ${policy.rpoMs} ms`,
    },
    {
      name: 'not-already-active',
      ok: currentActive !== target,
      value: currentActive,
      detail:
        currentActive === target
          ? `${target} is already the active node (epoch ${epoch})`
          : currentActive === null
            ? 'no node is active now'
            : `${currentActive} is active now (epoch ${epoch})`,
    },
  ];

  // The step rules' own verdict: a refusal the operation would answer must show here as a failed precondition.
  const stepInput: FailoverStepInput = {
    plan: {
      kind: 'make-active',
      clusterId,
      epoch,
      oldActive: currentActive,
      target,
      candidates: document.nodes.map((n) => ({ nodeId: n.id, priority: n.priority })),
      fencing: 'demote',
    },
    progress: {},
    state: state ?? {
      clusterId,
      epoch,
      activeNodeId: null,
      leaseExpiresAt: null,
      revoked: false,
      fenced: false,
      updatedAt: now,
      reason: '',
    },
    evidence: { fencing: [], nodes: evidence },
    policy,
    now,
  };
  const problem = targetProblem(stepInput, target);
  if (problem) {
    const name = problemPrecondition[problem.code];
    // TargetUnhealthy covers a failing check and a silent node alike.
    const names = name === 'target-healthy' ? [name, 'target-heartbeating'] : [name];
    const precondition = preconditions.find((p) => p.name === name);
    if (precondition && !preconditions.some((p) => !p.ok && names.includes(p.name))) {
      precondition.ok = false;
      precondition.detail = problem.message;
    }
  }

  const blockers = preconditions.filter((p) => !p.ok).map((p) => p.name);
  const hooks: MakeActiveHook[] = [];
  if (currentActive !== null && currentActive !== target)
    hooks.push({
      node: currentActive,
      command: 'demote',
      runs: 'demote hooks (pre-demote, demote, post-demote)',
    });
  if (inCluster && currentActive !== target)
    hooks.push({
      node: target,
      command: 'promote',
      runs: 'promote hooks (pre-promote, promote, post-promote)',
    });

  return {
    clusterId,
    epoch,
    currentActive,
    target,
    becomesActive: target,
    becomesPassive: currentActive !== null && currentActive !== target ? [currentActive] : [],
    preconditions,
    hooks,
    blockers,
    canRun: inCluster && blockers.every((b) => input.force === true && b === 'replication-lag-within-rpo'),
  };
}

/** Reads what the plan needs and builds it; `ClusterNotFound` (not-found) for an undeclared cluster. */
export async function loadMakeActivePlan(
  services: Services,
  clusterId: string,
  target: string,
  force = false,
): Promise<Outcome<{ plan: MakeActivePlan }>> {
  const stored = await services.clusters.getDocument(clusterId);
  if (!stored) return refuse('not-found', 'ClusterNotFound', `cluster ${clusterId} is not declared`);
  const [state, heartbeats] = await Promise.all([
    services.clusters.getState(clusterId),
    services.heartbeats.listForCluster(clusterId),
  ]);
  const plan = buildMakeActivePlan({
    document: stored.document,
    state: state?.state,
    heartbeats,
    rpoMs: stored.document.failover.rpoObjectiveMs,
    now: services.now(),
    target,
    force,
  });
  return { ok: true, plan };
}
