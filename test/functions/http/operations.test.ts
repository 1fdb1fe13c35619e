import { loadConfig } from '../../../shared/config/config';
import { paths } from '../../../shared/contracts/routes';
import { operationPageSchema, auditPageSchema } from '../../../shared/contracts/operationsApi';
import { createServices, type Services } from '../../../shared/services/services';
import { request } from '../../helpers/durableHttp';
import { startControlPlane, twoNodeCluster, type ControlPlane } from '../../helpers/controlPlane';

let cp: ControlPlane;
let services: Services;
const T = Date.UTC(2031, 4, 1);

beforeAll(async () => {
  cp = await startControlPlane();
  services = createServices(loadConfig(cp.settings));
  const declared = await request(`${cp.host.url}${paths.cluster('ops')}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: twoNodeCluster('ops'),
  });
  expect(declared.status).toBe(201);
  for (let i = 1; i <= 3; i++) {
    await services.operations.createOnce({
      clusterId: 'ops',
      operationId: `failover-${i}`,
      kind: 'failover',
      status: 'pending',
      createdAt: T + i * 1000,
      updatedAt: T + i * 1000,
      epoch: i,
      evidence: {},
      trigger: { kind: 'api' },
      actor: 'admin',
      targetNodeId: 'head-b',
    });
  }
  await services.operations.recordStep(
    'ops',
    'failover-2',
    { id: 'fence', name: 'fence head-a (power off)', startedAt: T, endedAt: T + 800, outcome: 'ok' },
    T + 900,
  );
});
afterAll(async () => {
  await cp.stop();
});

const get = (path: string, key: string | null = cp.functionKey) =>
  request(`${cp.host.url}${path}`, key ? { key } : {});

describe('the operations history', () => {
  it('lists a cluster’s operations newest first, a page at a time', async () => {
    const first = await get(`${paths.operations('ops')}?limit=2`);
    expect(first.status).toBe(200);
    const page = operationPageSchema.parse(first.json);
    expect(page.operations.map((o) => o.operationId)).toEqual(['failover-3', 'failover-2']);
    const next = await get(`${paths.operations('ops')}?limit=2&continuation=${page.continuation as string}`);
    expect(operationPageSchema.parse(next.json)).toMatchObject({
      operations: [{ operationId: 'failover-1' }],
    });
    expect(next.json.continuation).toBeUndefined();
  });

  it('shows one operation with its steps and their timings', async () => {
    const r = await get(paths.operation('ops', 'failover-2'));
    expect(r.status).toBe(200);
    expect(r.json.operation).toMatchObject({
      operationId: 'failover-2',
      status: 'running',
      steps: [
        { id: 'fence', name: 'fence head-a (power off)', startedAt: T, endedAt: T + 800, outcome: 'ok' },
      ],
    });
  });

  it('answers 404 naming what is missing: the operation, or the cluster', async () => {
    expect(await get(paths.operation('ops', 'nope'))).toMatchObject({
      status: 404,
      json: { error: { code: 'OperationNotFound' } },
    });
    expect(await get(paths.operations('ghost'))).toMatchObject({
      status: 404,
      json: { error: { code: 'ClusterNotFound' } },
    });
  });

  it('refuses a bad query with a 400 naming each problem, and a forged continuation', async () => {
    const bad = await get(`${paths.operations('ops')}?limit=0&colour=red`);
    expect(bad.status).toBe(400);
    expect(bad.json.error.problems.map((p: { path: string }) => p.path).sort()).toEqual(['(query)', 'limit']);
    expect((await get(`${paths.operations('ops')}?limit=1000`)).status).toBe(400);
    const forged = Buffer.from("idx-1' or PartitionKey ne '", 'utf8').toString('base64url');
    expect(await get(`${paths.operations('ops')}?continuation=${forged}`)).toMatchObject({
      status: 400,
      json: { error: { code: 'InvalidContinuation' } },
    });
  });

  it('needs a function key', async () => {
    expect((await get(paths.operations('ops'), null)).status).toBe(401);
  });
});

describe('the audit log', () => {
  it('lists every state change with its actor, newest first, paged', async () => {
    await request(`${cp.host.url}${paths.nodeKey('ops', 'head-a')}`, { method: 'POST', key: cp.adminKey });
    const first = await get(`${paths.audit('ops')}?limit=1`);
    expect(first.status).toBe(200);
    const page = auditPageSchema.parse(first.json);
    expect(page.entries).toEqual([
      expect.objectContaining({ action: 'node-key-issued', actor: 'key:master' }),
    ]);
    const rest = auditPageSchema.parse(
      (await get(`${paths.audit('ops')}?continuation=${page.continuation as string}`)).json,
    );
    expect(rest.entries.map((e) => e.action)).toContain('cluster-created');
    expect(JSON.stringify(rest)).not.toMatch(/"key"/);
  });
});
