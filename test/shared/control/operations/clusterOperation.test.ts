import { servicesOnAzurite } from '../../../helpers/servicesOnAzurite';
import type { RunningAzurite } from '../../../../devhost';
import { declareCluster } from '../../../../shared/control/clusters/clusterAdmin';
import {
  advanceClusterOperation,
  beginClusterOperation,
} from '../../../../shared/control/operations/clusterOperation';
import type {
  AdvanceOutcome,
  ClusterOperationInput,
} from '../../../../shared/control/operations/clusterOperationTypes';
import { grantLease } from '../../../../shared/domain/decisions';
import { nextActiveStreak, type NodeHeartbeat } from '../../../../shared/domain/clusterState';
import type { Services } from '../../../../shared/services/services';

/**
 * The per-cluster operation's activities against real storage (Azurite), turn by turn as the orchestrator runs them:
 * what each turn writes, and what it waits for. Agents are played by the test: heartbeat rows, acknowledgements and
 * the new active taking its lease are written where the real agent path writes them.
 */
let azurite: RunningAzurite;
let services: Services;
const T0 = Date.UTC(2031, 6, 1);
let clock = T0;

beforeAll(async () => {
  ({ azurite, services } = await servicesOnAzurite('Op', () => clock));
});
afterAll(async () => {
  await azurite.stop();
});
beforeEach(() => {
  clock = T0;
});

/** head-a active with a 4 s lease granted now; head-b a healthy standby heard now (lag 200 ms, RPO 1 s). */
async function cluster(id: string, failover: Record<string, unknown> = {}) {
  await declareCluster(
    services,
    id,
    {
      id,
      kind: 'active-passive',
      nodes: [
        { id: 'head-a', role: 'active', site: { cloud: 'on-prem', region: 'hall-1' } },
        { id: 'head-b', role: 'standby', site: { cloud: 'on-prem', region: 'hall-2' } },
      ],
      failover: { rpoObjectiveMs: 1000, ...failover },
    },
    'test',
  );
  const stored = await services.clusters.getState(id);
  const grant = grantLease(stored!.state, 'head-a', 1, clock, 4000);
  if (!grant.granted) throw new Error('expected a grant');
  await services.clusters.replaceState(grant.state, stored!.etag);
  await standbyHeard(id, 'head-b', 200);
}

async function standbyHeard(
  clusterId: string,
  nodeId: string,
  replicationLagMs: number,
  peer?: NodeHeartbeat['peer'],
) {
  const existing = await services.heartbeats.get(clusterId, nodeId);
  await services.heartbeats.put(
    {
      clusterId,
      nodeId,
      seq: (existing?.record.seq ?? 0) + 1,
      receivedAt: clock,
      role: 'standby',
      epoch: 1,
      checks: [{ name: 'ping', status: 'ok' }],
      replicationLagMs,
      ...(peer ? { peer } : {}),
    },
    existing?.etag,
  );
}

/**
 * The new active's heartbeat path: `heartbeats` healthy heartbeats as the active under `epoch`, each granting its
 * lease and counting in the state's active streak (what the operation verifies by; the document's default asks 2).
 */
async function takesLease(clusterId: string, nodeId: string, epoch: number, heartbeats = 2) {
  for (let i = 0; i < heartbeats; i++) {
    const stored = await services.clusters.getState(clusterId);
    const grant = grantLease(stored!.state, nodeId, epoch, clock, 4000);
    if (!grant.granted)
      throw new Error(`no grant for ${nodeId} under ${epoch}: ${JSON.stringify(stored!.state)}`);
    const record = { nodeId, role: 'active' as const, checks: [] };
    await services.clusters.replaceState(
      { ...grant.state, activeStreak: nextActiveStreak(stored!.state.activeStreak, record, epoch) },
      stored!.etag,
    );
  }
}

const input = (
  clusterId: string,
  kind: 'make-active' | 'failover',
  targetNodeId: string | null,
): ClusterOperationInput => ({
  clusterId,
  operationId: `${kind}-1`,
  kind,
  targetNodeId,
  force: false,
  trigger: { kind: 'api' },
  actor: 'admin',
  reason: 'test',
  avoidRegions: [],
  requestedAt: clock,
});

async function run(request: ClusterOperationInput) {
  const begun = await beginClusterOperation(services, request);
  if (!begun.ok) throw new Error(JSON.stringify(begun.result));
  let progress = begun.progress;
  return {
    plan: begun.plan,
    async turn(): Promise<AdvanceOutcome> {
      const outcome = await advanceClusterOperation(services, { input: request, plan: begun.plan, progress });
      if (outcome.next === 'wait') progress = outcome.progress;
      return outcome;
    },
  };
}

describe('make-active (planned switchover)', () => {
  it('demotes the active, promotes the target once the demotion is acknowledged, and verifies it took its lease', async () => {
    await cluster('ma1');
    const op = await run(input('ma1', 'make-active', 'head-b'));
    // Turn 1: the active's lease is revoked (its next heartbeat answer tells it to demote); wait for its ack.
    const first = await op.turn();
    expect(first).toMatchObject({ next: 'wait' });
    expect((await services.clusters.getState('ma1'))?.state).toMatchObject({ epoch: 1, revoked: true });
    // The agent acknowledges `demote-1`.
    clock += 300;
    await services.commandAcks.insertIfAbsent({
      event: {
        clusterId: 'ma1',
        nodeId: 'head-a',
        commandId: 'demote-1',
        type: 'demote',
        epoch: 1,
        outcome: 'ok',
        steps: [{ name: 'demote', exitCode: 0, durationMs: 120, outputTail: '' }],
        receivedAt: new Date(clock).toISOString(),
      },
    });
    await standbyHeard('ma1', 'head-b', 100);
    // Turn 2: fenced by the ack → promote head-b under epoch 2 (witness first) → verify.
    const second = await op.turn();
    expect(second).toMatchObject({ next: 'wait' });
    expect((await services.clusters.getState('ma1'))?.state).toMatchObject({
      epoch: 2,
      activeNodeId: 'head-b',
    });
    expect((await services.witness.read('ma1')).record).toMatchObject({
      epoch: 2,
      activeNodeId: 'head-b',
      decidedBy: 'make-active-1',
    });
    // Promotion came before the old lease (4 s) would have ended: the acknowledgement allowed it.
    expect(clock).toBeLessThan(T0 + 4000);
    clock += 200;
    // its lease alone (one heartbeat, its promote hooks still running) does not verify it
    await takesLease('ma1', 'head-b', 2, 1);
    expect(await op.turn()).toMatchObject({ next: 'wait', waitingFor: 'verify head-b under epoch 2' });
    await takesLease('ma1', 'head-b', 2, 1);
    const last = await op.turn();
    expect(last).toMatchObject({
      next: 'end',
      result: { status: 'succeeded', activeNodeId: 'head-b', epoch: 2 },
    });
    const record = await services.operations.get('ma1', 'make-active-1');
    expect(record).toMatchObject({ status: 'succeeded', toEpoch: 2, rtoMs: 500 });
    expect(record?.steps?.map((s) => s.id)).toEqual([
      'revoke-1',
      'demote-head-a-1',
      'ack-head-a-demote-1',
      'fenced-head-a-1',
      'promote-head-b-2',
      'verify-head-b-2',
    ]);
    // the agent's acknowledgement is on the record, with its hook steps
    expect(record?.steps?.find((step) => step.id === 'ack-head-a-demote-1')).toMatchObject({
      outcome: 'ok',
      detail: { commandId: 'demote-1', epoch: 1, hookSteps: expect.any(Array) },
    });
    // The demotion step ended when its acknowledgement fenced the node.
    expect(record?.steps?.find((step) => step.id === 'demote-head-a-1')).toMatchObject({ outcome: 'ok' });
  });

  it('without an acknowledgement, waits until the demotion deadline and does not promote before the lease ends', async () => {
    await cluster('ma2');
    const op = await run(input('ma2', 'make-active', 'head-b'));
    const first = await op.turn();
    expect(first.next).toBe('wait');
    clock += 1000;
    await standbyHeard('ma2', 'head-b', 100);
    const again = await op.turn();
    expect(again.next).toBe('wait');
    expect((await services.clusters.getState('ma2'))?.state).toMatchObject({ epoch: 1, revoked: true });
  });

  it('refuses a target whose replication lag is above the RPO objective, changing nothing', async () => {
    await cluster('ma3');
    await standbyHeard('ma3', 'head-b', 5000);
    const op = await run(input('ma3', 'make-active', 'head-b'));
    const outcome = await op.turn();
    expect(outcome).toMatchObject({
      next: 'end',
      result: { status: 'refused', code: 'ReplicationLagAboveRpo' },
    });
    expect((await services.clusters.getState('ma3'))?.state).toMatchObject({
      epoch: 1,
      activeNodeId: 'head-a',
      revoked: false,
    });
    expect(await services.operations.get('ma3', 'make-active-1')).toMatchObject({ status: 'refused' });
  });
});

describe('failover (unplanned)', () => {
  it("promotes the standby only after the silent active's lease plus the drift margin, when it cannot be fenced", async () => {
    await cluster('fo1');
    clock += 1500; // the active has gone silent; its lease runs until T0 + 4000
    await standbyHeard('fo1', 'head-b', 100);
    const op = await run(input('fo1', 'failover', null));
    const first = await op.turn();
    expect(first).toMatchObject({ next: 'wait' });
    if (first.next !== 'wait') throw new Error('expected a wait');
    // It looks again after one heartbeat interval at the latest (new evidence could end the wait) ...
    expect(first.until).toBe(clock + 1000);
    expect((await services.clusters.getState('fo1'))?.state).toMatchObject({ epoch: 1, revoked: true });
    // ... but promotes nobody before the old lease (T0 + 4000) and the drift margin (500 ms) have passed.
    for (clock = first.until; clock < T0 + 4500; clock += 1000) {
      await standbyHeard('fo1', 'head-b', 100);
      expect((await op.turn()).next).toBe('wait');
      expect((await services.clusters.getState('fo1'))?.state).toMatchObject({ epoch: 1, revoked: true });
    }
    clock = T0 + 4500;
    await standbyHeard('fo1', 'head-b', 100);
    const second = await op.turn();
    expect(second.next).toBe('wait');
    expect((await services.clusters.getState('fo1'))?.state).toMatchObject({
      epoch: 2,
      activeNodeId: 'head-b',
    });
    await takesLease('fo1', 'head-b', 2);
    expect(await op.turn()).toMatchObject({
      next: 'end',
      result: { status: 'succeeded', activeNodeId: 'head-b' },
    });
    // The fence (a demotion nobody acknowledged) ended when the lease ran out, and says so.
    const record = await services.operations.get('fo1', 'failover-1');
    expect(record?.steps?.find((step) => step.id === 'fence-head-a-1')).toMatchObject({
      outcome: 'warn',
      detail: { endedBy: 'the old lease and the drift margin ran out' },
    });
  });

  it('a turn re-run after a crash with the progress from before its promotion recognises the promotion as its own', async () => {
    await cluster('cr1');
    clock += 1500;
    const request = input('cr1', 'failover', null);
    const begun = await beginClusterOperation(services, request);
    if (!begun.ok) throw new Error('expected a plan');
    const first = await advanceClusterOperation(services, { input: request, plan: begun.plan, progress: {} });
    if (first.next !== 'wait') throw new Error('expected a wait');
    clock = T0 + 4500;
    await standbyHeard('cr1', 'head-b', 100);
    // this run promotes head-b; its completion is lost (the host crashed before recording it)
    await advanceClusterOperation(services, { input: request, plan: begun.plan, progress: first.progress });
    expect((await services.clusters.getState('cr1'))?.state).toMatchObject({
      epoch: 2,
      activeNodeId: 'head-b',
    });
    // the engine runs it again with the same input: not "superseded", it verifies its own promotion
    clock += 100;
    await takesLease('cr1', 'head-b', 2);
    const again = await advanceClusterOperation(services, {
      input: request,
      plan: begun.plan,
      progress: first.progress,
    });
    expect(again).toMatchObject({
      next: 'end',
      result: { status: 'succeeded', activeNodeId: 'head-b', epoch: 2 },
    });
  });

  it('ends as superseded when something else moved the cluster on meanwhile', async () => {
    await cluster('fo2');
    const op = await run(input('fo2', 'failover', null));
    const stored = await services.clusters.getState('fo2');
    await services.clusters.replaceState({ ...stored!.state, epoch: 7 }, stored!.etag);
    expect(await op.turn()).toMatchObject({ next: 'end', result: { status: 'superseded' } });
  });
});

describe('automatic failovers (detector, webhook, arbitration)', () => {
  const automatic = (clusterId: string, operationId: string): ClusterOperationInput => ({
    ...input(clusterId, 'failover', null),
    operationId,
    trigger: { kind: 'webhook', reference: 'alert-1:Fired' },
    actor: 'controller',
  });

  it('are refused when the cluster’s failover mode is manual; an operator’s request is not', async () => {
    await cluster('am1', { mode: 'manual' });
    const refused = await beginClusterOperation(services, automatic('am1', 'failover-auto'));
    expect(refused).toMatchObject({ ok: false, result: { status: 'refused', code: 'ManualMode' } });
    expect((await services.clusters.getState('am1'))?.state).toMatchObject({ epoch: 1, revoked: false });
    expect((await beginClusterOperation(services, input('am1', 'failover', null))).ok).toBe(true);
  });

  it('are refused during the cooldown after a failover, naming when it lifts', async () => {
    await cluster('am2', { cooldownMs: 60_000 });
    await services.operations.createOnce({
      clusterId: 'am2',
      operationId: 'failover-earlier',
      kind: 'failover',
      status: 'succeeded',
      createdAt: clock - 5000,
      updatedAt: clock - 1000,
      endedAt: clock - 1000,
      epoch: 1,
      evidence: {},
    });
    const refused = await beginClusterOperation(services, automatic('am2', 'failover-auto'));
    expect(refused).toMatchObject({ ok: false, result: { status: 'refused', code: 'CoolingDown' } });
    if (refused.ok) throw new Error('expected a refusal');
    expect(refused.result.reason).toContain(new Date(clock - 1000 + 60_000).toISOString());
    expect(await services.operations.get('am2', 'failover-auto')).toMatchObject({ status: 'refused' });
    clock += 60_000;
    expect((await beginClusterOperation(services, automatic('am2', 'failover-later'))).ok).toBe(true);
  });

  it('a detector-triggered failover starts nothing when its detection no longer stands', async () => {
    await cluster('am3');
    await services.operations.createOnce({
      clusterId: 'am3',
      operationId: 'detect-1-5',
      kind: 'failure-detected',
      status: 'superseded',
      createdAt: clock,
      updatedAt: clock,
      epoch: 1,
      evidence: {},
    });
    const request = {
      ...automatic('am3', 'failover-d'),
      trigger: { kind: 'detector' as const, reference: 'detect-1-5' },
    };
    expect(await beginClusterOperation(services, request)).toMatchObject({
      ok: false,
      result: { status: 'superseded' },
    });
    expect((await services.clusters.getState('am3'))?.state).toMatchObject({ epoch: 1, revoked: false });
  });

  it('an operation id that already ended starts nothing again (a redelivered alert)', async () => {
    await cluster('am4', { mode: 'manual' });
    const request = automatic('am4', 'failover-redelivered');
    expect(await beginClusterOperation(services, request)).toMatchObject({
      ok: false,
      result: { code: 'ManualMode' },
    });
    expect(await beginClusterOperation(services, request)).toMatchObject({
      ok: false,
      result: { operationId: 'failover-redelivered', status: 'refused' },
    });
    expect((await services.operations.list('am4')).operations).toHaveLength(1);
  });
});

describe('peer promises (issue 15)', () => {
  const promiseToA = (remainingMs: number) => ({ promise: { to: 'head-a', epoch: 1, remainingMs } });

  it('the plan carries the document’s nodes, its peer-lease setting and the trigger', async () => {
    await cluster('pp0');
    const op = await run({ ...input('pp0', 'failover', null), trigger: { kind: 'webhook' } });
    expect(op.plan).toMatchObject({ nodes: ['head-a', 'head-b'], peerLeases: true, trigger: 'webhook' });
  });

  it('a detector failover of an active its standby reports a live promise to is refused before revoking', async () => {
    await cluster('pp1');
    clock += 6000; // head-a silent to the control plane, its lease over
    await standbyHeard('pp1', 'head-b', 100, promiseToA(3000));
    await services.operations.createOnce({
      clusterId: 'pp1',
      operationId: 'detect-1-9',
      kind: 'failure-detected',
      status: 'pending',
      createdAt: clock,
      updatedAt: clock,
      epoch: 1,
      evidence: {},
    });
    const op = await run({
      ...input('pp1', 'failover', null),
      trigger: { kind: 'detector', reference: 'detect-1-9' },
      actor: 'controller',
    });
    const outcome = await op.turn();
    expect(outcome).toMatchObject({
      next: 'end',
      result: { status: 'refused', code: 'ActiveConfirmedAliveByPeer', activeNodeId: 'head-a', epoch: 1 },
    });
    if (outcome.next !== 'end') throw new Error('expected the end');
    expect(outcome.result.reason).toContain(
      `confirmed alive by its peer head-b (a promise under epoch 1 until ${new Date(clock + 3000).toISOString()})`,
    );
    expect((await services.clusters.getState('pp1'))?.state).toMatchObject({ epoch: 1, revoked: false });
  });

  it('a webhook failover revokes, then promotes the bound standby only once its promise lapsed', async () => {
    await cluster('pp2');
    clock += 6000; // the old lease (T0 + 4000) and the drift margin are over
    await standbyHeard('pp2', 'head-b', 100, promiseToA(2500));
    const op = await run({
      ...input('pp2', 'failover', null),
      trigger: { kind: 'webhook', reference: 'alert-9:Fired' },
    });
    const first = await op.turn();
    expect(first).toMatchObject({
      next: 'wait',
      waitingFor: expect.stringMatching(/head-b is bound by its promise/),
    });
    expect((await services.clusters.getState('pp2'))?.state).toMatchObject({ epoch: 1, revoked: true });
    // head-b heard the revocation: it closed epoch 1 and its promise lapsed.
    clock += 1000;
    await standbyHeard('pp2', 'head-b', 100, { closedEpoch: 1 });
    expect((await op.turn()).next).toBe('wait');
    expect((await services.clusters.getState('pp2'))?.state).toMatchObject({
      epoch: 2,
      activeNodeId: 'head-b',
      promotable: ['head-a'],
    });
  });
});

describe('fencing through the fencer node and trying the next candidate', () => {
  let seq = 1000;
  /** A node's heartbeat through the real heartbeat path (as if signed and verified), returning its answer. */
  async function heartbeatOf(clusterId: string, nodeId: string, role: 'active' | 'standby', epoch: number) {
    const outcome = await services.agents.heartbeats.handle(
      { ok: true, clusterId, nodeId, keyVersion: 1, seq: ++seq, timestamp: clock },
      Buffer.from(JSON.stringify({ role, epoch, checks: [{ name: 'ping', status: 'ok' }] })),
    );
    if (!outcome.ok) throw new Error(JSON.stringify(outcome));
    return outcome.reply;
  }
  const ackOf = (
    clusterId: string,
    nodeId: string,
    commandId: string,
    type: string,
    epoch: number,
    outcome: 'ok' | 'failed',
  ) =>
    services.commandAcks.insertIfAbsent({
      event: {
        clusterId,
        nodeId,
        commandId,
        type: type as 'promote',
        epoch,
        outcome,
        steps: [
          {
            name: type,
            exitCode: outcome === 'ok' ? 0 : 1,
            durationMs: 50,
            outputTail: `${type} ${outcome}`,
          },
        ],
        receivedAt: new Date(clock).toISOString(),
      },
    });

  it("promotes before the silent active's lease ends once the fencer acknowledges fence-peer under the revoked epoch", async () => {
    await cluster('fp1', { fencerNodeId: 'head-b' });
    clock += 1500; // head-a went silent; its lease runs until T0 + 4000
    await standbyHeard('fp1', 'head-b', 100);
    const op = await run(input('fp1', 'failover', null));
    expect((await op.turn()).next).toBe('wait');
    expect((await services.clusters.getState('fp1'))?.state).toMatchObject({
      revoked: true,
      fenceRequest: { nodeId: 'head-a', epoch: 1, fencer: 'head-b' },
    });
    // the fencer's heartbeat answer carries the fence-peer command for head-a under epoch 1
    const reply = await heartbeatOf('fp1', 'head-b', 'standby', 1);
    expect(reply.commands).toContainEqual(
      expect.objectContaining({
        id: 'fence-peer-head-a-1',
        type: 'fence-peer',
        epoch: 1,
        targetNodeId: 'head-a',
      }),
    );
    // an acknowledgement of the command as failed is no fence: still waiting for the lease
    clock += 200;
    await ackOf('fp1', 'head-b', 'fence-peer-head-a-1', 'fence-peer', 1, 'failed');
    expect((await op.turn()).next).toBe('wait');
    expect((await services.clusters.getState('fp1'))?.state).toMatchObject({ epoch: 1, fenced: false });
    expect(clock).toBeLessThan(T0 + 4000);
  });

  it('a successful fence-peer acknowledgement fences at once, and the fencer is asked no more', async () => {
    await cluster('fp2', { fencerNodeId: 'head-b' });
    clock += 1500;
    await standbyHeard('fp2', 'head-b', 100);
    const op = await run(input('fp2', 'failover', null));
    await op.turn();
    clock += 200;
    await ackOf('fp2', 'head-b', 'fence-peer-head-a-1', 'fence-peer', 1, 'ok');
    await standbyHeard('fp2', 'head-b', 100);
    expect((await op.turn()).next).toBe('wait'); // verifying head-b
    expect(clock).toBeLessThan(T0 + 4000);
    expect((await services.clusters.getState('fp2'))?.state).toMatchObject({
      epoch: 2,
      activeNodeId: 'head-b',
    });
    const record = await services.operations.get('fp2', 'failover-1');
    expect(record?.steps?.find((s) => s.id === 'fenced-head-a-1')?.detail).toEqual({
      evidence: 'head-b fenced head-a through its fence-peer hook (epoch 1)',
    });
    expect(record?.steps?.find((s) => s.id === 'ack-head-b-fence-peer-head-a-1')).toMatchObject({
      outcome: 'ok',
    });
    // the fencer (now the active) is not asked to fence again
    const reply = await heartbeatOf('fp2', 'head-b', 'active', 2);
    expect(reply.commands.filter((c) => c.type === 'fence-peer')).toEqual([]);
  });

  it('the promoted standby gets its promote command at its very next heartbeat, not after its cached state expires', async () => {
    await cluster('nu1');
    clock += 1500;
    const op = await run(input('nu1', 'failover', null));
    expect((await op.turn()).next).toBe('wait');
    clock = T0 + 4500;
    // head-b heartbeats: the heartbeat path caches the (revoked) state it answered from
    expect((await heartbeatOf('nu1', 'head-b', 'standby', 1)).role).toBe('standby');
    await op.turn(); // head-b promoted under epoch 2
    expect((await services.clusters.getState('nu1'))?.state).toMatchObject({
      epoch: 2,
      activeNodeId: 'head-b',
    });
    // at the same instant (the cache is still fresh by its clock), the next heartbeat carries the promotion
    const reply = await heartbeatOf('nu1', 'head-b', 'standby', 1);
    expect(reply).toMatchObject({ role: 'active', epoch: 2 });
    expect(reply.commands).toContainEqual(expect.objectContaining({ id: 'promote-2', type: 'promote' }));
  });

  it('a target that stepped down after its promote hook failed is not made active again by its heartbeats', async () => {
    await cluster('pf1');
    clock += 1500;
    const op = await run(input('pf1', 'failover', null));
    await op.turn();
    clock = T0 + 4500;
    await standbyHeard('pf1', 'head-b', 100);
    await op.turn(); // head-b promoted under epoch 2
    clock += 200;
    await ackOf('pf1', 'head-b', 'promote-2', 'promote', 2, 'failed');
    // its agent undid the promotion and says it demoted itself under epoch 2
    const outcome = await services.agents.heartbeats.handle(
      { ok: true, clusterId: 'pf1', nodeId: 'head-b', keyVersion: 1, seq: ++seq, timestamp: clock },
      Buffer.from(
        JSON.stringify({
          role: 'standby',
          epoch: 2,
          demotedAtEpoch: 2,
          checks: [{ name: 'ping', status: 'ok' }],
        }),
      ),
    );
    if (!outcome.ok) throw new Error(JSON.stringify(outcome));
    expect(outcome.reply).toMatchObject({ role: 'standby', epoch: 2, lease: null });
    expect(outcome.reply.commands.filter((c) => c.type === 'promote')).toEqual([]);
    expect((await services.clusters.getState('pf1'))?.state.epoch).toBe(2);
  });

  it('the heartbeat that completes the verification says so (once), for the operation to hear at once', async () => {
    await cluster('vh1');
    const beat = async (role: 'active' | 'standby') => {
      const outcome = await services.agents.heartbeats.handle(
        { ok: true, clusterId: 'vh1', nodeId: 'head-a', keyVersion: 1, seq: ++seq, timestamp: clock },
        Buffer.from(JSON.stringify({ role, epoch: 1, checks: [{ name: 'ping', status: 'ok' }] })),
      );
      if (!outcome.ok) throw new Error(JSON.stringify(outcome));
      return outcome.verifiedActive;
    };
    expect(await beat('standby')).toBeUndefined(); // granted, but still promoting: not counted
    expect(await beat('active')).toBeUndefined(); // 1 of 2
    expect(await beat('active')).toEqual({ nodeId: 'head-a', epoch: 1 }); // 2 of 2 (the document's default)
    expect(await beat('active')).toBeUndefined(); // told once
  });

  it('when the promoted target fails its promote hook, and no other node is healthy, leaves no active and says why', async () => {
    await cluster('nx1');
    const op = await run(input('nx1', 'failover', null));
    expect((await op.turn()).next).toBe('wait'); // head-a revoked, fenced by demotion (lease wait) ...
    clock = T0 + 4500;
    await standbyHeard('nx1', 'head-b', 100);
    await op.turn(); // ... head-b promoted under epoch 2
    expect((await services.clusters.getState('nx1'))?.state).toMatchObject({
      epoch: 2,
      activeNodeId: 'head-b',
    });
    clock += 300;
    await ackOf('nx1', 'head-b', 'promote-2', 'promote', 2, 'failed');
    // head-b failed; head-a has been silent since T0: nobody is left
    let outcome = await op.turn();
    for (let i = 0; outcome.next === 'wait' && i < 10; i++) {
      clock = Math.max(clock + 100, outcome.until);
      outcome = await op.turn();
    }
    expect(outcome).toMatchObject({
      next: 'end',
      result: { status: 'failed', code: 'NoHealthyTarget', activeNodeId: null },
    });
    const record = await services.operations.get('nx1', 'failover-1');
    expect(record?.steps?.map((s) => s.id)).toEqual(
      expect.arrayContaining(['promote-head-b-2', 'ack-head-b-promote-2', 'retry-head-b-2', 'revoke-2']),
    );
    expect(record?.reason).toContain('failed: head-b');
    const { state } = (await services.clusters.getState('nx1'))!;
    expect(state).toMatchObject({ epoch: 2, revoked: true });
    expect(state.reason).toMatch(/^no active: no healthy node left to promote in nx1 \(failed: head-b\)/);
  });
});
