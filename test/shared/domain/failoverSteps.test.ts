import { initialClusterState, type ClusterState } from '../../../shared/domain/clusterState';
import { confirmFenced, grantLease, revoke } from '../../../shared/domain/decisions';
import {
  nextFailoverStep,
  recordStep,
  type FailoverPlan,
  type FailoverPolicy,
  type FailoverProgress,
  type FailoverStep,
  type FailoverStepInput,
  type FencingEvidence,
  type NodeEvidence,
} from '../../../shared/domain/failoverSteps';

const T = 1_000_000;
const HEARTBEAT = 1000;
const MISSED = 3;
const LEASE = 4000;
const MARGIN = 500;
const RPO = 5000;
/** When the old active's lease (granted at T) is certainly over: rule 3's wait. */
const LEASE_OVER = T + LEASE + MARGIN;

const policy: FailoverPolicy = {
  detection: {
    heartbeatIntervalMs: HEARTBEAT,
    missedHeartbeats: MISSED,
    leaseMs: LEASE,
    driftMarginMs: MARGIN,
  },
  rpoMs: RPO,
};

/** a is active under epoch 1 with a lease recorded until T + LEASE. */
function active(): ClusterState {
  const decision = grantLease(initialClusterState('c1', 'a', T - 10_000), 'a', 1, T, LEASE);
  if (!decision.granted) throw new Error('expected a grant');
  return decision.state;
}
const revoked = () => revoke(active(), T + 100, 'test');

function plan(patch: Partial<FailoverPlan> = {}): FailoverPlan {
  return {
    kind: 'failover',
    clusterId: 'c1',
    epoch: 1,
    oldActive: 'a',
    target: null,
    candidates: [
      { nodeId: 'a', priority: 0 },
      { nodeId: 'b', priority: 1 },
      { nodeId: 'c', priority: 2 },
    ],
    fencing: 'power-off',
    ...patch,
  };
}

/** Every node heard from 100 ms before `now`, unless told otherwise. */
function nodes(now: number, patch: Record<string, Partial<NodeEvidence> | null> = {}): NodeEvidence[] {
  return ['a', 'b', 'c'].map((nodeId) => {
    const p = patch[nodeId];
    if (p === null) return { nodeId }; // never heard from
    return { nodeId, lastHeartbeatAt: now - 100, ...p };
  });
}

interface Given {
  plan?: Partial<FailoverPlan>;
  progress?: FailoverProgress;
  state: ClusterState;
  fencing?: FencingEvidence[];
  nodes?: Record<string, Partial<NodeEvidence> | null>;
  now: number;
  policy?: Partial<FailoverPolicy>;
}

function input(g: Given): FailoverStepInput {
  return {
    plan: plan(g.plan),
    progress: g.progress ?? {},
    state: g.state,
    evidence: { fencing: g.fencing ?? [], nodes: nodes(g.now, g.nodes) },
    policy: { ...policy, ...g.policy },
    now: g.now,
  };
}

const next = (g: Given) => nextFailoverStep(input(g));

/**
 * Plays the caller against an in-memory state: writes each step's state (If-Match always succeeds here), records the
 * steps that need no I/O answer, and stops at the first step that waits on the world (wait, verify) or ends the
 * operation. Returns the steps taken, the state and the progress reached.
 */
function drive(g: Given): { steps: FailoverStep[]; state: ClusterState; progress: FailoverProgress } {
  let state = g.state;
  let progress = g.progress ?? {};
  const steps: FailoverStep[] = [];
  for (let i = 0; i < 20; i++) {
    const step = next({ ...g, state, progress });
    steps.push(step);
    switch (step.step) {
      case 'revoke':
      case 'confirm-fenced':
        state = step.state;
        break;
      case 'promote':
        state = step.state;
        progress = recordStep(progress, step, g.now);
        break;
      case 'fence':
      case 'demote-gracefully':
      case 'choose-target':
      case 'roll-back':
      case 'retry':
        progress = recordStep(progress, step, g.now);
        break;
      default:
        return { steps, state, progress };
    }
  }
  throw new Error(`no end: ${JSON.stringify(steps.map((s) => s.step))}`);
}
const names = (steps: FailoverStep[]) => steps.map((s) => s.step);

describe('unplanned failover', () => {
  it('starts by revoking the lease of the epoch it set out to end', () => {
    const step = next({ state: active(), now: T + 100 });
    expect(step).toMatchObject({ step: 'revoke', epoch: 1, nodeId: 'a' });
    if (step.step !== 'revoke') throw new Error(step.step);
    expect(step.state).toMatchObject({ epoch: 1, activeNodeId: 'a', revoked: true, fenced: false });
  });

  it('fences the old active of the revoked epoch by the planned method', () => {
    expect(next({ state: revoked(), now: T + 200 })).toEqual({
      step: 'fence',
      method: 'power-off',
      nodeId: 'a',
      epoch: 1,
    });
    expect(next({ plan: { fencing: 'lease-wait' }, state: revoked(), now: T + 200 })).toMatchObject({
      step: 'fence',
      method: 'lease-wait',
    });
  });

  it('does not promote before the old lease plus drift margin has passed when the old active cannot be fenced', () => {
    const running: FencingEvidence[] = [{ kind: 'power-state', nodeId: 'a', epoch: 1, power: 'running' }];
    const progress = { fencingStartedAt: T + 200 };
    for (const now of [T + 200, T + LEASE, LEASE_OVER - 1]) {
      expect(next({ state: revoked(), progress, fencing: running, now })).toEqual({
        step: 'wait',
        until: LEASE_OVER,
        reason: expect.stringMatching(/lease/),
      });
    }
    const { steps, state } = drive({ state: revoked(), progress, fencing: running, now: LEASE_OVER });
    expect(names(steps)).toEqual(['choose-target', 'promote', 'verify']);
    expect(state).toMatchObject({ epoch: 2, activeNodeId: 'b', revoked: false });
  });

  it('promotes at once when the cloud shows the old active stopped', () => {
    const stopped: FencingEvidence[] = [{ kind: 'power-state', nodeId: 'a', epoch: 1, power: 'stopped' }];
    const { steps, state } = drive({
      state: revoked(),
      progress: { fencingStartedAt: T + 200 },
      fencing: stopped,
      now: T + 300,
    });
    expect(names(steps)).toEqual(['confirm-fenced', 'choose-target', 'promote', 'verify']);
    expect(steps[0]).toMatchObject({ nodeId: 'a', epoch: 1, evidence: expect.stringMatching(/stopped/) });
    expect(steps[2]).toMatchObject({ step: 'promote', target: 'b', epoch: 2 });
    expect(state).toMatchObject({ epoch: 2, activeNodeId: 'b' });
  });

  it('promotes at once when the old active acknowledged its demotion under the revoked epoch', () => {
    const acked: FencingEvidence[] = [{ kind: 'demotion-ack', nodeId: 'a', epoch: 1 }];
    const { steps } = drive({
      plan: { fencing: 'demote' },
      state: revoked(),
      progress: { fencingStartedAt: T + 200 },
      fencing: acked,
      now: T + 300,
    });
    expect(names(steps)).toEqual(['confirm-fenced', 'choose-target', 'promote', 'verify']);
  });

  it('does not take an acknowledgement or power-off of another epoch or another node as fencing', () => {
    const elsewhere: FencingEvidence[] = [
      { kind: 'demotion-ack', nodeId: 'a', epoch: 0 },
      { kind: 'demotion-ack', nodeId: 'b', epoch: 1 },
      { kind: 'power-state', nodeId: 'a', epoch: 2, power: 'stopped' },
      { kind: 'power-state', nodeId: 'a', epoch: 1, power: 'unknown' },
    ];
    const step = next({
      state: revoked(),
      progress: { fencingStartedAt: T + 200 },
      fencing: elsewhere,
      now: T + 300,
    });
    expect(step).toMatchObject({ step: 'wait', until: LEASE_OVER });
  });

  it('promotes once the revocation is recorded as fenced, without waiting for the lease', () => {
    const fenced = confirmFenced(revoked(), T + 150, 'VM deallocated');
    const { steps } = drive({ state: fenced, progress: { fencingStartedAt: T + 120 }, now: T + 200 });
    expect(names(steps)).toEqual(['choose-target', 'promote', 'verify']);
  });

  it('a failover whose epoch was superseded stops', () => {
    const moved = { ...active(), epoch: 2, activeNodeId: 'c' };
    expect(next({ state: moved, now: T + 100 })).toEqual({ step: 'superseded', epoch: 2, activeNodeId: 'c' });
    expect(next({ state: moved, progress: { fencingStartedAt: T }, now: LEASE_OVER })).toMatchObject({
      step: 'superseded',
    });
  });

  it('chooses the healthiest standby by priority: a silent one never, a stale or lagging one last', () => {
    const fenced = confirmFenced(revoked(), T + 150, 'stopped');
    const choose = (n: Given['nodes']) =>
      next({ state: fenced, progress: { fencingStartedAt: T }, nodes: n, now: T + 200 });
    expect(choose({})).toMatchObject({ step: 'choose-target', target: 'b' }); // both fine: priority
    expect(choose({ b: null })).toMatchObject({ target: 'c' }); // b never heard from
    expect(choose({ b: { lastHeartbeatAt: T + 200 - MISSED * HEARTBEAT } })).toMatchObject({ target: 'c' }); // missed
    expect(choose({ b: { lastHeartbeatAt: T + 200 - 2 * HEARTBEAT } })).toMatchObject({ target: 'c' }); // stale
    expect(choose({ b: { replicationLagMs: RPO + 1 } })).toMatchObject({ target: 'c' }); // behind the RPO
    expect(choose({ b: { replicationLagMs: RPO } })).toMatchObject({ target: 'b' });
    expect(choose({ b: { checks: [{ name: 'gpu', status: 'fail' }] } })).toMatchObject({ target: 'c' });
  });

  it('promotes a standby lagging beyond the RPO when no caught-up one is healthy (the RPO binds make-active only)', () => {
    const fenced = confirmFenced(revoked(), T + 150, 'stopped');
    const lagging = { b: { replicationLagMs: RPO + 1 }, c: null };
    const { steps } = drive({
      state: fenced,
      progress: { fencingStartedAt: T },
      nodes: lagging,
      now: T + 200,
    });
    expect(names(steps)).toEqual(['choose-target', 'promote', 'verify']);
    expect(steps[1]).toMatchObject({ target: 'b' });
    const planned = next({
      plan: { target: 'b' },
      state: fenced,
      progress: { fencingStartedAt: T },
      nodes: lagging,
      now: T + 200,
    });
    expect(planned).toMatchObject({ step: 'promote', target: 'b' });
  });

  it('chooses again when the chosen standby fell silent before its promotion', () => {
    const fenced = confirmFenced(revoked(), T + 150, 'stopped');
    const at = { state: fenced, progress: { fencingStartedAt: T, chosenTarget: 'b' }, now: T + 200 };
    expect(next(at)).toMatchObject({ step: 'promote', target: 'b' });
    expect(next({ ...at, nodes: { b: null } })).toEqual({
      step: 'choose-target',
      target: 'c',
      reason: expect.any(String),
    });
  });

  it('reinstates the old active when it is healthy and no standby is, and refuses when nobody is', () => {
    const fenced = confirmFenced(revoked(), T + 150, 'acknowledged');
    const at = { state: fenced, progress: { fencingStartedAt: T }, now: T + 200 };
    expect(next({ ...at, nodes: { b: null, c: null } })).toMatchObject({
      step: 'choose-target',
      target: 'a',
    });
    expect(next({ ...at, nodes: { a: null, b: null, c: null } })).toMatchObject({
      step: 'refuse',
      code: 'NoHealthyTarget',
    });
  });

  it('promotes a planned target (the arbitration winner) only while it is healthy', () => {
    const fenced = confirmFenced(revoked(), T + 150, 'acknowledged');
    const at = { plan: { target: 'c' }, state: fenced, progress: { fencingStartedAt: T }, now: T + 200 };
    expect(next(at)).toMatchObject({ step: 'promote', target: 'c', epoch: 2 });
    expect(next({ ...at, nodes: { c: null } })).toMatchObject({ step: 'refuse', code: 'TargetUnhealthy' });
  });

  it('verifies the new active took its lease under the new epoch, and is done', () => {
    const { state, progress } = drive({ state: confirmFenced(revoked(), T + 150, 'x'), now: T + 200 });
    expect(next({ state, progress, now: T + 250 })).toEqual({
      step: 'verify',
      target: 'b',
      epoch: 2,
      until: T + 200 + MISSED * HEARTBEAT,
    });
    const granted = grantLease(state, 'b', 2, T + 260, LEASE);
    if (!granted.granted) throw new Error('expected a grant');
    expect(next({ state: granted.state, progress, now: T + 270 })).toEqual({
      step: 'done',
      outcome: 'promoted',
      activeNodeId: 'b',
      epoch: 2,
      verified: true,
    });
    // a failover does not roll back: past the timeout it tries the next candidate
    expect(next({ state, progress, now: T + 200 + MISSED * HEARTBEAT })).toEqual({
      step: 'retry',
      from: 'b',
      epoch: 2,
      reason: 'TargetDidNotTakeOver',
    });
  });

  /** b promoted under epoch 2 at T + 200 (a fenced), its lease granted at T + 260. */
  function promotedB() {
    const { state, progress } = drive({ state: confirmFenced(revoked(), T + 150, 'x'), now: T + 200 });
    const granted = grantLease(state, 'b', 2, T + 260, LEASE);
    if (!granted.granted) throw new Error('expected a grant');
    return { state: granted.state, progress };
  }

  it('verifies only after the new active sent the asked number of healthy heartbeats as the active', () => {
    const { state, progress } = promotedB();
    const at = { state, progress, now: T + 300, policy: { verifyHeartbeats: 2, verifyTimeoutMs: 60_000 } };
    expect(next(at)).toMatchObject({ step: 'verify', target: 'b', epoch: 2 });
    expect(next({ ...at, nodes: { b: { activeHeartbeats: { epoch: 2, count: 1 } } } })).toMatchObject({
      step: 'verify',
    });
    // heartbeats counted under another epoch do not count
    expect(next({ ...at, nodes: { b: { activeHeartbeats: { epoch: 1, count: 5 } } } })).toMatchObject({
      step: 'verify',
    });
    expect(next({ ...at, nodes: { b: { activeHeartbeats: { epoch: 2, count: 2 } } } })).toEqual({
      step: 'done',
      outcome: 'promoted',
      activeNodeId: 'b',
      epoch: 2,
      verified: true,
    });
  });

  it('gives a target running a long promote hook the promote timeout, but not one that went silent', () => {
    const { state, progress } = promotedB();
    const policy = { verifyHeartbeats: 2, verifyTimeoutMs: 60_000 };
    // still heartbeating (as a standby while its hook runs) long after the detection window: keeps waiting
    const later = T + 200 + 10 * MISSED * HEARTBEAT;
    expect(next({ state, progress, now: later, policy })).toMatchObject({ step: 'verify' });
    // nobody heard for a window (the control plane was down or cut off): not the target's fault, keep waiting
    const allSilent = {
      a: { lastHeartbeatAt: T + 300 },
      b: { lastHeartbeatAt: T + 300 },
      c: { lastHeartbeatAt: T + 300 },
    };
    expect(
      next({ state, progress, now: T + 300 + MISSED * HEARTBEAT, policy, nodes: allSilent }),
    ).toMatchObject({
      step: 'verify',
    });
    // silent for a detection window: fails at once, long before the promote timeout
    const silent = { b: { lastHeartbeatAt: T + 300 } };
    expect(next({ state, progress, now: T + 300 + MISSED * HEARTBEAT, policy, nodes: silent })).toMatchObject(
      {
        step: 'retry',
        from: 'b',
        reason: 'TargetDidNotTakeOver',
      },
    );
  });

  it('tries the next candidate when the target acknowledges its promote as failed, and never it again', () => {
    const { state, progress } = promotedB();
    const failedAck = { b: { promoteAck: { epoch: 2, outcome: 'failed' as const } } };
    const at = { state, progress, now: T + 400, nodes: failedAck };
    expect(next(at)).toEqual({ step: 'retry', from: 'b', epoch: 2, reason: 'PromoteFailed' });
    // an acknowledgement of another epoch's promote does not count
    expect(next({ ...at, nodes: { b: { promoteAck: { epoch: 1, outcome: 'failed' } } } })).toMatchObject({
      step: 'done',
      verified: true,
    });
    // the retry ends epoch 2, has b (which demoted itself after its failed hook) fenced, and promotes c under 3
    const retried = drive({ ...at, progress: recordStep(progress, next(at), T + 400) });
    expect(names(retried.steps)).toEqual(['revoke', 'fence', 'wait']);
    expect(retried.steps[1]).toMatchObject({ method: 'demote', nodeId: 'b', epoch: 2 });
    const demoted = drive({
      ...at,
      state: retried.state,
      progress: retried.progress,
      fencing: [{ kind: 'demotion-ack', nodeId: 'b', epoch: 2 }],
    });
    expect(names(demoted.steps)).toEqual(['confirm-fenced', 'choose-target', 'promote', 'verify']);
    expect(demoted.steps[2]).toMatchObject({ target: 'c', epoch: 3 });
    // c fails too, a is still silent: nobody is left; the cluster is left with no active, and says why
    const cFailed = { b: {}, c: { promoteAck: { epoch: 3, outcome: 'failed' as const } }, a: null };
    const second = next({ state: demoted.state, progress: demoted.progress, now: T + 500, nodes: cFailed });
    expect(second).toMatchObject({ step: 'retry', from: 'c', epoch: 3 });
    const last = drive({
      state: demoted.state,
      progress: recordStep(demoted.progress, second, T + 500),
      now: T + 500,
      nodes: cFailed,
      fencing: [{ kind: 'demotion-ack', nodeId: 'c', epoch: 3 }],
    });
    expect(last.steps.at(-1)).toMatchObject({
      step: 'refuse',
      code: 'NoHealthyTarget',
      message: expect.stringContaining('failed: b, c'),
    });
  });

  it('starts a stopped standby when nobody is healthy, waits for it to boot, and promotes it once heard', () => {
    const fenced = confirmFenced(revoked(), T + 150, 'stopped');
    const silent = { a: null, b: null, c: null };
    const at = { state: fenced, progress: { fencingStartedAt: T + 100 }, now: T + 200 };
    // nobody healthy and no power state known: nothing to start
    expect(next({ ...at, nodes: silent })).toMatchObject({ step: 'refuse', code: 'NoHealthyTarget' });
    // c is stopped in its cloud (b's state is unknown): start c
    const powers = {
      a: null,
      b: { lastHeartbeatAt: undefined, power: 'unknown' as const },
      c: { lastHeartbeatAt: undefined, power: 'stopped' as const },
    };
    const start = next({ ...at, nodes: powers });
    expect(start).toEqual({ step: 'start-target', nodeId: 'c', reason: 'no healthy node; c is stopped' });
    const progress = recordStep(at.progress, start, T + 200);
    expect(progress.started).toEqual({ nodeId: 'c', at: T + 200 });
    // while it boots: wait for it, at most the verify timeout
    expect(next({ ...at, progress, now: T + 1000, nodes: silent })).toEqual({
      step: 'wait',
      until: T + 200 + MISSED * HEARTBEAT,
      reason: 'c is starting: waiting for its heartbeat',
    });
    // heard: chosen and promoted
    expect(next({ ...at, progress, now: T + 1200, nodes: { a: null, b: null } })).toMatchObject({
      step: 'choose-target',
      target: 'c',
    });
    // never heard within the timeout: nobody left
    expect(next({ ...at, progress, now: T + 200 + MISSED * HEARTBEAT, nodes: silent })).toMatchObject({
      step: 'refuse',
      code: 'NoHealthyTarget',
    });
  });

  it("takes the fencer's fence-peer acknowledgement under the revoked epoch as fencing", () => {
    const at = { state: revoked(), progress: { fencingStartedAt: T + 100 }, now: T + 200 };
    expect(next(at)).toMatchObject({ step: 'wait' });
    expect(next({ ...at, fencing: [{ kind: 'peer-fenced', nodeId: 'a', epoch: 2, by: 'c' }] })).toMatchObject(
      { step: 'wait' },
    );
    expect(next({ ...at, fencing: [{ kind: 'peer-fenced', nodeId: 'a', epoch: 1, by: 'c' }] })).toMatchObject(
      {
        step: 'confirm-fenced',
        nodeId: 'a',
        epoch: 1,
        evidence: 'c fenced a through its fence-peer hook (epoch 1)',
      },
    );
  });

  it('stops verifying when the cluster moved on after its promotion', () => {
    const { state, progress } = drive({ state: confirmFenced(revoked(), T + 150, 'x'), now: T + 200 });
    expect(next({ state: revoke(state, T + 300, 'another failover'), progress, now: T + 310 })).toMatchObject(
      {
        step: 'superseded',
      },
    );
  });
});

describe('make-active', () => {
  const makeActive = (target: string | null = 'b'): Partial<FailoverPlan> => ({
    kind: 'make-active',
    target,
    fencing: 'demote',
  });

  it('a make-active to a standby whose replication lag exceeds the RPO is refused with code ReplicationLagAboveRpo', () => {
    const step = next({
      plan: makeActive(),
      state: active(),
      nodes: { b: { replicationLagMs: RPO + 1 } },
      now: T + 100,
    });
    expect(step).toMatchObject({ step: 'refuse', code: 'ReplicationLagAboveRpo' });
    expect(
      next({ plan: makeActive(), state: active(), nodes: { b: { replicationLagMs: RPO } }, now: T + 100 }),
    ).toMatchObject({ step: 'revoke' });
  });

  it('is refused, before anything is revoked, for a target outside the cluster, unhealthy, or missing', () => {
    expect(next({ plan: makeActive('z'), state: active(), now: T + 100 })).toMatchObject({
      step: 'refuse',
      code: 'TargetNotInCluster',
    });
    expect(next({ plan: makeActive(), state: active(), nodes: { b: null }, now: T + 100 })).toMatchObject({
      step: 'refuse',
      code: 'TargetUnhealthy',
    });
    expect(
      next({
        plan: makeActive(),
        state: active(),
        nodes: { b: { checks: [{ name: 'gpu', status: 'fail' }] } },
        now: T + 100,
      }),
    ).toMatchObject({ step: 'refuse', code: 'TargetUnhealthy' });
    expect(next({ plan: makeActive(null), state: active(), now: T + 100 })).toMatchObject({
      step: 'refuse',
      code: 'TargetRequired',
    });
  });

  it('is done at once when the target is already active', () => {
    expect(next({ plan: makeActive('a'), state: active(), now: T + 100 })).toMatchObject({
      step: 'done',
      outcome: 'already-active',
      activeNodeId: 'a',
    });
  });

  it('revokes, demotes the active gracefully, and promotes the target once the demotion is acknowledged', () => {
    const first = drive({ plan: makeActive(), state: active(), now: T + 100 });
    expect(names(first.steps)).toEqual(['revoke', 'demote-gracefully', 'wait']);
    expect(first.steps[1]).toEqual({
      step: 'demote-gracefully',
      nodeId: 'a',
      epoch: 1,
      deadline: T + 100 + LEASE,
    });
    const acked: FencingEvidence[] = [{ kind: 'demotion-ack', nodeId: 'a', epoch: 1 }];
    const second = drive({
      plan: makeActive(),
      state: first.state,
      progress: first.progress,
      fencing: acked,
      now: T + 150,
    });
    expect(names(second.steps)).toEqual(['confirm-fenced', 'promote', 'verify']);
    expect(second.state).toMatchObject({ epoch: 2, activeNodeId: 'b' });
  });

  it('rolls back to the original active when the demotion is not acknowledged in time, after the lease wait', () => {
    const g = { plan: makeActive(), policy: { demoteTimeoutMs: 1000 } };
    const first = drive({ ...g, state: active(), now: T + 100 });
    expect(names(first.steps)).toEqual(['revoke', 'demote-gracefully', 'wait']);
    expect(first.steps[2]).toMatchObject({ until: T + 1100 }); // the demotion deadline comes before the lease's end
    const late = drive({ ...g, state: first.state, progress: first.progress, now: T + 1100 });
    expect(late.steps[0]).toEqual({
      step: 'roll-back',
      to: 'a',
      epoch: 1,
      reason: 'DemotionNotAcknowledged',
    });
    // a is not fenced: even a roll-back to it waits until its old lease is certainly over (rule 3)
    expect(late.steps[1]).toMatchObject({ step: 'wait', until: LEASE_OVER });
    const back = drive({ ...g, state: late.state, progress: late.progress, now: LEASE_OVER });
    expect(back.steps[0]).toMatchObject({ step: 'promote', target: 'a', epoch: 2 });
    const granted = grantLease(back.state, 'a', 2, LEASE_OVER + 10, LEASE);
    if (!granted.granted) throw new Error('expected a grant');
    expect(next({ ...g, state: granted.state, progress: back.progress, now: LEASE_OVER + 20 })).toEqual({
      step: 'done',
      outcome: 'rolled-back',
      activeNodeId: 'a',
      epoch: 2,
      verified: true,
    });
  });

  it('rolls back when the target falls behind the RPO after the active was revoked', () => {
    const first = drive({ plan: makeActive(), state: active(), now: T + 100 });
    const acked: FencingEvidence[] = [{ kind: 'demotion-ack', nodeId: 'a', epoch: 1 }];
    const later = drive({
      plan: makeActive(),
      state: first.state,
      progress: first.progress,
      fencing: acked,
      nodes: { b: { replicationLagMs: RPO + 1 } },
      now: T + 150,
    });
    expect(names(later.steps)).toEqual(['confirm-fenced', 'roll-back', 'promote', 'verify']);
    expect(later.steps[1]).toMatchObject({ reason: 'ReplicationLagAboveRpo', to: 'a' });
    expect(later.steps[2]).toMatchObject({ target: 'a', epoch: 2 }); // fenced: at once
  });

  it('make-active rolls back at once when the target acknowledges its promote as failed', () => {
    const fenced = confirmFenced(revoke(active(), T + 100, 'make-active'), T + 150, 'acknowledged');
    const g = { plan: { kind: 'make-active' as const, target: 'b' }, state: fenced, now: T + 200 };
    const { state, progress } = drive({ ...g, progress: { fencingStartedAt: T + 100 } });
    expect(
      next({
        ...g,
        state,
        progress,
        now: T + 300,
        nodes: { b: { promoteAck: { epoch: 2, outcome: 'failed' } } },
      }),
    ).toEqual({
      step: 'roll-back',
      to: 'a',
      epoch: 2,
      reason: 'PromoteFailed',
    });
  });

  it('make-active rolls back to the original active when promotion fails (the target never takes its lease)', () => {
    const acked: FencingEvidence[] = [{ kind: 'demotion-ack', nodeId: 'a', epoch: 1 }];
    const first = drive({ plan: makeActive(), state: active(), fencing: acked, now: T + 100 });
    expect(names(first.steps)).toEqual([
      'revoke',
      'demote-gracefully',
      'confirm-fenced',
      'promote',
      'verify',
    ]);
    const timeout = T + 100 + MISSED * HEARTBEAT;
    const failed = drive({
      plan: makeActive(),
      state: first.state,
      progress: first.progress,
      fencing: acked,
      now: timeout,
    });
    expect(failed.steps[0]).toEqual({ step: 'roll-back', to: 'a', epoch: 2, reason: 'TargetDidNotTakeOver' });
    // ends b's epoch 2 (revoke, demote b) and promotes a under 3; b never took a lease, so no wait is needed
    expect(names(failed.steps)).toEqual(['roll-back', 'revoke', 'fence', 'promote', 'verify']);
    expect(failed.steps[2]).toMatchObject({ method: 'demote', nodeId: 'b', epoch: 2 });
    expect(failed.state).toMatchObject({ epoch: 3, activeNodeId: 'a' });
  });

  it('a roll-back waits out the lease the target took before the roll-back revoked it', () => {
    const acked: FencingEvidence[] = [{ kind: 'demotion-ack', nodeId: 'a', epoch: 1 }];
    const first = drive({ plan: makeActive(), state: active(), fencing: acked, now: T + 100 });
    const timeout = T + 100 + MISSED * HEARTBEAT;
    const rollBack = next({
      plan: makeActive(),
      state: first.state,
      progress: first.progress,
      fencing: acked,
      now: timeout,
    });
    expect(rollBack).toMatchObject({ step: 'roll-back', epoch: 2 });
    const progress = recordStep(first.progress, rollBack, timeout);
    // b's grant commits between the roll-back's read and its revocation: the revocation's If-Match fails, the next
    // read shows b granted — the roll-back still goes on (the timeout passed) and must wait for b's lease
    const granted = grantLease(first.state, 'b', 2, timeout - 1, LEASE);
    if (!granted.granted) throw new Error('expected a grant');
    const revokedB = revoke(granted.state, timeout + 1, 'roll-back');
    const { steps } = drive({ plan: makeActive(), state: revokedB, progress, now: timeout + 2 });
    expect(names(steps)).toEqual(['fence', 'wait']);
    expect(steps[1]).toMatchObject({ until: timeout - 1 + LEASE + MARGIN });
  });

  it('a rolled-back make-active stops when the cluster moved on', () => {
    const progress: FailoverProgress = {
      fencingStartedAt: T,
      rollBack: { epoch: 1, reason: 'TargetUnhealthy' },
    };
    const moved = { ...active(), epoch: 3, activeNodeId: 'c' };
    expect(next({ plan: makeActive(), progress, state: moved, now: T + 200 })).toMatchObject({
      step: 'superseded',
      epoch: 3,
    });
  });
});

describe('the decisions it is made of', () => {
  it('proposes states produced by the injected decisions (how the simulation swaps in a broken rule)', () => {
    const fenced = confirmFenced(revoked(), T + 150, 'x');
    const tagged = nextFailoverStep(
      input({ plan: { target: 'b' }, state: fenced, progress: { fencingStartedAt: T }, now: T + 200 }),
      {
        revoke,
        confirmFenced,
        mayPromote: () => ({ allowed: true }),
        promote: (s, nodeId, now) => ({
          ...s,
          epoch: 99,
          activeNodeId: nodeId,
          updatedAt: now,
          reason: 'injected',
        }),
      },
    );
    expect(tagged).toMatchObject({ step: 'promote', state: { epoch: 99, reason: 'injected' } });
  });
});
