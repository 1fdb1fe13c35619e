import { randomBytes } from 'node:crypto';
import { startAzurite, type RunningAzurite } from '../../../../devhost';
import { loadConfig } from '../../../../shared/config/config';
import { clusterStatus, declareCluster } from '../../../../shared/control/clusters/clusterAdmin';
import {
  detectFailures,
  detectionId,
  endDetection,
  supersededBecause,
} from '../../../../shared/control/detection/failureDetector';
import { grantLease, promote, revoke } from '../../../../shared/domain/decisions';
import { createServices, type Services } from '../../../../shared/services/services';
import { createTableClients, ensureTables, tableNames } from '../../../../shared/stores/tableClients';
import { twoNodeCluster } from '../../../helpers/controlPlane';

let azurite: RunningAzurite;
let clock = Date.UTC(2030, 0, 1);
const hosts: Services[] = [];

beforeAll(async () => {
  azurite = await startAzurite({ inMemory: true });
  const config = loadConfig({
    AzureWebJobsStorage: azurite.connectionString,
    NODE_KEY_MASTER: randomBytes(32).toString('base64'),
    TABLE_PREFIX: 'Detect',
  });
  await ensureTables(createTableClients(config.storage, tableNames(config.tablePrefix)));
  // Three "host instances" sharing the storage, each with its own service objects, all on the test's clock.
  for (let i = 0; i < 3; i++) hosts.push(createServices(config, () => clock));
  await hosts[0]!.witness.ensureContainer();
});
afterAll(async () => {
  await azurite.stop();
});

/** Records a heartbeat of the active as the heartbeat path does: a lease grant and the heartbeat in the state. */
async function heardFromActive(services: Services, clusterId: string): Promise<number> {
  const stored = await services.clusters.getState(clusterId);
  const state = stored!.state;
  const grant = grantLease(state, state.activeNodeId!, state.epoch, clock, 4000);
  if (!grant.granted) throw new Error('expected a grant');
  const write = await services.clusters.replaceState(
    {
      ...grant.state,
      activeHeartbeat: {
        clusterId,
        nodeId: state.activeNodeId!,
        seq: clock,
        receivedAt: clock,
        role: 'active',
        epoch: state.epoch,
        checks: [],
      },
    },
    stored!.etag,
  );
  if (!write.ok) throw new Error('expected the write to win');
  return clock;
}

const detectionsOf = async (services: Services, clusterId: string) =>
  (await detectFailures(services)).filter((d) => d.clusterId === clusterId);

describe('failure detector', () => {
  it("records nothing while the active's heartbeats arrive", async () => {
    const services = hosts[0]!;
    expect((await declareCluster(services, 'live', twoNodeCluster('live'), 'test')).ok).toBe(true);
    await heardFromActive(services, 'live');
    clock += 4999;
    expect(await detectionsOf(services, 'live')).toEqual([]);
  });

  it('records one detection per cluster, epoch and silence with its evidence, even when three hosts run at once', async () => {
    const services = hosts[0]!;
    await declareCluster(services, 'silent', twoNodeCluster('silent'), 'test');
    const heardAt = await heardFromActive(services, 'silent');
    clock += 5000; // 5 missed heartbeats of 1 s
    const results = (await Promise.all(hosts.map((h) => detectFailures(h))))
      .flat()
      .filter((d) => d.clusterId === 'silent');
    expect(results).toHaveLength(3);
    expect(results.filter((d) => d.created)).toHaveLength(1);
    const op = await services.operations.get('silent', detectionId(1, heardAt));
    expect(op).toMatchObject({
      kind: 'failure-detected',
      status: 'pending',
      epoch: 1,
      evidence: {
        activeNodeId: 'head-a',
        missedHeartbeats: 5,
        threshold: 5,
        lastHeartbeatAt: new Date(heardAt).toISOString(),
      },
    });
    // A later round does not record it again.
    clock += 10_000;
    expect((await detectionsOf(services, 'silent')).filter((d) => d.created)).toEqual([]);
    expect(
      (await services.audit.recent('silent')).filter((e) => e.action === 'failure-detected'),
    ).toHaveLength(1);
  });

  it('records no detection for an active never heard from under its epoch, and detects its later silence', async () => {
    const services = hosts[0]!;
    await declareCluster(services, 'fresh', twoNodeCluster('fresh'), 'test');
    clock += 60_000; // the agents are not installed yet
    expect(await detectionsOf(services, 'fresh')).toEqual([]);
    expect(await clusterStatus(services, 'fresh')).toMatchObject({
      activeNodeId: 'head-a',
      activeNeverHeard: true,
    });
    // The agent comes up, then the active crashes: that silence is detected.
    const heardAt = await heardFromActive(services, 'fresh');
    expect((await clusterStatus(services, 'fresh'))?.activeNeverHeard).toBe(false);
    clock += 5000;
    expect(await detectionsOf(services, 'fresh')).toEqual([
      expect.objectContaining({ operationId: detectionId(1, heardAt), created: true }),
    ]);
  });

  it('ends a detection as superseded when the active is heard again, and detects its next silence', async () => {
    const services = hosts[0]!;
    await declareCluster(services, 'flaky', twoNodeCluster('flaky'), 'test');
    const first = await heardFromActive(services, 'flaky');
    clock += 5000;
    await detectFailures(services);
    expect((await clusterStatus(services, 'flaky'))?.runningOperations).toEqual([
      expect.objectContaining({ operationId: detectionId(1, first), status: 'pending' }),
    ]);
    const second = await heardFromActive(services, 'flaky');
    await detectFailures(services);
    expect(await services.operations.get('flaky', detectionId(1, first))).toMatchObject({
      status: 'superseded',
      outcome: { reason: expect.stringContaining('was heard again') },
    });
    expect((await clusterStatus(services, 'flaky'))?.runningOperations).toEqual([]);
    clock += 5000;
    expect(await detectionsOf(services, 'flaky')).toEqual([
      expect.objectContaining({ operationId: detectionId(1, second), created: true }),
    ]);
  });

  it('ends a detection as superseded when the epoch moved on, and the status stops listing it', async () => {
    const services = hosts[0]!;
    await declareCluster(services, 'moved', twoNodeCluster('moved'), 'test');
    const heardAt = await heardFromActive(services, 'moved');
    clock += 5000;
    await detectFailures(services);
    const stored = await services.clusters.getState('moved');
    const promoted = promote(revoke(stored!.state, clock, 'test'), 'head-b', clock + 10_000, 0, 'test');
    await services.clusters.replaceState(promoted, stored!.etag);
    clock += 10_000;
    // head-b was never heard from under epoch 2: nothing new is detected, and detect-1 ended.
    expect(await detectionsOf(services, 'moved')).toEqual([]);
    expect(await services.operations.get('moved', detectionId(1, heardAt))).toMatchObject({
      status: 'superseded',
      outcome: { reason: 'the epoch moved on from 1 to 2' },
    });
    expect(await services.operations.listUnfinished('moved')).toEqual([]);
  });

  it('endDetection ends a detection once: an ended one stays as it ended', async () => {
    const services = hosts[0]!;
    await declareCluster(services, 'handled', twoNodeCluster('handled'), 'test');
    const heardAt = await heardFromActive(services, 'handled');
    clock += 5000;
    await detectFailures(services);
    const id = detectionId(1, heardAt);
    const ended = await endDetection(services, 'handled', id, 'refused', { by: 'test' });
    expect(ended).toMatchObject({ ended: true, operation: { status: 'refused', outcome: { by: 'test' } } });
    expect(await endDetection(services, 'handled', id, 'superseded', {})).toMatchObject({
      ended: false,
      reason: 'already-ended',
      operation: { status: 'refused' },
    });
    expect(await endDetection(services, 'handled', 'detect-9-9', 'failed', {})).toEqual({
      ended: false,
      reason: 'not-found',
    });
  });

  it("reads the policy from the state's copy, kept equal to the document's on re-declaration", async () => {
    const services = hosts[0]!;
    await declareCluster(services, 'tuned', twoNodeCluster('tuned'), 'test');
    expect((await services.clusters.getState('tuned'))?.state.detection).toEqual({
      heartbeatIntervalMs: 1000,
      missedHeartbeats: 5,
    });
    const detection = { heartbeatIntervalMs: 200, missedHeartbeats: 3, leaseMs: 1000, driftMarginMs: 50 };
    expect((await declareCluster(services, 'tuned', twoNodeCluster('tuned', detection), 'test')).ok).toBe(
      true,
    );
    expect((await services.clusters.getState('tuned'))?.state.detection).toEqual({
      heartbeatIntervalMs: 200,
      missedHeartbeats: 3,
    });
    await heardFromActive(services, 'tuned');
    clock += 599;
    expect(await detectionsOf(services, 'tuned')).toEqual([]);
    clock += 1;
    expect(await detectionsOf(services, 'tuned')).toHaveLength(1);
  });

  it('a state written before the detection view existed is still checked (read in full, with its document)', async () => {
    const services = hosts[0]!;
    await declareCluster(services, 'legacy', twoNodeCluster('legacy'), 'test');
    const heardAt = await heardFromActive(services, 'legacy');
    // Rewrite the entity as an older version stored it: the state JSON only, no view, no policy copy.
    const stored = await services.clusters.getState('legacy');
    const { detection: _policy, ...older } = stored!.state;
    await services.tables.clusterState.updateEntity(
      { partitionKey: 'legacy', rowKey: 'state', State: JSON.stringify(older) },
      'Replace',
    );
    clock += 5000;
    expect(await detectionsOf(services, 'legacy')).toEqual([
      expect.objectContaining({ operationId: detectionId(1, heardAt), created: true }),
    ]);
  });

  it('a view read a moment before a detection was created under a newer epoch does not end it', () => {
    const op = {
      clusterId: 'c',
      operationId: detectionId(2, 1000),
      kind: 'failure-detected' as const,
      status: 'pending' as const,
      createdAt: 6000,
      updatedAt: 6000,
      epoch: 2,
      evidence: { lastHeartbeatAt: new Date(1000).toISOString() },
    };
    const view = {
      epoch: 1,
      activeNodeId: 'a',
      revoked: false,
      leaseExpiresAt: 900,
      heard: { nodeId: 'a', at: 500 },
      policy: { heartbeatIntervalMs: 1000, missedHeartbeats: 5 },
    };
    expect(supersededBecause(op, view)).toBeUndefined();
    expect(supersededBecause(op, { ...view, epoch: 3 })).toBe('the epoch moved on from 2 to 3');
    expect(supersededBecause(op, { ...view, epoch: 2, heard: { nodeId: 'a', at: 1001 } })).toContain(
      'heard again',
    );
  });
});
