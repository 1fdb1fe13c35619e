import { putArmScaleSet, armActions } from '../../devhost/cloudSimulator/armResources';
import type { CloudModel } from '../../devhost/cloudSimulator/cloudModel';
import {
  LOCAL_AZURE_SUBSCRIPTION,
  LOCAL_OCI_COMPARTMENT,
} from '../../devhost/cloudSimulator/startLocalCloud';
import { realProcess } from '../../devhost/realRequire';
import { loadConfig } from '../../shared/config/config';
import { paths } from '../../shared/contracts/routes';
import { runCapacityMonitor, type MonitorStart } from '../../shared/control/pools/capacityMonitor';
import { createServices } from '../../shared/services/services';
import { startControlPlane, twoNodeCluster, type ControlPlane } from '../helpers/controlPlane';
import { request } from '../helpers/durableHttp';
import { waitFor } from '../helpers/waitFor';

/**
 * Capacity spillover end to end: the app in a devhost, the clouds in the simulator (ARM scale sets, OCI launches into
 * a compartment). Each test declares its own cluster and scale sets and gives each site the room it names (quota
 * above what is used; capacity), so the tests do not share room. What is asserted is what the clouds saw: the
 * scale-set changes and launches, the headroom reads — and what the pool records say about every node.
 */

const GPU = 'Standard_NC24ads_A100_v4'; // 24 cores
const A10 = 'VM.GPU.A10.1'; // 1 GPU
const FRA_AD = 'SIM:EU-FRANKFURT-1-AD-1';
let cp: ControlPlane;
let model: CloudModel;

beforeAll(async () => {
  cp = await startControlPlane({}, { cloudSimulator: true });
  model = cp.host.cloud!.simulator.model;
}, 60_000);
afterAll(async () => {
  await cp?.stop();
});

/** Gives `size` room for exactly `nodes` more in the site: quota (family and regional) above what is used, and capacity. */
function room(cloud: 'azure' | 'oci', region: string, size: string, nodes: number, capacity = nodes): void {
  const site = model.site(cloud, region)!;
  const s = model.sizes.get(size)!;
  const use = model.quotaUse(site);
  site.quotas[s.family] = { limit: (use[s.family]?.used ?? 0) + nodes * s.cores };
  if (site.quotas.cores) site.quotas.cores = { limit: (use.cores?.used ?? 0) + 10_000 };
  site.capacity[size] = capacity;
}

function scaleSet(name: string, region: string): string {
  return putArmScaleSet(model, {
    subscriptionId: LOCAL_AZURE_SUBSCRIPTION,
    resourceGroup: 'hpc-demo',
    name,
    region,
    size: GPU,
    instances: 0,
  }).id;
}

/** Declares cluster `id` with pool `gpu` over West Europe, North Europe (scale sets of their own) and OCI Frankfurt. */
async function declarePool(id: string, extra: Record<string, unknown> = {}) {
  const sites = [
    { id: 'we', cloud: 'azure', region: 'westeurope', size: GPU, group: scaleSet(`${id}-we`, 'westeurope') },
    {
      id: 'ne',
      cloud: 'azure',
      region: 'northeurope',
      size: GPU,
      group: scaleSet(`${id}-ne`, 'northeurope'),
    },
    {
      id: 'fra',
      cloud: 'oci',
      region: 'eu-frankfurt-1',
      zone: FRA_AD,
      size: A10,
      group: LOCAL_OCI_COMPARTMENT,
    },
  ];
  const r = await request(`${cp.host.url}${paths.cluster(id)}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: { ...twoNodeCluster(id), pools: [{ id: 'gpu', desired: 0, sites, ...extra }] },
  });
  expect(r.status).toBe(201);
  return Object.fromEntries(sites.map((s) => [s.id, s.group])) as Record<'we' | 'ne' | 'fra', string>;
}

const setDemand = async (id: string, desired: number) => {
  const r = await request(`${cp.host.url}${paths.poolDemand(id, 'gpu')}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: { desired },
  });
  expect(r.status).toBe(202);
  return r.json.spillover.operationId as string;
};

interface Step {
  id: string;
  outcome: string;
  startedAt: number;
  endedAt?: number;
  detail?: Record<string, unknown>;
}

/** Polls the run's operation until it ended (a deadline, no sleeps). */
async function ended(id: string, operationId: string) {
  let last: { status: string; reason: string; code?: string; steps: Step[] } | undefined;
  await waitFor(
    async () => {
      const r = await request(`${cp.host.url}${paths.operation(id, operationId)}`, { key: cp.functionKey });
      last = r.json?.operation;
      return last !== undefined && !['pending', 'running'].includes(last.status);
    },
    { timeoutMs: 60_000, description: `spillover ${operationId} to end` },
  );
  return last!;
}

/** The step ids in order, the steps a round runs in parallel (provisioning per site) joined with `|`, sorted. */
function runbook(steps: readonly Step[]): string[] {
  const out: string[] = [];
  for (const step of steps) {
    const round = /^(provision|remove)-(\d+)-/.exec(step.id);
    const last = out[out.length - 1];
    if (round && last !== undefined && last.startsWith(`${round[1]}-${round[2]}-`))
      out[out.length - 1] = [...last.split('|'), step.id].sort().join('|');
    else out.push(step.id);
  }
  return out;
}

const poolView = async (id: string) =>
  (await request(`${cp.host.url}${paths.pool(id, 'gpu')}`, { key: cp.functionKey })).json.pool as {
    placed: number;
    shortfall: number;
    runningOperation: string | null;
    sites: { siteId: string; placed: number; coolingDown: { kind: string; until: string } | null }[];
  };
const placedPerSite = async (id: string) =>
  Object.fromEntries((await poolView(id)).sites.map((s) => [s.siteId, s.placed]));

/** The cloud requests since `from` (an index into the simulator's request log), by what they are. */
function cloudRequests(from: number, groups: Record<string, string>) {
  const log = model.requestLog.slice(from);
  const headroomReads = (region: string, cloud: 'azure' | 'oci') =>
    log.filter((e) =>
      cloud === 'azure'
        ? e.method === 'GET' && e.path.toLowerCase().endsWith(`/locations/${region}/usages`)
        : e.method === 'POST' && e.path.includes(region) && e.path.endsWith('/computeCapacityReports'),
    ).length;
  const ociLaunches = log.filter((e) => e.method === 'POST' && /\/instances\/?$/.test(e.path)).length;
  return { headroomReads, ociLaunches, log, groups };
}

const scaleChanges = (since: number, group: string) =>
  armActions(model).filter(
    (a) => a.at >= since && a.action === 'scale' && a.resourceId.toLowerCase() === group.toLowerCase(),
  ).length;

it('places 10 where the primary has room for 4: 4 there, 6 in the next region — one headroom read per site, one scale-out per used site', async () => {
  const groups = await declarePool('sp1');
  room('azure', 'westeurope', GPU, 4);
  room('azure', 'northeurope', GPU, 10);
  room('oci', 'eu-frankfurt-1', A10, 8);
  const from = model.requestLog.length;
  const since = model.clock.now();
  const operationId = await setDemand('sp1', 10);
  const op = await ended('sp1', operationId);
  expect(op.status).toBe('succeeded');
  expect(await placedPerSite('sp1')).toEqual({ we: 4, ne: 6, fra: 0 });
  const seen = cloudRequests(from, groups);
  expect([seen.headroomReads('westeurope', 'azure'), seen.headroomReads('northeurope', 'azure')]).toEqual([
    1, 1,
  ]);
  expect(seen.headroomReads('eu-frankfurt-1', 'oci')).toBe(1);
  expect([scaleChanges(since, groups.we), scaleChanges(since, groups.ne)]).toEqual([1, 1]);
  expect(seen.ociLaunches).toBe(0);
  // The steps read like the runbook: headroom, plan, one provisioning per site, then a plan with nothing left.
  expect(runbook(op.steps)).toEqual(['headroom-1', 'plan-1', 'provision-1-ne|provision-1-we', 'plan-2']);
  // Every node has its record: where, which cloud resource, why.
  const nodes = (await request(`${cp.host.url}${paths.poolNodes('sp1', 'gpu')}`, { key: cp.functionKey }))
    .json.nodes as {
    siteId: string;
    resourceId: string;
    status: string;
    reason: string;
    operationId: string;
  }[];
  expect(nodes).toHaveLength(10);
  expect(new Set(nodes.map((n) => n.resourceId)).size).toBe(10);
  expect(
    nodes.every((n) => n.status === 'running' && n.operationId === operationId && n.reason.length > 0),
  ).toBe(true);
  const vms = [...model.vms.values()].filter((vm) => vm.group && [groups.we, groups.ne].includes(vm.group));
  expect(vms).toHaveLength(10);
  // The cluster cannot be deleted from under its running pool nodes (they would run on, unmanaged).
  const del = await request(`${cp.host.url}${paths.cluster('sp1')}`, {
    method: 'DELETE',
    key: cp.adminKey,
    body: { confirm: true },
  });
  expect(del.status).toBe(409);
  expect(del.json.error.code).toBe('PoolNodesRunning');
  expect(del.json.error.plan.poolNodes).toEqual([{ poolId: 'gpu', running: 10 }]);
  // Planning again changes nothing: no cloud call but the headroom reads.
  const again = model.requestLog.length;
  const rerun = await request(`${cp.host.url}${paths.poolSpillover('sp1', 'gpu')}`, {
    method: 'POST',
    key: cp.adminKey,
    body: {},
  });
  expect(rerun.status).toBe(202);
  expect((await ended('sp1', rerun.json.operationId as string)).status).toBe('succeeded');
  expect(
    model.requestLog
      .slice(again)
      .filter((e) => e.method !== 'GET' && !e.path.endsWith('/computeCapacityReports')),
  ).toEqual([]);
}, 90_000);

it('cools a site down on AllocationFailed and places the rest in OCI; spills idle nodes back when room returns; scales in from the least preferred site first', async () => {
  const groups = await declarePool('sp2', { cooldownMs: { allocationFailed: 8000 } });
  room('azure', 'westeurope', GPU, 4);
  room('azure', 'northeurope', GPU, 10);
  room('oci', 'eu-frankfurt-1', A10, 8);
  const fault = model.addFault({
    cloud: 'azure',
    region: 'northeurope',
    operation: 'create',
    kind: 'AllocationFailed',
    remaining: 1,
    async: true,
  });
  const from = model.requestLog.length;
  const operationId = await setDemand('sp2', 10);
  const op = await ended('sp2', operationId);
  expect(model.faults.find((f) => f.id === fault.id)).toBeUndefined(); // used up
  expect(op.status).toBe('succeeded');
  expect(await placedPerSite('sp2')).toEqual({ we: 4, ne: 0, fra: 6 });
  const failed = op.steps.find((s) => s.id === 'provision-1-ne');
  expect(failed).toMatchObject({ outcome: 'failed', detail: { coolDown: { kind: 'allocationFailed' } } });
  const view = await poolView('sp2');
  expect(view.sites.find((s) => s.siteId === 'ne')?.coolingDown).toMatchObject({ kind: 'allocationFailed' });
  // The re-plan used the headroom already read: still one read per site, and nothing launched into a site that was full.
  const seen = cloudRequests(from, groups);
  expect(seen.headroomReads('northeurope', 'azure')).toBe(1);
  expect(seen.headroomReads('eu-frankfurt-1', 'oci')).toBe(1);
  expect(seen.ociLaunches).toBe(6);
  expect(runbook(op.steps)).toEqual([
    'headroom-1',
    'plan-1',
    'provision-1-ne|provision-1-we',
    'plan-2',
    'provision-2-fra',
    'plan-3',
  ]);

  // Spill-back: once North Europe's cool-down is over, idle nodes in Frankfurt move there, 4 at a time.
  const until = Date.parse(view.sites.find((s) => s.siteId === 'ne')!.coolingDown!.until);
  await waitFor(() => Promise.resolve(model.clock.now() > until && Date.now() > until), {
    timeoutMs: 20_000,
    intervalMs: 100,
    description: 'the cool-down to end',
  });
  const nodes = (await request(`${cp.host.url}${paths.poolNodes('sp2', 'gpu')}`, { key: cp.functionKey }))
    .json.nodes as { nodeId: string; siteId: string }[];
  for (const node of nodes.filter((n) => n.siteId === 'fra')) {
    const idle = await request(`${cp.host.url}${paths.poolNodeIdle('sp2', 'gpu', node.nodeId)}`, {
      method: 'PUT',
      key: cp.adminKey,
      body: { idle: true },
    });
    expect(idle.status).toBe(200);
  }
  const back = await request(`${cp.host.url}${paths.poolSpillover('sp2', 'gpu')}`, {
    method: 'POST',
    key: cp.adminKey,
    body: { reason: 'room returned' },
  });
  const backOp = await ended('sp2', back.json.operationId as string);
  expect(backOp.status).toBe('succeeded');
  expect(await placedPerSite('sp2')).toEqual({ we: 4, ne: 4, fra: 2 });
  // Never below the demand: every replacement was running before a node it replaces was removed.
  const started = backOp.steps.find((s) => s.id === 'spill-back-1-ne')!;
  const removed = backOp.steps.find((s) => s.id === 'spill-back-remove-1-fra')!;
  expect(started.outcome).toBe('ok');
  expect(removed.outcome).toBe('ok');
  expect(started.endedAt!).toBeLessThanOrEqual(removed.startedAt);

  // Scale-in: 10 → 5 removes Frankfurt's 2, then 3 of North Europe's; West Europe, the most preferred, keeps its 4.
  const inOp = await ended('sp2', await setDemand('sp2', 5));
  expect(inOp.status).toBe('succeeded');
  expect(await placedPerSite('sp2')).toEqual({ we: 4, ne: 1, fra: 0 });
  const all = (
    await request(`${cp.host.url}${paths.poolNodes('sp2', 'gpu')}?all=true`, { key: cp.functionKey })
  ).json.nodes as { status: string; removeReason: string | null }[];
  expect(all.filter((n) => n.status === 'removed')).toHaveLength(9); // 4 spilled back + 5 scaled in
  expect(all.filter((n) => n.removeReason?.startsWith('scale-in'))).toHaveLength(5);
}, 120_000);

it('waits out a 429 with its Retry-After on a durable timer, then provisions the same site', async () => {
  const groups = await declarePool('sp3');
  room('azure', 'westeurope', GPU, 4);
  model.addFault({
    cloud: 'azure',
    region: 'westeurope',
    operation: 'create',
    kind: 'Throttled',
    retryAfterSeconds: 2,
    remaining: 1,
  });
  const since = model.clock.now();
  const op = await ended('sp3', await setDemand('sp3', 2));
  expect(op.status).toBe('succeeded');
  expect(await placedPerSite('sp3')).toEqual({ we: 2, ne: 0, fra: 0 });
  const throttled = op.steps.find((s) => s.id === 'provision-1-we')!;
  const retried = op.steps.find((s) => s.id === 'provision-2-we')!;
  expect(throttled).toMatchObject({ outcome: 'warn', detail: { retryAfterMs: 2000 } });
  expect(retried.outcome).toBe('ok');
  expect(retried.startedAt - throttled.endedAt!).toBeGreaterThanOrEqual(2000);
  expect(scaleChanges(since, groups.we)).toBe(1);
}, 60_000);

it('answers bad pool requests with a named 4xx and changes nothing', async () => {
  await declarePool('sp4');
  const idle = (nodeId: string, body: unknown) =>
    request(`${cp.host.url}${paths.poolNodeIdle('sp4', 'gpu', nodeId)}`, {
      method: 'PUT',
      key: cp.adminKey,
      body,
    });
  expect((await idle('we-00000000', { idle: true })).json.error.code).toBe('NodeNotFound');
  expect((await idle('we-00000000', { idle: 'yes' })).status).toBe(422);
  const nodes = await request(`${cp.host.url}${paths.poolNodes('sp4', 'gpu')}?all=maybe`, {
    key: cp.functionKey,
  });
  expect(nodes.status).toBe(400);
  const spill = await request(`${cp.host.url}${paths.poolSpillover('sp4', 'nope')}`, {
    method: 'POST',
    key: cp.adminKey,
    body: {},
  });
  expect(spill.status).toBe(404);
  expect(spill.json.error.code).toBe('PoolNotFound');
  expect((await poolView('sp4')).placed).toBe(0);
});

it('the capacity monitor re-reads the headroom of a pool short of nodes and starts a run when room appears', async () => {
  await declarePool('sp5');
  room('azure', 'westeurope', GPU, 2);
  room('azure', 'northeurope', GPU, 0);
  room('oci', 'eu-frankfurt-1', A10, 0);
  const short = await ended('sp5', await setDemand('sp5', 4));
  expect(short).toMatchObject({ status: 'failed', code: 'CapacityShortfall' });
  expect(await poolView('sp5')).toMatchObject({ placed: 2, shortfall: 2, runningOperation: null });
  const services = createServices(loadConfig({ ...realProcess.env, ...cp.settings }), () => Date.now());
  const starts: MonitorStart[] = [];
  const monitor = () =>
    runCapacityMonitor(
      services,
      async (r) => {
        if (r.clusterId === 'sp5') starts.push(r);
        return Promise.resolve();
      },
      { readAgeMs: 0 },
    );
  // No room anywhere yet: every site read once, nothing started.
  const from = model.requestLog.length;
  await monitor();
  expect(starts).toEqual([]);
  const seen = cloudRequests(from, {});
  expect([
    seen.headroomReads('westeurope', 'azure'),
    seen.headroomReads('northeurope', 'azure'),
    seen.headroomReads('eu-frankfurt-1', 'oci'),
  ]).toEqual([1, 1, 1]);
  // Quota granted in North Europe: the next round starts the pool's run, which places the rest there.
  room('azure', 'northeurope', GPU, 2);
  await monitor();
  expect(starts).toEqual([
    { clusterId: 'sp5', poolId: 'gpu', reason: expect.stringContaining('room for 2 in ne') },
  ]);
  const run = await request(`${cp.host.url}${paths.poolSpillover('sp5', 'gpu')}`, {
    method: 'POST',
    key: cp.adminKey,
    body: { reason: starts[0]!.reason },
  });
  expect((await ended('sp5', run.json.operationId as string)).status).toBe('succeeded');
  expect(await placedPerSite('sp5')).toEqual({ we: 2, ne: 2, fra: 0 });
}, 90_000);
