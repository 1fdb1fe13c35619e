import { parseClusterDocument, type ClusterDocument } from '../../../../shared/domain/clusterDocument';
import type { ClusterState, NodeHeartbeat } from '../../../../shared/domain/clusterState';
import {
  buildMakeActivePlan,
  type MakeActivePlanInput,
} from '../../../../shared/control/operations/makeActivePlan';
import { twoNodeCluster } from '../../../helpers/controlPlane';

const NOW = Date.UTC(2031, 0, 1);

function document(rpoObjectiveMs = 0): ClusterDocument {
  const parsed = parseClusterDocument({
    ...twoNodeCluster('plan', { heartbeatIntervalMs: 1000, missedHeartbeats: 5 }),
    failover: { rpoObjectiveMs },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.value;
}

const state: ClusterState = {
  clusterId: 'plan',
  epoch: 3,
  activeNodeId: 'head-a',
  leaseExpiresAt: NOW + 3000,
  revoked: false,
  fenced: false,
  updatedAt: NOW - 1000,
  reason: 'test',
};

function heartbeat(nodeId: string, fields: Partial<NodeHeartbeat> = {}): NodeHeartbeat {
  return {
    clusterId: 'plan',
    nodeId,
    seq: 1,
    receivedAt: NOW - 500,
    role: nodeId === 'head-a' ? 'active' : 'standby',
    epoch: 3,
    checks: [{ name: 'gpu', status: 'ok' }],
    ...fields,
  };
}

function plan(input: Partial<MakeActivePlanInput> = {}) {
  const doc = input.document ?? document();
  return buildMakeActivePlan({
    document: doc,
    state,
    heartbeats: [heartbeat('head-a'), heartbeat('head-b', { replicationLagMs: 0 })],
    rpoMs: doc.failover.rpoObjectiveMs,
    now: NOW,
    target: 'head-b',
    ...input,
  });
}

const precondition = (p: ReturnType<typeof plan>, name: string) =>
  p.preconditions.find((c) => c.name === name);

describe('the make-active plan', () => {
  it('shows a healthy, caught-up standby as ready: who changes role, the hooks, no blockers', () => {
    const p = plan();
    expect(p).toMatchObject({
      clusterId: 'plan',
      epoch: 3,
      currentActive: 'head-a',
      target: 'head-b',
      becomesActive: 'head-b',
      becomesPassive: ['head-a'],
      hooks: [
        { node: 'head-a', command: 'demote', runs: 'demote hooks (pre-demote, demote, post-demote)' },
        { node: 'head-b', command: 'promote' },
      ],
      blockers: [],
      canRun: true,
    });
    expect(p.preconditions.map((c) => [c.name, c.ok])).toEqual([
      ['target-in-cluster', true],
      ['target-healthy', true],
      ['target-heartbeating', true],
      ['replication-lag-within-rpo', true],
      ['not-already-active', true],
    ]);
    expect(precondition(p, 'target-heartbeating')).toMatchObject({ value: 500, limit: 5000 });
  });

  it('blocks on a failing check, naming it, even when forced (force lifts only the RPO bound)', () => {
    const heartbeats = [
      heartbeat('head-a'),
      heartbeat('head-b', { checks: [{ name: 'gpu', status: 'fail' }] }),
    ];
    const p = plan({ heartbeats });
    expect(p.blockers).toEqual(['target-healthy']);
    expect(precondition(p, 'target-healthy')).toMatchObject({ ok: false, value: ['gpu'] });
    expect(p.canRun).toBe(false);
    expect(plan({ heartbeats, force: true })).toMatchObject({ blockers: ['target-healthy'], canRun: false });
  });

  it('blocks on a target never heard from, or silent for the detection window', () => {
    expect(plan({ heartbeats: [heartbeat('head-a')] }).blockers).toEqual(['target-heartbeating']);
    const silent = plan({ heartbeats: [heartbeat('head-b', { receivedAt: NOW - 6000 })] });
    expect(silent.blockers).toEqual(['target-heartbeating']);
    expect(precondition(silent, 'target-heartbeating')).toMatchObject({ value: 6000, limit: 5000 });
  });

  it('blocks on a replication lag above the RPO, with the lag and the bound', () => {
    const p = plan({
      document: document(2000),
      heartbeats: [heartbeat('head-b', { replicationLagMs: 2500 })],
    });
    expect(p.blockers).toEqual(['replication-lag-within-rpo']);
    expect(precondition(p, 'replication-lag-within-rpo')).toMatchObject({
      ok: false,
      value: 2500,
      limit: 2000,
    });
    // Within the RPO: fine.
    expect(
      plan({ document: document(2000), heartbeats: [heartbeat('head-b', { replicationLagMs: 2000 })] })
        .blockers,
    ).toEqual([]);
  });

  it('blocks making the active node active', () => {
    const p = plan({ target: 'head-a' });
    expect(p.blockers).toEqual(['not-already-active']);
    expect(p).toMatchObject({ becomesPassive: [], hooks: [], canRun: false });
  });

  it('blocks an unknown node, even with force', () => {
    const p = plan({ target: 'head-z', force: true });
    expect(p.blockers).toContain('target-in-cluster');
    expect(p.canRun).toBe(false);
    expect(p.hooks).toEqual([{ node: 'head-a', command: 'demote', runs: expect.any(String) }]);
  });

  it('takes the active’s heartbeat from the state when it is newer than its row', () => {
    const p = plan({
      target: 'head-a',
      heartbeats: [heartbeat('head-a', { receivedAt: NOW - 60_000 })],
      state: { ...state, activeNodeId: 'head-b', activeHeartbeat: heartbeat('head-a') },
    });
    expect(precondition(p, 'target-heartbeating')).toMatchObject({ ok: true, value: 500 });
  });
});
