import { randomBytes } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
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
let services: Services;
/** Every storage request the services send, as `<METHOD> <table>` (counted by a pipeline policy, not a mock). */
const requests: string[] = [];
type PipelinePolicy = Parameters<TableClient['pipeline']['addPolicy']>[0];

beforeAll(async () => {
  azurite = await startAzurite({ inMemory: true });
  const config = loadConfig({
    AzureWebJobsStorage: azurite.connectionString,
    NODE_KEY_MASTER: randomBytes(32).toString('base64'),
    TABLE_PREFIX: 'Scale',
  });
  await ensureTables(createTableClients(config.storage, tableNames(config.tablePrefix)));
  services = createServices(config, () => clock);
  const counter: PipelinePolicy = {
    name: 'countRequests',
    sendRequest: (request, next) => {
      requests.push(`${request.method} ${new URL(request.url).pathname.split('/')[2]?.split('(')[0] ?? ''}`);
      return next(request);
    },
  };
  for (const table of Object.values(services.tables)) table.pipeline.addPolicy(counter);
});
afterAll(async () => {
  await azurite.stop();
});

async function addClusters(from: number, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `scale-${from + i}`);
  for (const id of ids) {
    expect((await declareCluster(services, id, twoNodeCluster(id), 'test')).ok).toBe(true);
    const stored = await services.clusters.getState(id);
    const grant = grantLease(stored!.state, 'head-a', 1, clock, 4000);
    if (!grant.granted) throw new Error('expected a grant');
    const hb = {
      clusterId: id,
      nodeId: 'head-a',
      seq: 1,
      receivedAt: clock,
      role: 'active' as const,
      epoch: 1,
    };
    await services.clusters.replaceState(
      { ...grant.state, activeHeartbeat: { ...hb, checks: [] } },
      stored!.etag,
    );
  }
  return ids;
}

async function countRound(): Promise<{ requests: string[]; created: number }> {
  requests.length = 0;
  const detections = await detectFailures(services);
  return { requests: [...requests], created: detections.filter((d) => d.created).length };
}

it('a round costs the same requests with 5 clusters as with 40; each new detection adds its own writes only', async () => {
  await addClusters(0, 5);
  const small = await countRound();
  await addClusters(5, 35);
  const large = await countRound();
  // One query of the state table and one of the pending detections, whatever the number of clusters.
  expect(small.requests.sort()).toEqual(['GET ScaleClusterState', 'GET ScaleOperations']);
  expect(large.requests.sort()).toEqual(small.requests);

  // All 40 go silent: the round adds one conditional create and one audit entry per detection, nothing per cluster.
  clock += 5000;
  const detecting = await countRound();
  expect(detecting.created).toBe(40);
  expect(detecting.requests.filter((r) => r.startsWith('GET'))).toHaveLength(2);
  // Each detection: its record and its row in the newest-first history index.
  expect(detecting.requests.filter((r) => r === 'POST ScaleOperations')).toHaveLength(80);
  expect(detecting.requests.filter((r) => r === 'POST ScaleAudit')).toHaveLength(40);
  expect(detecting.requests).toHaveLength(2 + 120);

  // The detections are pending: the next round writes nothing.
  clock += 1000;
  expect((await countRound()).requests).toHaveLength(2);
});
