import { loadConfig } from '../../../shared/config/config';
import { paths } from '../../../shared/contracts/routes';
import { createServices, type Services } from '../../../shared/services/services';
import { request } from '../../helpers/durableHttp';
import {
  agentRequest,
  startControlPlane,
  twoNodeCluster,
  type ControlPlane,
} from '../../helpers/controlPlane';

/** `DELETE /api/v1/clusters/{clusterId}` on Azurite: the plan, the refusals, and what a confirmed deletion removes. */
let cp: ControlPlane;
let services: Services;
beforeAll(async () => {
  cp = await startControlPlane();
  services = createServices(loadConfig(cp.settings));
  await services.witness.ensureContainer();
});
afterAll(async () => {
  await cp.stop();
});

const url = (path: string) => `${cp.host.url}${path}`;

/** A 5 min detection window: a node the test heartbeats for stays "heartbeating" however slowly the tests run. */
const SLOW = { heartbeatIntervalMs: 10_000, missedHeartbeats: 30, leaseMs: 60_000, driftMarginMs: 5000 };

async function declareWithKeys(clusterId: string): Promise<Record<string, { key: Buffer; version: number }>> {
  const put = await request(url(paths.cluster(clusterId)), {
    method: 'PUT',
    key: cp.adminKey,
    body: twoNodeCluster(clusterId, SLOW),
  });
  expect(put.status).toBe(201);
  const keys: Record<string, { key: Buffer; version: number }> = {};
  for (const node of ['head-a', 'head-b']) {
    const issued = await request(url(paths.nodeKey(clusterId, node)), { method: 'POST', key: cp.adminKey });
    expect(issued.status).toBe(201);
    keys[node] = { key: Buffer.from(issued.json.key, 'base64'), version: issued.json.keyVersion };
  }
  return keys;
}

const heartbeat = (
  clusterId: string,
  nodeId: string,
  credential: { key: Buffer; version: number },
  seq: number,
) =>
  agentRequest(url(paths.agentHeartbeat()), {
    clusterId,
    nodeId,
    key: credential.key,
    keyVersion: credential.version,
    seq,
    body: {
      role: nodeId === 'head-a' ? 'active' : 'standby',
      epoch: 1,
      checks: [{ name: 'db', status: 'ok' }],
    },
  });

const del = (clusterId: string, body?: unknown, query = '', key = cp.adminKey) =>
  request(`${url(paths.cluster(clusterId))}${query}`, {
    method: 'DELETE',
    key,
    ...(body !== undefined ? { body } : {}),
  });

it('shows the plan without confirm and changes nothing; needs the admin key; 404 for an unknown cluster', async () => {
  await declareWithKeys('plan-only');
  const lease = await services.witness.acquire('plan-only', 'test');
  await services.witness.release(lease);

  const shown = await del('plan-only');
  expect(shown.status).toBe(200);
  expect(shown.json).toMatchObject({
    deleted: false,
    plan: {
      clusterId: 'plan-only',
      nodes: ['head-a', 'head-b'],
      removes: { document: true, state: true, heartbeats: [], witness: true, nodeKeys: ['head-a', 'head-b'] },
      heartbeating: [],
      runningOperations: [],
      blockers: [],
      canRun: true,
      detectionWindowMs: 300_000,
    },
  });
  expect((await request(url(paths.cluster('plan-only')), { key: cp.functionKey })).status).toBe(200);
  expect((await services.audit.recent('plan-only')).map((e) => e.action)).not.toContain('cluster-deleted');

  expect((await del('plan-only', { confirm: true }, '', cp.functionKey)).status).toBe(403);
  expect((await request(url(paths.cluster('plan-only')), { key: cp.functionKey })).status).toBe(200);
  const missing = await del('nobody-here', { confirm: true });
  expect(missing.status).toBe(404);
  expect(missing.json.error.code).toBe('ClusterNotFound');
});

it('refuses bad input with a 4xx naming the problem, nothing changed', async () => {
  await declareWithKeys('bad-input');
  const unknownField = await del('bad-input', { confirm: true, everything: true });
  expect(unknownField.status).toBe(422);
  expect(unknownField.json.error.code).toBe('InvalidRequest');
  expect(JSON.stringify(unknownField.json.error.problems)).toContain('everything');
  const badQuery = await del('bad-input', undefined, '?force=yes');
  expect(badQuery.status).toBe(400);
  expect(badQuery.json.error.message).toContain('force');
  const notJson = await request(url(paths.cluster('bad-input')), {
    method: 'DELETE',
    key: cp.adminKey,
    body: '{"confirm": tru',
    raw: true,
  });
  expect(notJson.status).toBe(400);
  expect((await request(url(paths.cluster('bad-input')), { key: cp.functionKey })).status).toBe(200);
});

it('refuses while a node heartbeats unless forced, then removes state, heartbeats, witness and keys, audited', async () => {
  const keys = await declareWithKeys('doomed');
  const a = keys['head-a'] as { key: Buffer; version: number };
  expect((await heartbeat('doomed', 'head-a', a, 1)).status).toBe(200);
  expect(
    (await heartbeat('doomed', 'head-b', keys['head-b'] as { key: Buffer; version: number }, 1)).status,
  ).toBe(200);
  const lease = await services.witness.acquire('doomed', 'test');
  await services.witness.release(lease);
  // An acknowledgement of the old cluster: command ids repeat per epoch, so it must not outlive the cluster.
  await services.commandAcks.insertIfAbsent({
    event: {
      clusterId: 'doomed',
      nodeId: 'head-b',
      commandId: 'promote-2',
      type: 'promote',
      epoch: 2,
      outcome: 'ok',
      steps: [],
      receivedAt: new Date().toISOString(),
    },
  });

  const refused = await del('doomed', { confirm: true });
  expect(refused.status).toBe(409);
  expect(refused.json.error.code).toBe('NodesHeartbeating');
  expect(refused.json.error.plan.heartbeating).toEqual([
    { nodeId: 'head-a', ageMs: expect.any(Number) },
    { nodeId: 'head-b', ageMs: expect.any(Number) },
  ]);
  expect(refused.json.error.plan.canRun).toBe(false);
  expect(await services.commandAcks.get('doomed', 'head-b', 'promote-2')).toBeDefined();
  expect((await request(url(paths.cluster('doomed')), { key: cp.functionKey })).status).toBe(200);

  const forced = await del('doomed', { confirm: true }, '?force=true');
  expect(forced.status).toBe(200);
  expect(forced.json).toMatchObject({
    deleted: true,
    plan: { removes: { state: true, heartbeats: ['head-b'], witness: true } },
  });

  expect((await request(url(paths.cluster('doomed')), { key: cp.functionKey })).status).toBe(404);
  expect((await request(url(paths.clusterStatus('doomed')), { key: cp.functionKey })).status).toBe(404);
  expect(await services.clusters.getState('doomed')).toBeUndefined();
  expect(await services.heartbeats.listForCluster('doomed')).toEqual([]);
  await expect(services.witness.read('doomed')).rejects.toThrow(/does not exist/);
  expect(await services.credentials.get('doomed', 'head-a')).toBeUndefined();
  expect(await services.commandAcks.get('doomed', 'head-b', 'promote-2')).toBeUndefined();
  const listed = await request(url(paths.clusters()), { key: cp.functionKey });
  expect(listed.json.clusters.map((c: { id: string }) => c.id)).not.toContain('doomed');
  const audit = await services.audit.recent('doomed');
  expect(audit[0]).toMatchObject({
    action: 'cluster-deleted',
    actor: 'key:master',
    detail: { forced: true, heartbeating: ['head-a', 'head-b'] },
  });
  // The old agent is refused from now on.
  expect((await heartbeat('doomed', 'head-a', a, 2)).status).toBe(401);

  // Declared again under the same name: the first key skips the retired versions, so the old key stays refused.
  await request(url(paths.cluster('doomed')), {
    method: 'PUT',
    key: cp.adminKey,
    body: twoNodeCluster('doomed'),
  });
  const again = await request(url(paths.nodeKey('doomed', 'head-a')), { method: 'POST', key: cp.adminKey });
  expect(again.status).toBe(201);
  expect(again.json.keyVersion).toBe(3);
  expect((await heartbeat('doomed', 'head-a', a, 3)).status).toBe(401);
  const fresh = { key: Buffer.from(again.json.key, 'base64'), version: 3 };
  expect((await heartbeat('doomed', 'head-a', fresh, 1)).status).toBe(200);
});

it('refuses while an operation runs, even forced', async () => {
  await declareWithKeys('busy');
  const now = Date.now();
  await services.operations.createOnce({
    clusterId: 'busy',
    operationId: 'op-running',
    kind: 'make-active',
    status: 'running',
    createdAt: now,
    updatedAt: now,
    epoch: 1,
    evidence: {},
  });
  const refused = await del('busy', { confirm: true, force: true });
  expect(refused.status).toBe(409);
  expect(refused.json.error.code).toBe('OperationRunning');
  expect(refused.json.error.plan.runningOperations).toEqual([
    { operationId: 'op-running', kind: 'make-active', status: 'running' },
  ]);
  expect((await request(url(paths.cluster('busy')), { key: cp.functionKey })).status).toBe(200);
  expect(await services.credentials.get('busy', 'head-a')).toBeDefined();
});

it('retires the key of a node removed from the document earlier too', async () => {
  const three = {
    ...twoNodeCluster('shrunk'),
    nodes: [
      ...twoNodeCluster('shrunk').nodes,
      { id: 'head-c', role: 'standby', site: { cloud: 'azure', region: 'westeurope' } },
    ],
  };
  expect(
    (await request(url(paths.cluster('shrunk')), { method: 'PUT', key: cp.adminKey, body: three })).status,
  ).toBe(201);
  const issued = await request(url(paths.nodeKey('shrunk', 'head-c')), { method: 'POST', key: cp.adminKey });
  expect(issued.status).toBe(201);
  const shrunk = await request(url(paths.cluster('shrunk')), {
    method: 'PUT',
    key: cp.adminKey,
    body: twoNodeCluster('shrunk'),
  });
  expect(shrunk.status).toBe(200);

  // A cluster whose id starts the same: its keys are not this cluster's.
  await declareWithKeys('shrunk-x');

  const shown = await del('shrunk');
  expect(shown.json.plan.removes.nodeKeys).toEqual(['head-c']);
  expect((await del('shrunk', { confirm: true })).status).toBe(200);
  expect(await services.credentials.get('shrunk', 'head-c')).toBeUndefined();
  expect(await services.credentials.retiredVersion('shrunk', 'head-c')).toBe(1);
  expect(await services.credentials.nodesWithKeys('shrunk')).toEqual([]);
  expect(await services.credentials.nodesWithKeys('shrunk-x')).toEqual(['head-a', 'head-b']);
});
