import { randomBytes } from 'node:crypto';
import { startAzurite, type RunningAzurite } from '../../../../devhost';
import { loadConfig } from '../../../../shared/config/config';
import { clusterStatus, declareCluster } from '../../../../shared/control/clusters/clusterAdmin';
import { reconcileFromWitness } from '../../../../shared/control/common/witnessDecision';
import type { ClusterDocument } from '../../../../shared/domain/clusterDocument';
import { initialClusterState, type ClusterState } from '../../../../shared/domain/clusterState';
import { buildClusterStatus, renderClusterStatusText } from '../../../../shared/domain/clusterStatus';
import { grantLease, promote, revoke } from '../../../../shared/domain/decisions';
import { createServices, type Services } from '../../../../shared/services/services';
import { createTableClients, ensureTables, tableNames } from '../../../../shared/stores/tableClients';
import { twoNodeCluster } from '../../../helpers/controlPlane';

let azurite: RunningAzurite;
let clock = Date.UTC(2030, 0, 1);
let services: Services;
const seqs: Record<string, number> = {};

beforeAll(async () => {
  azurite = await startAzurite({ inMemory: true });
  const config = loadConfig({
    AzureWebJobsStorage: azurite.connectionString,
    NODE_KEY_MASTER: randomBytes(32).toString('base64'),
    TABLE_PREFIX: 'Status',
  });
  await ensureTables(createTableClients(config.storage, tableNames(config.tablePrefix)));
  services = createServices(config, () => clock);
  await services.witness.ensureContainer();
});
afterAll(async () => {
  await azurite.stop();
});

/** A heartbeat through the heartbeat path (the signature is verified before it: here it is taken as verified). */
async function heartbeat(clusterId: string, nodeId: string, body: Record<string, unknown>) {
  const seq = (seqs[`${clusterId}/${nodeId}`] = (seqs[`${clusterId}/${nodeId}`] ?? 0) + 1);
  const outcome = await services.agents.heartbeats.handle(
    { ok: true, clusterId, nodeId, keyVersion: 1, seq, timestamp: clock },
    Buffer.from(JSON.stringify({ checks: [], ...body })),
  );
  if (!outcome.ok) throw new Error(`heartbeat refused: ${outcome.message}`);
  return outcome.reply;
}

async function failOver(clusterId: string, to: string): Promise<void> {
  const stored = await services.clusters.getState(clusterId);
  const next = promote(revoke(stored!.state, clock, 'test'), to, clock, 0, 'test failover');
  expect((await services.clusters.replaceState(next, stored!.etag)).ok).toBe(true);
}

describe('the status after a failover', () => {
  it("shows the dead ex-active's last heartbeat as the active, not its older one as standby", async () => {
    await declareCluster(services, 'ex', twoNodeCluster('ex'), 'test');
    await heartbeat('ex', 'head-a', { role: 'active', epoch: 1 }); // its row: none yet
    clock += 1000;
    const lastAsActive = clock;
    await heartbeat('ex', 'head-a', { role: 'active', epoch: 1 });
    clock += 30_000; // head-a dies; its lease runs out and head-b is promoted
    await failOver('ex', 'head-b');
    await heartbeat('ex', 'head-b', { role: 'standby', epoch: 1 });
    await heartbeat('ex', 'head-b', { role: 'active', epoch: 2 });
    clock += 2000;
    const status = await clusterStatus(services, 'ex');
    expect(status?.activeNodeId).toBe('head-b');
    expect(status?.nodes.find((n) => n.nodeId === 'head-a')).toMatchObject({
      active: false,
      reportedRole: 'active',
      reportedEpoch: 1,
      lastHeartbeatAgeMs: clock - lastAsActive,
    });
    // The row also keeps the highest sequence accepted from head-a (its heartbeats as active went to the state).
    expect((await services.heartbeats.get('ex', 'head-a'))?.record.seq).toBe(2);
  });

  it('shows an active whose last heartbeat says standby as stepped down once its lease ran out, not active with 0 ms', async () => {
    await declareCluster(services, 'term', twoNodeCluster('term'), 'test');
    await heartbeat('term', 'head-a', { role: 'active', epoch: 1 });
    // SIGTERM: the agent demotes itself and says so in its last heartbeat, then stops.
    await heartbeat('term', 'head-a', { role: 'standby', epoch: 1 });
    clock += 60_000;
    const status = await clusterStatus(services, 'term');
    expect(status).toMatchObject({ activeNodeId: 'head-a', activeSteppedDown: true, leaseExpired: true });
    expect(status?.nodes[0]).toMatchObject({ nodeId: 'head-a', role: 'active', reportedRole: 'standby' });
  });

  it('shows an active reaffirmed on its demotedAtEpoch heartbeat, then silent, as stepped down once the lease ran out', async () => {
    await declareCluster(services, 'reaf', twoNodeCluster('reaf'), 'test');
    await heartbeat('reaf', 'head-a', { role: 'active', epoch: 1 });
    // Its last heartbeat after demoting itself: the heartbeat path raises the epoch and grants under epoch 2.
    const reply = await heartbeat('reaf', 'head-a', { role: 'standby', epoch: 1, demotedAtEpoch: 1 });
    expect(reply).toMatchObject({ role: 'active', epoch: 2 });
    expect(await clusterStatus(services, 'reaf')).toMatchObject({ epoch: 2, activeSteppedDown: false });
    clock += 60_000; // the agent stopped: nothing more is heard
    expect(await clusterStatus(services, 'reaf')).toMatchObject({
      epoch: 2,
      activeSteppedDown: true,
      leaseExpired: true,
      leaseRemainingMs: 0,
    });
  });

  it('records the epoch a node says it demoted itself under', async () => {
    await declareCluster(services, 'dem', twoNodeCluster('dem'), 'test');
    await heartbeat('dem', 'head-b', { role: 'standby', epoch: 1, demotedAtEpoch: 1 });
    const status = await clusterStatus(services, 'dem');
    expect(status?.nodes.find((n) => n.nodeId === 'head-b')).toMatchObject({ demotedAtEpoch: 1 });
  });

  it('keeps the former active heartbeat through a reconciliation from the witness', () => {
    const state: ClusterState = {
      ...initialClusterState('w', 'a', 0),
      activeHeartbeat: {
        clusterId: 'w',
        nodeId: 'a',
        seq: 3,
        receivedAt: 5,
        role: 'active',
        epoch: 1,
        checks: [],
      },
    };
    const record = { epoch: 2, activeNodeId: 'b', decidedAt: '', decidedBy: 'x', reason: 'y' };
    expect(reconcileFromWitness(state, record, 10).activeHeartbeat?.nodeId).toBe('a');
  });
});

const document = twoNodeCluster('pure') as unknown as ClusterDocument;
const T = Date.UTC(2030, 0, 1);

describe('the status tells the truth (pure)', () => {
  it('flags a witness behind the state, in JSON and text', () => {
    const state = { ...initialClusterState('pure', 'head-a', T), epoch: 3 };
    const witness = {
      epoch: 2,
      activeNodeId: 'head-a',
      decidedAt: new Date(T).toISOString(),
      decidedBy: 'arb',
    };
    const status = buildClusterStatus({ document, state, heartbeats: [], witness, operations: [], now: T });
    expect(status.witness).toEqual({ ...witness, behindState: true, stateEpoch: 3 });
    expect(renderClusterStatusText(status)).toContain("(behind the state's epoch 3:");
    const current = buildClusterStatus({
      document,
      state,
      heartbeats: [],
      witness: { ...witness, epoch: 3 },
      operations: [],
      now: T,
    });
    expect(current.witness).toMatchObject({ behindState: false, stateEpoch: 3 });
    expect(renderClusterStatusText(current)).not.toContain('behind');
  });

  it('names the running operation and the step it is at', () => {
    const state = initialClusterState('pure', 'head-a', T);
    const operations = [
      {
        operationId: 'failover-1',
        kind: 'failover',
        status: 'running',
        createdAt: T,
        steps: [
          { name: 'revoke the lease of epoch 1', outcome: 'ok', startedAt: T + 1 },
          { name: 'fence head-a (power-off)', outcome: 'running', startedAt: T + 2 },
          { name: 'head-b ran demote (epoch 1): ok', outcome: 'ok', startedAt: T + 3 },
        ],
      },
    ];
    const status = buildClusterStatus({ document, state, heartbeats: [], witness: null, operations, now: T });
    expect(status.runningOperations).toEqual([
      expect.objectContaining({ operationId: 'failover-1', step: 'fence head-a (power-off)' }),
    ]);
    expect(renderClusterStatusText(status)).toContain(
      'Running: failover failover-1 (fence head-a (power-off))',
    );
  });

  it('says the cluster has no active, and why, when a failover found nobody to promote', () => {
    const state = {
      ...initialClusterState('pure', 'head-a', T),
      revoked: true,
      reason: 'no active: no healthy node left to promote in pure (failed: head-b)',
    };
    const status = buildClusterStatus({
      document,
      state,
      heartbeats: [],
      witness: null,
      operations: [],
      now: T,
    });
    expect(status).toMatchObject({
      activeNodeId: null,
      noActiveReason: 'no healthy node left to promote in pure (failed: head-b)',
    });
    expect(renderClusterStatusText(status)).toContain('NO ACTIVE: no healthy node left to promote in pure');
    // a revocation in progress is not "no active"
    const running = buildClusterStatus({
      document,
      state: { ...state, reason: 'failover (ending epoch 1)' },
      heartbeats: [],
      witness: null,
      operations: [],
      now: T,
    });
    expect(running.noActiveReason).toBeNull();
    expect(renderClusterStatusText(running)).toContain('(revoked: failover in progress)');
  });

  it('says the active stepped down when its latest heartbeat says it demoted itself under the current epoch', () => {
    const granted = grantLease(initialClusterState('pure', 'head-a', T), 'head-a', 1, T, 4000);
    if (!granted.granted) throw new Error('expected a grant');
    const state: ClusterState = {
      ...granted.state,
      activeHeartbeat: {
        clusterId: 'pure',
        nodeId: 'head-a',
        seq: 9,
        receivedAt: T,
        role: 'standby',
        epoch: 1,
        demotedAtEpoch: 1,
        checks: [],
      },
    };
    const status = buildClusterStatus({
      document,
      state,
      heartbeats: [],
      witness: null,
      operations: [],
      now: T + 5000,
    });
    expect(status).toMatchObject({
      activeNodeId: 'head-a',
      activeSteppedDown: true,
      leaseExpired: true,
      leaseRemainingMs: 0,
    });
    expect(status.nodes[0]).toMatchObject({ nodeId: 'head-a', reportedRole: 'standby', demotedAtEpoch: 1 });
    const text = renderClusterStatusText(status);
    expect(text).toContain('Active: head-a stepped down (it demoted itself under epoch 1)');
    expect(text).toContain('Lease: expired (stepped down;');
    expect(text).toContain('(reports standby)');

    // Raised since (the heartbeat path reaffirmed it under epoch 2): it is active again, not stepped down.
    const raised = buildClusterStatus({
      document,
      state: { ...state, epoch: 2, leaseExpiresAt: T + 9000 },
      heartbeats: [],
      witness: null,
      operations: [],
      now: T + 5000,
    });
    expect(raised).toMatchObject({ activeSteppedDown: false, leaseExpired: false, leaseRemainingMs: 4000 });
  });

  it('says an active never heard from under its epoch', () => {
    const state = initialClusterState('pure', 'head-a', T);
    const status = buildClusterStatus({
      document,
      state,
      heartbeats: [],
      witness: null,
      operations: [],
      now: T,
    });
    expect(status.activeNeverHeard).toBe(true);
    expect(renderClusterStatusText(status)).toContain('Active: head-a never heard from under epoch 1');
  });
});
