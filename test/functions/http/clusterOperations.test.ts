import { paths } from '../../../shared/contracts/routes';
import {
  makeActivePlanAnswerSchema,
  operationStartedSchema,
} from '../../../shared/contracts/operationsRequests';
import { operationPageSchema } from '../../../shared/contracts/operationsApi';
import { request } from '../../helpers/durableHttp';
import {
  agentRequest,
  startControlPlane,
  twoNodeCluster,
  type ControlPlane,
} from '../../helpers/controlPlane';

let cp: ControlPlane;

beforeAll(async () => {
  cp = await startControlPlane();
  for (const id of ['plan', 'go', 'forced', 'fail', 'hasten']) {
    const declared = await request(`${cp.host.url}${paths.cluster(id)}`, {
      method: 'PUT',
      key: cp.adminKey,
      body: twoNodeCluster(id),
    });
    expect(declared.status).toBe(201);
  }
});
afterAll(async () => {
  await cp.stop();
});

const post = (path: string, body: unknown, key: string | null = cp.adminKey, raw = false) =>
  request(`${cp.host.url}${path}`, { method: 'POST', body, raw, ...(key ? { key } : {}) });

const status = async (clusterId: string) =>
  (await request(`${cp.host.url}${paths.clusterStatus(clusterId)}`, { key: cp.functionKey })).json as {
    epoch: number;
    activeNodeId: string | null;
  };

const operations = async (clusterId: string) =>
  operationPageSchema.parse(
    (await request(`${cp.host.url}${paths.operations(clusterId)}`, { key: cp.functionKey })).json,
  ).operations;

/** The durable HTTP API's status of an instance (system key): 404 while it does not exist. */
const instance = (instanceId: string) =>
  request(
    `${cp.host.url}/runtime/webhooks/durabletask/instances/${instanceId}?code=${encodeURIComponent(
      cp.host.keys.systemKeys.durabletask_extension as string,
    )}`,
  );

/** head-b of `clusterId` heartbeats once as a healthy standby, caught up unless a lag is given (its key issued). */
async function standbyHeartbeat(clusterId: string, replicationLagMs = 0): Promise<void> {
  const issued = await request(`${cp.host.url}${paths.nodeKey(clusterId, 'head-b')}`, {
    method: 'POST',
    key: cp.adminKey,
  });
  expect(issued.status).toBe(201);
  const epoch = (await status(clusterId)).epoch;
  const r = await agentRequest(`${cp.host.url}${paths.agentHeartbeat()}`, {
    clusterId,
    nodeId: 'head-b',
    key: Buffer.from(issued.json.key as string, 'base64'),
    seq: 1,
    body: { role: 'standby', epoch, checks: [{ name: 'database', status: 'ok' }], replicationLagMs },
  });
  expect(r.status).toBe(200);
}

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('POST /api/v1/clusters/{clusterId}/makeactive', () => {
  it('answers the plan without confirm, and changes nothing', async () => {
    const before = await status('plan');
    const r = await post(paths.makeActive('plan'), { nodeId: 'head-b' });
    expect(r.status).toBe(200);
    const { plan } = makeActivePlanAnswerSchema.parse(r.json);
    expect(plan).toMatchObject({
      clusterId: 'plan',
      epoch: before.epoch,
      currentActive: before.activeNodeId,
      target: 'head-b',
      becomesActive: 'head-b',
      // Nobody has heartbeated: the target cannot be shown to be alive.
      blockers: ['target-heartbeating'],
      canRun: false,
    });
    expect(plan.preconditions.map((p) => p.name)).toEqual([
      'target-in-cluster',
      'target-healthy',
      'target-heartbeating',
      'replication-lag-within-rpo',
      'not-already-active',
    ]);
    expect(await status('plan')).toMatchObject({ epoch: before.epoch, activeNodeId: before.activeNodeId });
    expect(await operations('plan')).toEqual([]);
    expect((await instance('cluster-plan')).status).toBe(404);
  });

  it('a plan that can run has the agents heartbeat at the urgent interval while the operator confirms', async () => {
    const issued = await request(`${cp.host.url}${paths.nodeKey('hasten', 'head-b')}`, {
      method: 'POST',
      key: cp.adminKey,
    });
    const key = Buffer.from(issued.json.key as string, 'base64');
    const epoch = (await status('hasten')).epoch;
    const beat = async (seq: number) => {
      const r = await agentRequest(`${cp.host.url}${paths.agentHeartbeat()}`, {
        clusterId: 'hasten',
        nodeId: 'head-b',
        key,
        seq,
        body: { role: 'standby', epoch, checks: [{ name: 'database', status: 'ok' }], replicationLagMs: 0 },
      });
      expect(r.status).toBe(200);
      return r.json.heartbeatIntervalMs as number;
    };
    expect(await beat(1)).toBe(1000);
    expect(await beat(2)).toBe(1000); // answered from the cached state
    const shown = await post(paths.makeActive('hasten'), { nodeId: 'head-b' });
    expect(makeActivePlanAnswerSchema.parse(shown.json).plan.canRun).toBe(true);
    // At once, not after the cached state expires: the plan nudged the node's row.
    expect(await beat(3)).toBe(100);
    expect(await status('hasten')).toMatchObject({ epoch, activeNodeId: 'head-a' });
    expect(await operations('hasten')).toEqual([]);
  });

  it('refuses a confirmation with blockers (409, listing them) and starts nothing', async () => {
    const r = await post(paths.makeActive('plan'), { nodeId: 'head-b', confirm: true });
    expect(r.status).toBe(409);
    expect(r.json.error).toMatchObject({ code: 'PreconditionsNotMet', blockers: ['target-heartbeating'] });
    expect(await operations('plan')).toEqual([]);
    expect((await instance('cluster-plan')).status).toBe(404);
  });

  it('starts the operation on a confirmation without blockers: 202, and a second one joins it', async () => {
    await standbyHeartbeat('go');
    const shown = await post(paths.makeActive('go'), { nodeId: 'head-b' });
    expect(shown.json.plan).toMatchObject({ blockers: [], canRun: true });
    const r = await post(paths.makeActive('go'), {
      nodeId: 'head-b',
      confirm: true,
      reason: 'maintenance of head-a',
    });
    expect(r.status).toBe(202);
    const started = operationStartedSchema.parse(r.json);
    expect(started.operationId).toMatch(/^make-active-[0-9a-z]+$/);
    expect(started.started).toBe(true);
    expect(started.statusUrl).toBe(paths.operation('go', started.operationId));
    expect(r.headers.get('location')).toBe(started.statusUrl);
    // The orchestration's outcome is not asserted here: the instance exists.
    await until(
      'the instance cluster-go',
      () => instance('cluster-go'),
      (i) => i.status !== 404,
    );
    // A second confirmation while it runs (it waits for head-a's demotion, then for head-b to take its lease) joins it.
    const again = await post(paths.makeActive('go'), { nodeId: 'head-b', confirm: true });
    expect(again.status).toBe(202);
    expect(again.json).toEqual({ ...started, started: false });
  });

  it('lifts only the RPO bound when forced: a lagging target starts, an unheard one does not', async () => {
    const unheard = await post(paths.makeActive('forced'), { nodeId: 'head-b', confirm: true, force: true });
    expect(unheard).toMatchObject({ status: 409, json: { error: { code: 'PreconditionsNotMet' } } });
    await standbyHeartbeat('forced', 3_600_000);
    const lagging = await post(paths.makeActive('forced'), { nodeId: 'head-b', confirm: true });
    expect(lagging.json.error.blockers).toEqual(['replication-lag-within-rpo']);
    const r = await post(paths.makeActive('forced'), { nodeId: 'head-b', confirm: true, force: true });
    expect(r.status).toBe(202);
    expect(operationStartedSchema.parse(r.json)).toMatchObject({ started: true });
    await until(
      'the instance cluster-forced',
      () => instance('cluster-forced'),
      (i) => i.status !== 404,
    );
  });

  it('answers 422 TargetNotInCluster for a node the cluster does not have', async () => {
    const r = await post(paths.makeActive('plan'), { nodeId: 'head-z', confirm: true, force: true });
    expect(r.status).toBe(422);
    expect(r.json.error.code).toBe('TargetNotInCluster');
    expect((await post(paths.makeActive('plan'), { nodeId: 'head-z' })).status).toBe(422);
  });

  it('answers 404 for an undeclared cluster', async () => {
    const r = await post(paths.makeActive('ghost'), { nodeId: 'head-b' });
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('ClusterNotFound');
  });

  it('refuses bad bodies, naming the problem', async () => {
    const cases: [unknown, boolean, number, string][] = [
      ['{"nodeId":', true, 400, 'InvalidJson'],
      ['{"nodeId":"head-b","nodeId":"head-a"}', true, 400, 'InvalidJson'],
      ['{"nodeId":"head-b","confirm":1e999}', true, 400, 'InvalidJson'],
      [{}, false, 422, 'InvalidRequest'],
      [{ nodeId: 'Head B' }, false, 422, 'InvalidRequest'],
      [{ nodeId: 'head-b', confirm: 'yes' }, false, 422, 'InvalidRequest'],
      [{ nodeId: 'head-b', extra: 1 }, false, 422, 'InvalidRequest'],
      [{ nodeId: 'head-b', reason: 'x'.repeat(501) }, false, 422, 'InvalidRequest'],
      [[1, 2], false, 422, 'InvalidRequest'],
      [{ nodeId: 'head-b', reason: 'x'.repeat(17 * 1024) }, false, 413, 'PayloadTooLarge'],
    ];
    for (const [body, raw, code, name] of cases) {
      const r = await post(paths.makeActive('plan'), body, cp.adminKey, raw);
      expect({ body: String(raw ? body : JSON.stringify(body)).slice(0, 60), status: r.status }).toEqual({
        body: String(raw ? body : JSON.stringify(body)).slice(0, 60),
        status: code,
      });
      expect(r.json.error.code).toBe(name);
    }
    const named = await post(paths.makeActive('plan'), { nodeId: 'head-b', confirm: 'yes' });
    expect(named.json.error.problems).toEqual([{ path: 'confirm', message: expect.any(String) }]);
    const where = await post(paths.makeActive('plan'), '{"nodeId":"a","nodeId":"b"}', cp.adminKey, true);
    expect(where.json.error.path).toBe('$.nodeId');
  });

  it('needs the operator role: no key gets 401, the function key (a viewer) 403, and nothing starts', async () => {
    const body = { nodeId: 'head-b', confirm: true, force: true };
    expect((await post(paths.makeActive('plan'), body, null)).status).toBe(401);
    expect((await post(paths.makeActive('plan'), body, cp.functionKey)).status).toBe(403);
    expect((await post(paths.failover('plan'), { reason: 'x' }, null)).status).toBe(401);
    expect((await instance('cluster-plan')).status).toBe(404);
  });
});

describe('POST /api/v1/clusters/{clusterId}/failover', () => {
  it('needs a reason of 1-500 characters and a known target', async () => {
    for (const body of [{}, { reason: '' }, { reason: 'x'.repeat(501) }, { reason: 'x', force: 'yes' }]) {
      const r = await post(paths.failover('fail'), body);
      expect(r.status).toBe(422);
      expect(r.json.error.code).toBe('InvalidRequest');
    }
    const unknown = await post(paths.failover('fail'), { reason: 'drill', targetNodeId: 'head-z' });
    expect(unknown.status).toBe(422);
    expect(unknown.json.error.code).toBe('TargetNotInCluster');
    expect((await post(paths.failover('ghost'), { reason: 'drill' })).status).toBe(404);
    expect((await instance('cluster-fail')).status).toBe(404);
  });

  it('starts an unplanned failover: 202 with its id and where to follow it', async () => {
    const r = await post(paths.failover('fail'), { reason: 'head-a lost its GPUs', targetNodeId: 'head-b' });
    expect(r.status).toBe(202);
    const started = operationStartedSchema.parse(r.json);
    expect(started.operationId).toMatch(/^failover-[0-9a-z]+$/);
    expect(started).toMatchObject({ started: true, statusUrl: paths.operation('fail', started.operationId) });
    expect(r.headers.get('location')).toBe(started.statusUrl);
    await until(
      'the instance cluster-fail',
      () => instance('cluster-fail'),
      (i) => i.status !== 404,
    );
  });
});
