import { initialClusterState, type ClusterState } from '../../../shared/domain/clusterState';
import { grantLease, revoke } from '../../../shared/domain/decisions';
import {
  nextFailoverStep,
  recordStep,
  type FailoverPlan,
  type FailoverPolicy,
  type FailoverProgress,
  type FailoverStep,
  type FencingEvidence,
  type NodeEvidence,
} from '../../../shared/domain/failoverSteps';

/**
 * Peer promises in the failover steps (issue 15), replay style: given this state, progress and evidence (the nodes'
 * latest heartbeats with their `peer` reports), expect this step.
 */

const T = 1_000_000;
const HEARTBEAT = 1000;
const LEASE = 4000;
const MARGIN = 500;
/** When the old active's lease (granted at T) is certainly over: rule 3's wait. */
const LEASE_OVER = T + LEASE + MARGIN;

const policy: FailoverPolicy = {
  detection: { heartbeatIntervalMs: HEARTBEAT, missedHeartbeats: 3, leaseMs: LEASE, driftMarginMs: MARGIN },
  rpoMs: 5000,
};

/** a is active under epoch 1 (promotable set `promotable`, null: peer leases off) with a lease until T + LEASE. */
function active(promotable: string[] | null = ['b', 'c']): ClusterState {
  const decision = grantLease(
    initialClusterState('c1', 'a', T - 10_000, undefined, promotable ?? undefined),
    'a',
    1,
    T,
    LEASE,
  );
  if (!decision.granted) throw new Error('expected a grant');
  return decision.state;
}
const revoked = (promotable?: string[] | null) => revoke(active(promotable), T + 100, 'test');

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
    fencing: 'lease-wait',
    peerLeases: true,
    ...patch,
  };
}

type NodePatch = Partial<NodeEvidence> | null;

interface Given {
  plan?: Partial<FailoverPlan>;
  progress?: FailoverProgress;
  state: ClusterState;
  fencing?: FencingEvidence[];
  /** Each node heard from 100 ms before `now` unless patched (null: never heard from). */
  nodes?: Record<string, NodePatch>;
  now: number;
}

function nodes(now: number, patch: Record<string, NodePatch> = {}): NodeEvidence[] {
  return ['a', 'b', 'c'].map((nodeId) => {
    const p = patch[nodeId];
    if (p === null) return { nodeId };
    return { nodeId, lastHeartbeatAt: now - 100, ...p };
  });
}

const next = (g: Given) =>
  nextFailoverStep({
    plan: plan(g.plan),
    progress: g.progress ?? {},
    state: g.state,
    evidence: { fencing: g.fencing ?? [], nodes: nodes(g.now, g.nodes) },
    policy,
    now: g.now,
  });

/** Carries out the steps that need no answer from the world, until one waits or ends the operation. */
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
        progress = recordStep(progress, step, g.now);
        break;
      default:
        return { steps, state, progress };
    }
  }
  throw new Error(`no end: ${JSON.stringify(steps.map((s) => s.step))}`);
}
const names = (steps: FailoverStep[]) => steps.map((s) => s.step);

/** A heartbeat received at `at` reporting a promise to `to` under `epoch` with `remainingMs` left. */
const bound = (at: number, remainingMs: number, to = 'a', epoch = 1): Partial<NodeEvidence> => ({
  lastHeartbeatAt: at,
  peer: { promise: { to, epoch, remainingMs } },
});

const fenced = { fencingStartedAt: T + 200 };

describe('failover steps with peer promises: the promote step records the new epoch’s promotable set', () => {
  it('passes every node of the document but the target when the cluster uses peer leases', () => {
    const { steps, state } = drive({ state: revoked(), progress: fenced, now: LEASE_OVER });
    expect(names(steps)).toEqual(['choose-target', 'promote', 'verify']);
    expect(state).toMatchObject({ epoch: 2, activeNodeId: 'b', promotable: ['a', 'c'] });
  });

  it('counts nodes the failover may not choose (an avoided region) in the set', () => {
    const { state } = drive({
      plan: { candidates: [{ nodeId: 'b', priority: 1 }], nodes: ['a', 'b', 'c', 'd'] },
      state: revoked(),
      progress: fenced,
      now: LEASE_OVER,
    });
    expect(state).toMatchObject({ activeNodeId: 'b', promotable: ['a', 'c', 'd'] });
  });

  it('records no set when the cluster turned peer leases off, even if the ended epoch had one', () => {
    const { state } = drive({
      plan: { peerLeases: false },
      state: revoked(),
      progress: fenced,
      now: LEASE_OVER,
    });
    expect(state.activeNodeId).toBe('b');
    expect(state.promotable).toBeUndefined();
  });

  it('without the plan saying, carries on as under the ended epoch (a set if it had one)', () => {
    const on = drive({
      plan: { peerLeases: undefined },
      state: revoked(),
      progress: fenced,
      now: LEASE_OVER,
    });
    expect(on.state.promotable).toEqual(['a', 'c']);
    const off = drive({
      plan: { peerLeases: undefined },
      state: revoked(null),
      progress: fenced,
      now: LEASE_OVER,
    });
    expect(off.state.activeNodeId).toBe('b');
    expect(off.state.promotable).toBeUndefined();
  });
});

describe('failover steps with peer promises: a candidate bound by a promise is not promoted before it ends', () => {
  it('waits until the promise reported by the chosen target ends, then promotes it', () => {
    const now = LEASE_OVER;
    // Both standbys bound: b (the better) stays the choice; the promotion waits for its promise.
    const evidence = { b: bound(now - 100, 3000), c: bound(now - 100, 1000) };
    const { steps, progress } = drive({ state: revoked(), progress: fenced, nodes: evidence, now });
    expect(names(steps)).toEqual(['choose-target', 'wait']);
    expect(steps[0]).toMatchObject({ target: 'b' });
    expect(steps[1]).toEqual({
      step: 'wait',
      until: now + 2900,
      reason: expect.stringMatching(/b is bound by its promise to a \(epoch 1\) until .*Z/),
    });
    // Replay later: the same heartbeat, just before its promise ends → still waiting.
    expect(next({ state: revoked(), progress, nodes: evidence, now: now + 2899 })).toMatchObject({
      step: 'wait',
    });
    // b's next heartbeat reports the promise over (a closed epoch 1 for it) → promoted.
    const later = { b: { lastHeartbeatAt: now + 2800, peer: { closedEpoch: 1 } }, c: evidence.c };
    expect(next({ state: revoked(), progress, nodes: later, now: now + 2900 })).toMatchObject({
      step: 'promote',
      target: 'b',
      epoch: 2,
    });
  });

  it('prefers a healthy candidate that is not bound to a better one that is', () => {
    const now = LEASE_OVER;
    const { steps, state } = drive({
      state: revoked(),
      progress: fenced,
      nodes: { b: bound(now - 100, 3000) },
      now,
    });
    expect(names(steps)).toEqual(['choose-target', 'promote', 'verify']);
    expect(steps[0]).toMatchObject({
      target: 'c',
      reason: expect.stringMatching(/free to take over.*b is bound/),
    });
    expect(state.activeNodeId).toBe('c');
  });

  it('keeps a planned target that is bound and waits for it', () => {
    const now = LEASE_OVER;
    const step = next({
      plan: { target: 'b' },
      state: revoked(),
      progress: fenced,
      nodes: { b: bound(now - 100, 3000) },
      now,
    });
    expect(step).toMatchObject({ step: 'wait', until: now + 2900 });
  });

  it('waits for a make-active target bound by a promise to the demoted active', () => {
    const now = T + 300;
    const demoted: FencingEvidence[] = [{ kind: 'demotion-ack', nodeId: 'a', epoch: 1 }];
    const { steps } = drive({
      plan: { kind: 'make-active', target: 'c' },
      state: revoked(),
      progress: fenced,
      fencing: demoted,
      nodes: { c: bound(now - 100, 1500) },
      now,
    });
    expect(names(steps)).toEqual(['confirm-fenced', 'wait']);
    expect(steps[1]).toMatchObject({ until: now + 1400, reason: expect.stringMatching(/c is bound/) });
  });

  it('ignores a promise that ended (receive time + remaining ≤ now)', () => {
    const now = LEASE_OVER;
    const { steps } = drive({
      state: revoked(),
      progress: fenced,
      nodes: { b: bound(now - 100, 100) },
      now,
    });
    expect(names(steps)).toEqual(['choose-target', 'promote', 'verify']);
    expect(steps[1]).toMatchObject({ target: 'b' });
  });
});

describe('failover steps with peer promises: a node outside the revoked epoch’s promotable set', () => {
  // Epoch 1's set is [b]: c was added after a became active; a could hold a peer lease from b alone.
  const state = () => revoked(['b']);
  const bDown = { b: null };

  it('is chosen but not promoted while nothing shows the old active’s peer leases ended', () => {
    const now = LEASE_OVER;
    const { steps } = drive({ state: state(), progress: fenced, nodes: bDown, now });
    expect(names(steps)).toEqual(['choose-target', 'wait']);
    expect(steps[0]).toMatchObject({ target: 'c' });
    expect(steps[1]).toEqual({
      step: 'wait',
      until: now + HEARTBEAT,
      reason: expect.stringMatching(
        /c is outside the promotable set of epoch 1 \(b\) and no node of that set has reported closing epoch 1/,
      ),
    });
  });

  it('is promoted once a node of the set closed the epoch and its promise ended, plus the drift margin', () => {
    const now = LEASE_OVER;
    const heard = now - 100;
    // b closed epoch 1 but still holds 1000 ms of its promise to a, and is itself unhealthy (failing check).
    const b: Partial<NodeEvidence> = {
      lastHeartbeatAt: heard,
      checks: [{ name: 'gpu', status: 'fail' }],
      peer: { closedEpoch: 1, promise: { to: 'a', epoch: 1, remainingMs: 1000 } },
    };
    const end = heard + 1000 + MARGIN;
    const { steps, progress } = drive({ state: state(), progress: fenced, nodes: { b }, now });
    expect(names(steps)).toEqual(['choose-target', 'wait']);
    expect(steps[1]).toMatchObject({ until: end, reason: expect.stringMatching(/ends by/) });
    expect(next({ state: state(), progress, nodes: { b }, now: end - 1 })).toMatchObject({ step: 'wait' });
    expect(next({ state: state(), progress, nodes: { b }, now: end })).toMatchObject({
      step: 'promote',
      target: 'c',
    });
  });

  it('does not count a node that closed only an older epoch', () => {
    const now = LEASE_OVER;
    const b: Partial<NodeEvidence> = {
      lastHeartbeatAt: now - 100,
      checks: [{ name: 'gpu', status: 'fail' }],
      peer: { closedEpoch: 0 },
    };
    const { steps } = drive({ state: state(), progress: fenced, nodes: { b }, now });
    expect(names(steps)).toEqual(['choose-target', 'wait']);
    expect(steps[1]).toMatchObject({ until: now + HEARTBEAT });
  });

  it('is promoted at once when the old active is confirmed fenced', () => {
    const now = T + 300;
    const stopped: FencingEvidence[] = [{ kind: 'power-state', nodeId: 'a', epoch: 1, power: 'stopped' }];
    const { steps, state: after } = drive({
      plan: { fencing: 'power-off' },
      state: state(),
      progress: fenced,
      fencing: stopped,
      nodes: bDown,
      now,
    });
    expect(names(steps)).toEqual(['confirm-fenced', 'choose-target', 'promote', 'verify']);
    expect(after).toMatchObject({ activeNodeId: 'c', epoch: 2, promotable: ['a', 'b'] });
  });

  it('is skipped for a healthy node of the set that is free', () => {
    const now = LEASE_OVER;
    const { steps } = drive({
      plan: {
        candidates: [
          { nodeId: 'a', priority: 0 },
          { nodeId: 'b', priority: 2 },
          { nodeId: 'c', priority: 1 },
        ],
      },
      state: state(),
      progress: fenced,
      now,
    });
    expect(steps[0]).toMatchObject({
      step: 'choose-target',
      target: 'b',
      reason: expect.stringMatching(/c is outside the promotable set/),
    });
    expect(names(steps)).toEqual(['choose-target', 'promote', 'verify']);
  });

  it('changes nothing when the revoked epoch had no promotable set (peer leases off)', () => {
    const { steps } = drive({ state: revoked(null), progress: fenced, nodes: bDown, now: LEASE_OVER });
    expect(names(steps)).toEqual(['choose-target', 'promote', 'verify']);
    expect(steps[0]).toMatchObject({ target: 'c' });
  });

  it('does not hold back the reinstatement of the old active itself', () => {
    const now = LEASE_OVER;
    const { steps } = drive({ state: state(), progress: fenced, nodes: { b: null, c: null }, now });
    expect(names(steps)).toEqual(['choose-target', 'promote', 'verify']);
    expect(steps[1]).toMatchObject({ target: 'a' });
  });
});

describe('failover steps with peer promises: a detector failover of an active its peer confirms alive', () => {
  const now = T + 10_000; // a silent to the control plane since T
  const aSilent = { a: { lastHeartbeatAt: T } };

  it('is refused before revoking, naming the peer and until when', () => {
    const step = next({
      plan: { trigger: 'detector' },
      state: active(),
      nodes: { ...aSilent, b: bound(now - 100, 3000) },
      now,
    });
    expect(step).toEqual({
      step: 'refuse',
      code: 'ActiveConfirmedAliveByPeer',
      message: `a is unreachable from the control plane but confirmed alive by its peer b (a promise under epoch 1 until ${new Date(now + 2900).toISOString()})`,
    });
  });

  it('is refused on the confirmation the heartbeat path recorded in the state', () => {
    const state: ClusterState = {
      ...active(),
      peerConfirmed: { by: 'c', epoch: 1, until: now + 500, at: now - 1000 },
    };
    expect(next({ plan: { trigger: 'detector' }, state, nodes: aSilent, now })).toMatchObject({
      step: 'refuse',
      code: 'ActiveConfirmedAliveByPeer',
      message: expect.stringMatching(/confirmed alive by its peer c/),
    });
  });

  it('goes ahead when the promise ended, is to another node, or is under another epoch', () => {
    for (const b of [bound(now - 3000, 2000), bound(now - 100, 3000, 'c'), bound(now - 100, 3000, 'a', 0)]) {
      expect(
        next({ plan: { trigger: 'detector' }, state: active(), nodes: { ...aSilent, b }, now }),
      ).toMatchObject({ step: 'revoke', epoch: 1 });
    }
    const stale: ClusterState = {
      ...active(),
      peerConfirmed: { by: 'c', epoch: 1, until: now, at: now - 2000 },
    };
    expect(next({ plan: { trigger: 'detector' }, state: stale, nodes: aSilent, now })).toMatchObject({
      step: 'revoke',
    });
  });

  it('is not refused when a webhook or an operator asked for it, nor for a make-active', () => {
    const nodesNow = { ...aSilent, b: bound(now - 100, 3000) };
    for (const trigger of ['webhook', 'api', 'portal', 'arbitration'] as const)
      expect(next({ plan: { trigger }, state: active(), nodes: nodesNow, now })).toMatchObject({
        step: 'revoke',
      });
    expect(next({ plan: { trigger: undefined }, state: active(), nodes: nodesNow, now })).toMatchObject({
      step: 'revoke',
    });
    expect(
      next({
        plan: { kind: 'make-active', target: 'c', trigger: 'api' },
        state: active(),
        nodes: nodesNow,
        now,
      }),
    ).toMatchObject({ step: 'revoke' });
  });

  it('after a webhook failover revoked the active, waits for the peer’s promise to lapse before promoting it', () => {
    // The webhook failover went ahead; b still reports its promise to a (it closes epoch 1 at its next heartbeat).
    const state = revoked();
    const at = LEASE_OVER;
    const { steps } = drive({
      plan: { trigger: 'webhook', target: 'b' },
      state,
      progress: fenced,
      nodes: { b: bound(at - 100, 4000) },
      now: at,
    });
    expect(names(steps)).toEqual(['wait']);
    expect(steps[0]).toMatchObject({ until: at + 3900, reason: expect.stringMatching(/promise to a/) });
  });
});
