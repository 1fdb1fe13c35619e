import { paths } from '../../../shared/contracts/routes';
import { request } from '../../helpers/durableHttp';
import { waitFor } from '../../helpers/waitFor';
import { startControlPlane, twoNodeCluster, type ControlPlane } from '../../helpers/controlPlane';

/**
 * Capacity pools through the running app (devhost, the cloud simulator's demo clouds): the pool's view, the operator
 * setting its demand, and the dry-run plan from headroom read at that moment. West Europe's family quota (96
 * cores, half of it used by the demo's VMs) leaves room for 2 of the 24-core A100 size, North Europe's (240) for 10,
 * so 10 nodes plan as 2 + 8.
 */
const WE = 2;
let cp: ControlPlane;
const SCALE_SET =
  '/subscriptions/00000000-0000-0000-0000-00000000f00d/resourceGroups/hpc-demo/providers/Microsoft.Compute/virtualMachineScaleSets';

const pool = {
  id: 'gpu',
  desired: 10,
  sites: [
    {
      id: 'we',
      cloud: 'azure',
      region: 'westeurope',
      size: 'Standard_NC24ads_A100_v4',
      group: `${SCALE_SET}/gpu-westeurope`,
    },
    {
      id: 'ne',
      cloud: 'azure',
      region: 'northeurope',
      size: 'Standard_NC24ads_A100_v4',
      group: `${SCALE_SET}/gpu-northeurope`,
    },
  ],
};

beforeAll(async () => {
  cp = await startControlPlane({}, { cloudSimulator: true });
  const declared = await request(`${cp.host.url}${paths.cluster('hpc')}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: { ...twoNodeCluster('hpc'), pools: [pool] },
  });
  expect(declared.status).toBe(201);
});
afterAll(async () => {
  await cp.stop();
});

const view = async (poolId = 'gpu', key = cp.functionKey) =>
  request(`${cp.host.url}${paths.pool('hpc', poolId)}`, { key });
const demand = (body: unknown, key: string | null = cp.adminKey, raw = false) =>
  request(`${cp.host.url}${paths.poolDemand('hpc', 'gpu')}`, {
    method: 'PUT',
    body,
    raw,
    ...(key ? { key } : {}),
  });
const plan = (body: unknown = {}) =>
  request(`${cp.host.url}${paths.poolPlan('hpc', 'gpu')}`, { method: 'POST', key: cp.adminKey, body });

it("shows a pool before anything happened: the document's demand, nothing placed, the whole demand short", async () => {
  const r = await view();
  expect(r.status).toBe(200);
  expect(r.json.pool).toMatchObject({
    clusterId: 'hpc',
    poolId: 'gpu',
    demand: 10,
    demandSource: 'document',
    placed: 0,
    shortfall: 10,
    runningOperation: null,
  });
  expect(r.json.pool.sites.map((s: { siteId: string; headroom: unknown }) => [s.siteId, s.headroom])).toEqual(
    [
      ['we', null],
      ['ne', null],
    ],
  );
});

it('plans a dry run from headroom read now: 2 in the first region, 8 in the next, nothing provisioned', async () => {
  const r = await plan();
  expect(r.status).toBe(200);
  expect(r.json.demand).toBe(10);
  expect(r.json.plan).toMatchObject({
    add: [
      { siteId: 'we', count: WE },
      { siteId: 'ne', count: 10 - WE },
    ],
    shortfall: 0,
  });
  expect(r.json.headroom).toEqual([
    expect.objectContaining({ siteId: 'we', quotaNodes: WE }),
    expect.objectContaining({ siteId: 'ne', quotaNodes: 10 }),
  ]);
  // kept as the headroom last read; still nothing placed
  const after = (await view()).json.pool;
  expect(after.sites[0].headroom).toMatchObject({ quotaNodes: WE });
  expect(after.placed).toBe(0);
  // a bigger demand than there is room for: what cannot be placed is the shortfall
  const big = await plan({ desired: 20 });
  expect(big.json.plan).toMatchObject({
    add: [
      { siteId: 'we', count: WE },
      { siteId: 'ne', count: 10 },
    ],
    shortfall: 10 - WE,
  });
});

it('plans around a site whose headroom cannot be read (region down): skipped with why, its error kept', async () => {
  const site = cp.host.cloud!.simulator.model.site('azure', 'northeurope')!;
  site.down = 'refuse';
  try {
    const r = await plan({ desired: 10 });
    expect(r.status).toBe(200);
    expect(r.json.plan).toMatchObject({ add: [{ siteId: 'we', count: WE }], shortfall: 10 - WE });
    expect(r.json.plan.skipped).toContainEqual(
      expect.objectContaining({ siteId: 'ne', reason: 'no-headroom-read' }),
    );
    expect(r.json.headroom[1]).toMatchObject({ siteId: 'ne', quotaNodes: 0 });
    expect(r.json.headroom[1].error).toEqual(expect.any(String));
    expect((await view()).json.pool.sites[1].headroom.error).toEqual(expect.any(String));
  } finally {
    delete site.down;
  }
});

it('answers bad requests with a named 4xx and changes nothing', async () => {
  const before = (await view()).json.pool.demand;
  for (const [body, path] of [
    [{ desired: -1 }, 'desired'],
    [{ desired: 10_001 }, 'desired'],
    [{ desired: 'ten' }, 'desired'],
    [{ desired: 2, extra: true }, '(body)'],
    [{}, 'desired'],
  ] as const) {
    const r = await demand(body);
    expect(r.status).toBe(422);
    expect(r.json.error.code).toBe('InvalidRequest');
    expect(r.json.error.problems.map((p: { path: string }) => p.path)).toContain(path);
  }
  expect((await demand('{"desired": 1', cp.adminKey, true)).status).toBe(400);
  expect((await demand({ desired: 1 }, cp.functionKey)).status).toBe(403); // a function key is a viewer
  expect((await demand({ desired: 1 }, null)).status).toBe(401);
  const unknown = await view('cpu');
  expect(unknown.status).toBe(404);
  expect(unknown.json.error.code).toBe('PoolNotFound');
  expect(
    (await request(`${cp.host.url}${paths.pool('nowhere', 'gpu')}`, { key: cp.functionKey })).json.error.code,
  ).toBe('ClusterNotFound');
  expect((await view()).json.pool.demand).toBe(before);
});

it('sets the demand (admin), audited, and the spillover it starts places it: the view and the plan follow', async () => {
  const r = await demand({ desired: 3 });
  expect(r.status).toBe(202);
  expect(r.json).toMatchObject({
    previous: 10,
    pool: { demand: 3, demandSource: 'api', demandSetBy: 'key:master' },
    spillover: { started: true, operationId: expect.stringMatching(/^spill-gpu-/) },
  });
  const operationId = r.json.spillover.operationId as string;
  expect(r.headers.get('location')).toBe(paths.operation('hpc', operationId));
  await waitFor(
    async () => (await view()).json.pool.runningOperation === null && (await view()).json.pool.lastRun,
    {
      timeoutMs: 60_000,
      description: 'the spillover to end',
    },
  );
  const after = (await view()).json.pool;
  expect(after).toMatchObject({ demand: 3, placed: 3, shortfall: 0, lastRun: { operationId, shortfall: 0 } });
  expect(after.sites.map((s: { placed: number }) => s.placed)).toEqual([WE, 3 - WE]);
  expect((await plan()).json.plan).toMatchObject({ add: [], remove: [], shortfall: 0 });
  const audit = await request(`${cp.host.url}${paths.audit('hpc')}`, { key: cp.functionKey });
  expect(audit.json.entries[0]).toMatchObject({
    action: 'pool-demand-set',
    detail: { poolId: 'gpu', demand: 3, previous: 10 },
  });
});
