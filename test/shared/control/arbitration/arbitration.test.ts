import type { RunningAzurite } from '../../../../devhost';
import {
  completeArbitration,
  decideArbitration,
  type ArbitrationVote,
} from '../../../../shared/control/arbitration/arbitration';
import { declareCluster } from '../../../../shared/control/clusters/clusterAdmin';
import { grantLease } from '../../../../shared/domain/decisions';
import { WitnessBusyError } from '../../../../shared/errors';
import type { Services } from '../../../../shared/services/services';
import { servicesOnAzurite } from '../../../helpers/servicesOnAzurite';
import { twoNodeCluster } from '../../../helpers/controlPlane';

let azurite: RunningAzurite;
let services: Services;
const T0 = Date.UTC(2030, 0, 1);
let clock = T0;
const ok = [{ name: 'ping', status: 'ok' as const }];
const failing = [{ name: 'database', status: 'fail' as const }];
const vote = (nodeId: string, checks: ArbitrationVote['checks'] = ok, priority = 100): ArbitrationVote => ({
  nodeId,
  checks,
  priority,
});

beforeAll(async () => {
  ({ azurite, services } = await servicesOnAzurite('Arb', () => clock));
});
afterAll(async () => {
  await azurite.stop();
});
// Each test starts at the same instant on its own cluster: none depends on another having run.
beforeEach(() => {
  clock = T0;
});

/** Declares a cluster whose active (head-a) holds a 4 s lease granted now. */
async function clusterWithLease(id: string) {
  await declareCluster(services, id, twoNodeCluster(id), 'test');
  const stored = await services.clusters.getState(id);
  const grant = grantLease(stored!.state, 'head-a', 1, clock, 4000);
  if (!grant.granted) throw new Error('expected a grant');
  await services.clusters.replaceState(grant.state, stored!.etag);
}

describe('witness arbitration', () => {
  it('keeps a healthy active, raising the epoch in the witness and the state', async () => {
    await clusterWithLease('arb1');
    const decision = await decideArbitration(services, {
      clusterId: 'arb1',
      epoch: 1,
      votes: [vote('head-a'), vote('head-b', ok, 1)],
      decider: 'test',
    });
    expect(decision).toMatchObject({ outcome: 'decided', winner: 'head-a', losers: ['head-b'], epoch: 2 });
    expect((await services.witness.read('arb1')).record).toMatchObject({
      epoch: 2,
      activeNodeId: 'head-a',
      decidedBy: 'test',
    });
    expect((await services.clusters.getState('arb1'))?.state).toMatchObject({
      epoch: 2,
      activeNodeId: 'head-a',
      revoked: false,
    });
  });

  it("promotes the healthier standby only after the old active's lease and the drift margin have passed", async () => {
    await clusterWithLease('arb2');
    const input = {
      clusterId: 'arb2',
      epoch: 1,
      votes: [vote('head-a', failing), vote('head-b')],
      decider: 'test',
    };
    const first = await decideArbitration(services, input);
    expect(first).toEqual({
      outcome: 'waiting',
      winner: 'head-b',
      losers: ['head-a'],
      retryAt: clock + 4000 + 500,
    });
    expect((await services.clusters.getState('arb2'))?.state).toMatchObject({ epoch: 1, revoked: true });
    clock += 4499;
    expect(
      (await completeArbitration(services, { ...input, winner: 'head-b', losers: ['head-a'] })).outcome,
    ).toBe('waiting');
    clock += 1;
    const done = await completeArbitration(services, { ...input, winner: 'head-b', losers: ['head-a'] });
    expect(done).toMatchObject({ outcome: 'decided', winner: 'head-b', epoch: 2 });
    expect((await services.witness.read('arb2')).record).toMatchObject({ epoch: 2, activeNodeId: 'head-b' });
    expect((await services.clusters.getState('arb2'))?.state).toMatchObject({
      epoch: 2,
      activeNodeId: 'head-b',
      revoked: false,
      leaseExpiresAt: null,
    });
  });

  it('lets only one of two contending deciders hold the witness; the other is told it is busy', async () => {
    await clusterWithLease('arb3');
    const lease = await services.witness.acquire('arb3', 'other-decider');
    await expect(
      decideArbitration(services, { clusterId: 'arb3', epoch: 1, votes: [vote('head-a')], decider: 'test' }),
    ).rejects.toBeInstanceOf(WitnessBusyError);
    await services.witness.release(lease);
    expect(
      (
        await decideArbitration(services, {
          clusterId: 'arb3',
          epoch: 1,
          votes: [vote('head-a')],
          decider: 'test',
        })
      ).outcome,
    ).toBe('decided');
    // A later request for the old epoch finds the cluster moved on.
    expect(
      await decideArbitration(services, {
        clusterId: 'arb3',
        epoch: 1,
        votes: [vote('head-b')],
        decider: 'late',
      }),
    ).toEqual({ outcome: 'superseded', epoch: 2, activeNodeId: 'head-a' });
  });

  it('reconciles a crash between the witness write and the state write on the next attempt', async () => {
    await clusterWithLease('arb4');
    // The decider wrote the witness (epoch 2, head-a) and crashed before writing the state.
    const lease = await services.witness.acquire('arb4', 'crashed');
    const { etag } = await services.witness.read('arb4');
    await services.witness.writeDecision(
      lease,
      {
        epoch: 2,
        activeNodeId: 'head-a',
        decidedAt: new Date(clock).toISOString(),
        decidedBy: 'crashed',
        reason: 'kept',
      },
      etag,
    );
    await services.witness.release(lease);
    expect((await services.clusters.getState('arb4'))?.state.epoch).toBe(1);
    const replayed = await decideArbitration(services, {
      clusterId: 'arb4',
      epoch: 1,
      votes: [vote('head-a'), vote('head-b')],
      decider: 'replay',
    });
    expect(replayed).toMatchObject({ outcome: 'decided', winner: 'head-a', epoch: 2 });
    expect((await services.clusters.getState('arb4'))?.state).toMatchObject({
      epoch: 2,
      activeNodeId: 'head-a',
      leaseExpiresAt: clock + 4000,
    });
    expect((await services.witness.read('arb4')).record.epoch).toBe(2);
  });
});

/** A cluster whose active holds a lease and whose last heartbeat (now) is in the state entity. */
async function clusterWithActiveHeard(id: string) {
  await clusterWithLease(id);
  const stored = await services.clusters.getState(id);
  const heard = {
    clusterId: id,
    nodeId: 'head-a',
    seq: 1,
    receivedAt: clock,
    role: 'active' as const,
    epoch: 1,
    checks: ok,
  };
  await services.clusters.replaceState({ ...stored!.state, activeHeartbeat: heard }, stored!.etag);
}

describe("witness arbitration under the cluster's failover policy", () => {
  it('in manual mode keeps the active (nothing revoked) and records the refused failover', async () => {
    await declareCluster(
      services,
      'arbm',
      { ...twoNodeCluster('arbm'), failover: { mode: 'manual' } },
      'test',
    );
    const stored = await services.clusters.getState('arbm');
    const grant = grantLease(stored!.state, 'head-a', 1, clock, 4000);
    if (!grant.granted) throw new Error('expected a grant');
    await services.clusters.replaceState(grant.state, stored!.etag);
    const input = {
      clusterId: 'arbm',
      epoch: 1,
      votes: [vote('head-a', failing), vote('head-b')],
      decider: 'arb-x',
    };
    const decision = await decideArbitration(services, input);
    expect(decision).toMatchObject({
      outcome: 'refused',
      code: 'ManualMode',
      epoch: 1,
      activeNodeId: 'head-a',
    });
    expect((await services.clusters.getState('arbm'))?.state).toMatchObject({
      epoch: 1,
      activeNodeId: 'head-a',
      revoked: false,
    });
    expect(await services.operations.get('arbm', 'arbitration-1-refused')).toMatchObject({
      kind: 'failover',
      status: 'refused',
      trigger: { kind: 'arbitration', reference: 'arb-x' },
      reason: expect.stringContaining('ManualMode'),
    });
    // asked again under the same epoch: the same answer, recorded once
    expect(await decideArbitration(services, input)).toMatchObject({ outcome: 'refused' });
    const entries = await services.audit.recent('arbm');
    expect(entries.filter((e) => e.action === 'failover-refused')).toHaveLength(1);
  });

  it('within the cooldown after a failover keeps the active and says when the cooldown lifts', async () => {
    await clusterWithLease('arbc');
    await services.operations.createOnce({
      clusterId: 'arbc',
      operationId: 'failover-earlier',
      kind: 'failover',
      status: 'pending',
      createdAt: clock - 60_000,
      updatedAt: clock - 60_000,
      epoch: 0,
      evidence: {},
      trigger: { kind: 'detector' },
      actor: 'detector',
      targetNodeId: null,
    });
    await services.operations.finish('arbc', 'failover-earlier', {
      status: 'succeeded',
      reason: 'x',
      at: clock - 50_000,
    });
    const decision = await decideArbitration(services, {
      clusterId: 'arbc',
      epoch: 1,
      votes: [vote('head-a', failing), vote('head-b')],
      decider: 'arb-y',
    });
    expect(decision).toMatchObject({
      outcome: 'refused',
      code: 'CoolingDown',
      reason: expect.stringContaining('lifts at'),
    });
    expect((await services.clusters.getState('arbc'))?.state).toMatchObject({
      revoked: false,
      activeNodeId: 'head-a',
    });
  });
});

describe('witness arbitration with an active that did not ask', () => {
  it('counts an active the control plane still hears from, so a lone standby cannot take over', async () => {
    await clusterWithActiveHeard('arb5');
    const decision = await decideArbitration(services, {
      clusterId: 'arb5',
      epoch: 1,
      votes: [vote('head-b', ok, 1)],
      decider: 'test',
    });
    expect(decision).toMatchObject({ outcome: 'decided', winner: 'head-a', losers: ['head-b'] });
  });

  it('lets the standby win once the active has been silent past the detection policy', async () => {
    await clusterWithActiveHeard('arb6');
    clock += 5000;
    const decision = await decideArbitration(services, {
      clusterId: 'arb6',
      epoch: 1,
      votes: [vote('head-b')],
      decider: 'test',
    });
    expect(decision).toMatchObject({ winner: 'head-b' });
  });
});
