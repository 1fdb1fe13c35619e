import { randomBytes } from 'node:crypto';
import { startAzurite, type RunningAzurite } from '../../../../devhost';
import { loadConfig } from '../../../../shared/config/config';
import { declareCluster } from '../../../../shared/control/clusters/clusterAdmin';
import { detectFailures } from '../../../../shared/control/detection/failureDetector';
import { grantLease } from '../../../../shared/domain/decisions';
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
  await ensureTables(createTableClients(config.storageConnectionString, tableNames(config.tablePrefix)));
  // Three "host instances" sharing the storage, each with its own service objects, all on the test's clock.
  for (let i = 0; i < 3; i++) hosts.push(createServices(config, () => clock));
  await hosts[0]!.witness.ensureContainer();
});
afterAll(async () => {
  await azurite.stop();
});

describe('failure detector', () => {
  it("records nothing while the active's heartbeats arrive", async () => {
    const services = hosts[0]!;
    expect((await declareCluster(services, 'live', twoNodeCluster('live'), 'test')).ok).toBe(true);
    const stored = await services.clusters.getState('live');
    const grant = grantLease(stored!.state, 'head-a', 1, clock, 4000);
    if (!grant.granted) throw new Error('expected a grant');
    await services.clusters.replaceState(
      {
        ...grant.state,
        activeHeartbeat: {
          clusterId: 'live',
          nodeId: 'head-a',
          seq: 1,
          receivedAt: clock,
          role: 'active',
          epoch: 1,
          checks: [],
        },
      },
      stored!.etag,
    );
    clock += 4999;
    expect((await detectFailures(services)).filter((d) => d.clusterId === 'live')).toEqual([]);
  });

  it('records one detection per cluster and epoch with its evidence, even when three hosts run at once', async () => {
    const services = hosts[0]!;
    await declareCluster(services, 'silent', twoNodeCluster('silent'), 'test');
    const declaredAt = clock;
    clock += 5000; // 5 missed heartbeats of 1 s
    const results = (await Promise.all(hosts.map((h) => detectFailures(h))))
      .flat()
      .filter((d) => d.clusterId === 'silent');
    expect(results).toHaveLength(3);
    expect(results.filter((d) => d.created)).toHaveLength(1);
    const op = await services.operations.get('silent', 'detect-1');
    expect(op).toMatchObject({
      kind: 'failure-detected',
      status: 'pending',
      epoch: 1,
      evidence: {
        activeNodeId: 'head-a',
        missedHeartbeats: 5,
        threshold: 5,
        lastHeartbeatAt: new Date(declaredAt).toISOString(),
      },
    });
    // A later round does not record it again.
    clock += 10_000;
    expect((await detectFailures(services)).filter((d) => d.clusterId === 'silent' && d.created)).toEqual([]);
    expect(
      (await services.audit.recent('silent')).filter((e) => e.action === 'failure-detected'),
    ).toHaveLength(1);
  });
});
