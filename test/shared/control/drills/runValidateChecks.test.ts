import type { RunningAzurite } from '../../../../devhost';
import { armVmId, putArmVm } from '../../../../devhost/cloudSimulator/armResources';
import {
  LOCAL_AZURE_SUBSCRIPTION,
  startLocalCloud,
  type LocalCloud,
} from '../../../../devhost/cloudSimulator/startLocalCloud';
import { declareCluster } from '../../../../shared/control/clusters/clusterAdmin';
import { runValidateChecks } from '../../../../shared/control/drills/runValidateChecks';
import type { DrillCheck } from '../../../../shared/domain/drills';
import { DRILL_CHECK_NAMES } from '../../../../shared/domain/drills';
import type { Services } from '../../../../shared/services/services';
import { servicesOnAzurite } from '../../../helpers/servicesOnAzurite';

/**
 * The checks of a validate drill, against a real Azurite (tables, witness container) and the cloud simulator (the
 * real ARM client reads power states and quota). Heartbeats go through the agent heartbeat path with a test clock.
 */
let azurite: RunningAzurite;
let cloud: LocalCloud;
let services: Services;
let clock = Date.UTC(2031, 10, 1);
let seq = 0;

const vmId = (name: string) => armVmId(LOCAL_AZURE_SUBSCRIPTION, 'hpc-demo', name);
const ALL_HOOKS = ['promote', 'demote', 'fence', 'fence-peer'];

beforeAll(async () => {
  cloud = await startLocalCloud({ transitionMs: 20 });
  const model = cloud.simulator.model;
  putArmVm(model, {
    subscriptionId: LOCAL_AZURE_SUBSCRIPTION,
    resourceGroup: 'hpc-demo',
    name: 'cold-b',
    region: 'northeurope',
    size: 'Standard_D4s_v5',
    powerState: 'deallocated',
  });
  for (let i = 1; i <= 16; i++)
    putArmVm(model, {
      subscriptionId: LOCAL_AZURE_SUBSCRIPTION,
      resourceGroup: 'hpc-demo',
      name: `n${i}`,
      region: i % 2 ? 'westeurope' : 'northeurope',
      size: 'Standard_D4s_v5',
      powerState: 'running',
    });
  ({ azurite, services } = await servicesOnAzurite('Dval', () => clock, cloud.env));
});
afterAll(async () => {
  await azurite.stop();
  await cloud.stop();
});
beforeEach(() => {
  clock += 3_600_000; // every test starts well after the previous one's heartbeats
});

interface Beat {
  role?: 'active' | 'standby';
  hooks?: string[];
  skewMs?: number;
  lagMs?: number;
  checks?: { name: string; status: 'ok' | 'warn' | 'fail' }[];
}

/**
 * One heartbeat through the agent path (`handle`), signed `skewMs` before the control plane's clock. Until the
 * heartbeat path records `hooks` and `clockSkewMs` itself (another branch of issue 10), the stored copies (row and,
 * for the active, the state's) are completed with what the agent sent, as that path will record them.
 */
async function beat(clusterId: string, nodeId: string, b: Beat = {}): Promise<void> {
  const role = b.role ?? 'standby';
  const hooks = b.hooks ?? ALL_HOOKS;
  const skewMs = b.skewMs ?? 0;
  const body = {
    role,
    epoch: 1,
    checks: b.checks ?? [{ name: 'ping', status: 'ok' }],
    hooks,
    ...(b.lagMs !== undefined ? { replicationLagMs: b.lagMs } : {}),
  };
  const outcome = await services.agents.heartbeats.handle(
    { ok: true, clusterId, nodeId, keyVersion: 1, seq: ++seq, timestamp: clock - skewMs },
    Buffer.from(JSON.stringify(body)),
  );
  if (!outcome.ok) throw new Error(JSON.stringify(outcome));
  const row = await services.heartbeats.get(clusterId, nodeId);
  if (row && (row.record.hooks === undefined || row.record.clockSkewMs === undefined))
    await services.heartbeats.put({ ...row.record, hooks, clockSkewMs: skewMs }, row.etag);
  const stored = await services.clusters.getState(clusterId);
  const copy = stored?.state.activeHeartbeat;
  if (stored && copy?.nodeId === nodeId && (copy.hooks === undefined || copy.clockSkewMs === undefined))
    await services.clusters.replaceState(
      { ...stored.state, activeHeartbeat: { ...copy, hooks, clockSkewMs: skewMs } },
      stored.etag,
    );
}

interface NodeSpec {
  id: string;
  vm?: string;
  region?: string;
  size?: string;
  priority?: number;
}

async function declare(
  id: string,
  nodes: NodeSpec[],
  extra: { failover?: Record<string, unknown>; drill?: Record<string, unknown> } = {},
): Promise<void> {
  const declared = await declareCluster(
    services,
    id,
    {
      id,
      kind: 'active-passive',
      nodes: nodes.map((n, i) => ({
        id: n.id,
        role: i === 0 ? 'active' : 'standby',
        site: n.vm
          ? { cloud: 'azure', region: n.region ?? 'westeurope' }
          : { cloud: 'on-prem', region: `hall-${i}` },
        ...(n.vm ? { compute: { kind: 'azure-vm', resourceId: vmId(n.vm) } } : {}),
        ...(n.size ? { size: n.size } : {}),
        ...(n.priority !== undefined ? { priority: n.priority } : {}),
      })),
      ...extra,
    },
    'test',
  );
  if (!declared.ok) throw new Error(JSON.stringify(declared));
}

/** A healthy cluster: the first node active (heartbeating as such twice: granted, then verified), the others standby. */
async function healthyCluster(
  id: string,
  nodes: NodeSpec[],
  extra: Parameters<typeof declare>[2] = {},
  beats: Record<string, Beat> = {},
): Promise<void> {
  await declare(id, nodes, extra);
  const [active, ...standbys] = nodes;
  await beat(id, active!.id, { role: 'active', ...beats[active!.id] });
  await beat(id, active!.id, { role: 'active', ...beats[active!.id] });
  for (const n of standbys) await beat(id, n.id, beats[n.id]);
}

async function validate(id: string) {
  const outcome = await runValidateChecks(services, id, { drillId: `drill-${id}` });
  if (!outcome) throw new Error(`${id} not declared`);
  return outcome;
}

const find = (checks: DrillCheck[], name: DrillCheck['name'], nodeId?: string) => {
  const check = checks.find((c) => c.name === name && (nodeId === undefined || c.nodeId === nodeId));
  if (!check) throw new Error(`no ${name} check${nodeId ? ` for ${nodeId}` : ''}`);
  return check;
};

const TWO_CLOUD_NODES: NodeSpec[] = [
  { id: 'head-a', vm: 'head-a', region: 'westeurope' },
  { id: 'head-b', vm: 'head-b', region: 'northeurope' },
];

it('passes every check on a healthy 2-node cluster, in order, and predicts the RTO part by part', async () => {
  await healthyCluster('v-ok', TWO_CLOUD_NODES);
  const { checks, prediction } = await validate('v-ok');
  expect(checks.filter((c) => c.outcome !== 'ok')).toEqual([]);
  expect(checks.map((c) => `${c.name}${c.nodeId ? `:${c.nodeId}` : ''}`)).toEqual([
    'witness-writable',
    'standby-heartbeating:head-b',
    'standby-healthy:head-b',
    'standby-within-rpo:head-b',
    'standby-startable:head-b',
    'fence-path:head-a',
    'hooks-present:head-a',
    'hooks-present:head-b',
    'agent-clock:head-a',
    'agent-clock:head-b',
  ]);
  // in DRILL_CHECK_NAMES order, every one timed, with a sentence
  const order = checks.map((c) => DRILL_CHECK_NAMES.indexOf(c.name));
  expect(order).toEqual([...order].sort((a, b) => a - b));
  for (const c of checks) {
    expect(c.startedAt).toBe(clock);
    expect(c.durationMs).toBeGreaterThanOrEqual(0);
    expect(c.detail.length).toBeGreaterThan(10);
  }
  expect(find(checks, 'fence-path').data).toMatchObject({ method: 'power-off', power: 'running' });
  expect(find(checks, 'standby-within-rpo').detail).toMatch(/objective 0/);
  // 1 s × 5 detection; the power-off round trip; head-b running: no start; 2 × 100 ms verification
  expect(prediction.parts.map((p) => p.name)).toEqual([
    'detection window',
    'fence (power-off)',
    'start the standby',
    'promote hook (not measured yet)',
    'verification',
  ]);
  const ms = Object.fromEntries(prediction.parts.map((p) => [p.name, p.ms]));
  expect(ms['detection window']).toBe(5000);
  expect(ms['fence (power-off)']).toBeLessThan(5000);
  expect(ms['start the standby']).toBe(0);
  expect(ms.verification).toBe(200);
  expect(prediction.ms).toBe(prediction.parts.reduce((s, p) => s + p.ms, 0));
  // the witness probe used a blob of its own, never the cluster's witness blob
  await expect(services.witness.read('v-ok')).rejects.toThrow(/does not exist/);
});

it('predicts the promote hook from the earlier acknowledged promotion', async () => {
  await healthyCluster('v-promote', TWO_CLOUD_NODES);
  const epoch = (await services.clusters.getState('v-promote'))!.state.epoch;
  await services.commandAcks.insertIfAbsent({
    event: {
      clusterId: 'v-promote',
      nodeId: 'head-a',
      commandId: `promote-${epoch}`,
      type: 'promote',
      epoch,
      outcome: 'ok',
      steps: [{ name: 'promote', exitCode: 0, durationMs: 1200, outputTail: '' }],
      receivedAt: new Date(clock).toISOString(),
    },
    startedAt: new Date(clock - 1500).toISOString(),
    finishedAt: new Date(clock).toISOString(),
  });
  const { prediction } = await validate('v-promote');
  expect(prediction.parts).toContainEqual({ name: 'promote hook (earlier runs)', ms: 1500 });
});

it('answers undefined for a cluster that is not declared', async () => {
  await expect(runValidateChecks(services, 'v-nobody')).resolves.toBeUndefined();
});

it('fails witness-writable, naming the missing container, when the witness container is gone', async () => {
  await healthyCluster('v-witness', TWO_CLOUD_NODES);
  await services.witness.container.delete();
  try {
    const { checks } = await validate('v-witness');
    const check = find(checks, 'witness-writable');
    expect(check).toMatchObject({ outcome: 'failed', data: { reason: 'container-missing' } });
    expect(check.detail).toMatch(/witness container .* does not exist/);
    expect(checks.filter((c) => c.outcome === 'failed')).toHaveLength(1);
  } finally {
    // Azurite accepts re-creating a deleted container at once (Azure would answer 409 for a while)
    await services.witness.ensureContainer();
  }
});

it('fails standby-heartbeating when a standby goes silent', async () => {
  await healthyCluster('v-silent', [
    { id: 'head-a' },
    { id: 'head-b', priority: 1 },
    { id: 'head-c', priority: 2 },
  ]);
  clock += 6000; // beyond the 5 s window for head-b; head-a and head-c heard again
  await beat('v-silent', 'head-a', { role: 'active' });
  await beat('v-silent', 'head-c');
  const { checks } = await validate('v-silent');
  const check = find(checks, 'standby-heartbeating', 'head-b');
  expect(check.outcome).toBe('failed');
  expect(check.detail).toBe(
    'head-b last heartbeat 6000 ms ago, beyond the 5000 ms detection window: check its agent and network',
  );
  expect(find(checks, 'standby-heartbeating', 'head-c').outcome).toBe('ok');
  // on-prem nodes: started by their owners; no fencer and no cloud: the lease wait
  expect(find(checks, 'standby-startable', 'head-b').detail).toMatch(/not a cloud node/);
  expect(find(checks, 'fence-path')).toMatchObject({
    outcome: 'warn',
    detail: 'no fence path: a failover waits out the lease (4000 + 500 ms)',
  });
});

it('fails standby-within-rpo when the lag is over the objective, and warns when it is not reported', async () => {
  await healthyCluster(
    'v-lag',
    [{ id: 'head-a' }, { id: 'head-b' }, { id: 'head-c' }],
    { failover: { rpoObjectiveMs: 5000 } },
    { 'head-b': { lagMs: 12_000 } },
  );
  const { checks } = await validate('v-lag');
  expect(find(checks, 'standby-within-rpo', 'head-b')).toMatchObject({
    outcome: 'failed',
    detail: 'head-b lag 12000 ms over the 5000 ms objective: check its replication',
    data: { lagMs: 12_000, rpoMs: 5000 },
  });
  expect(find(checks, 'standby-within-rpo', 'head-c')).toMatchObject({ outcome: 'warn' });
  expect(find(checks, 'standby-within-rpo', 'head-c').detail).toMatch(/not reported/);
});

it('fails standby-startable when no quota is left for the stopped standby’s size in its region', async () => {
  const site = cloud.simulator.model.site('azure', 'northeurope')!;
  const family = site.quotas.standardDSv5Family!;
  const limit = family.limit;
  family.limit = cloud.simulator.model.quotaUse(site).standardDSv5Family!.used; // full
  try {
    await healthyCluster('v-quota', [
      { id: 'head-a', vm: 'head-a', region: 'westeurope' },
      { id: 'cold-b', vm: 'cold-b', region: 'northeurope', size: 'Standard_D4s_v5' },
    ]);
    const { checks, prediction } = await validate('v-quota');
    const check = find(checks, 'standby-startable', 'cold-b');
    expect(check.outcome).toBe('failed');
    expect(check.detail).toMatch(
      /^cold-b is deallocated and no quota is left for one Standard_D4s_v5 in northeurope \(.*standardDSv5Family.*\): raise the quota$/,
    );
    expect(check.data).toMatchObject({ quotaNodes: 0, size: 'Standard_D4s_v5' });
    // the stopped standby must be started first: the assumed Azure start time
    expect(prediction.parts).toContainEqual({ name: 'start the standby cold-b (assumed)', ms: 90_000 });
  } finally {
    family.limit = limit;
  }
  // with the quota back, the same standby is startable
  const again = await validate('v-quota');
  expect(find(again.checks, 'standby-startable', 'cold-b').outcome).toBe('ok');
});

it('fails standby-startable for a stopped standby without a declared size, saying to declare it', async () => {
  await healthyCluster('v-nosize', [
    { id: 'head-a', vm: 'head-a', region: 'westeurope' },
    { id: 'cold-b', vm: 'cold-b', region: 'northeurope' },
  ]);
  const { checks } = await validate('v-nosize');
  expect(find(checks, 'standby-startable', 'cold-b')).toMatchObject({
    outcome: 'failed',
    detail:
      'cold-b is deallocated and its size is not declared: set nodes[].size so its quota can be checked',
  });
});

it('fails fence-path when the fencer does not report the fence-peer hook', async () => {
  await healthyCluster(
    'v-fencer',
    [{ id: 'head-a' }, { id: 'head-b' }, { id: 'bmc-1' }],
    { failover: { fencerNodeId: 'bmc-1' } },
    { 'bmc-1': { hooks: ['promote', 'demote'] } },
  );
  const { checks } = await validate('v-fencer');
  expect(find(checks, 'fence-path')).toMatchObject({
    nodeId: 'head-a',
    outcome: 'failed',
    detail: 'no fence path: the fencer bmc-1 has no fence-peer hook: configure it',
  });
  expect(find(checks, 'hooks-present', 'bmc-1')).toMatchObject({
    outcome: 'failed',
    detail: 'bmc-1 is missing the fence-peer hook: configure it on its agent',
  });
});

it('passes fence-path through a fencer that reports fence-peer', async () => {
  await healthyCluster('v-fencer-ok', [{ id: 'head-a' }, { id: 'head-b' }, { id: 'bmc-1' }], {
    failover: { fencerNodeId: 'bmc-1' },
  });
  const { checks, prediction } = await validate('v-fencer-ok');
  expect(find(checks, 'fence-path')).toMatchObject({ outcome: 'ok', data: { method: 'fence-peer' } });
  // never measured: the lease wait stands in
  expect(prediction.parts).toContainEqual({ name: 'fence (fence-peer)', ms: 4500 });
});

it('fails fence-path, with the reason, when the active VM’s power state cannot be read', async () => {
  const site = cloud.simulator.model.site('azure', 'westeurope')!;
  await healthyCluster('v-power', TWO_CLOUD_NODES);
  site.down = 'refuse';
  try {
    const { checks } = await validate('v-power');
    const check = find(checks, 'fence-path');
    expect(check.outcome).toBe('failed');
    expect(check.detail).toMatch(
      /^no fence path: head-a's power state cannot be read \(.+\), so it cannot be powered off$/,
    );
  } finally {
    delete site.down;
  }
});

it('retries a throttled power-state read within the probe time instead of failing the check', async () => {
  await healthyCluster('v-throttled', TWO_CLOUD_NODES);
  const model = cloud.simulator.model;
  model.addFault({
    cloud: 'azure',
    region: 'northeurope',
    operation: 'any',
    kind: 'Throttled',
    remaining: 1,
    retryAfterSeconds: 1,
  });
  const { checks } = await validate('v-throttled');
  expect(model.faults.filter((f) => f.kind === 'Throttled')).toEqual([]); // it fired
  expect(find(checks, 'standby-startable', 'head-b')).toMatchObject({
    outcome: 'ok',
    detail: 'head-b is running',
  });
  expect(find(checks, 'standby-startable', 'head-b').durationMs).toBeGreaterThanOrEqual(900);
});

it('fails hooks-present naming the missing hooks, and warns for an agent that does not report them', async () => {
  await healthyCluster(
    'v-hooks',
    [{ id: 'head-a' }, { id: 'head-b' }],
    {},
    { 'head-b': { hooks: ['promote'] } },
  );
  const { checks } = await validate('v-hooks');
  expect(find(checks, 'hooks-present', 'head-b')).toMatchObject({
    outcome: 'failed',
    detail: 'head-b is missing the demote hook: configure it on its agent',
    data: { missing: ['demote'] },
  });
  expect(find(checks, 'hooks-present', 'head-a').outcome).toBe('ok');
  // an older agent: its heartbeat has no hooks at all
  const row = (await services.heartbeats.get('v-hooks', 'head-b'))!;
  const { hooks: _dropped, ...older } = row.record;
  await services.heartbeats.put(older, row.etag);
  const again = await validate('v-hooks');
  expect(find(again.checks, 'hooks-present', 'head-b')).toMatchObject({
    outcome: 'warn',
    detail: 'head-b: agent does not report its hooks (older agent)',
  });
});

it('fails agent-clock when a node’s clock offset is over the tolerance', async () => {
  await healthyCluster(
    'v-clock',
    [{ id: 'head-a' }, { id: 'head-b' }],
    { drill: { clockToleranceMs: 1000 } },
    { 'head-b': { skewMs: 2500 } },
  );
  const { checks } = await validate('v-clock');
  expect(find(checks, 'agent-clock', 'head-b')).toMatchObject({
    outcome: 'failed',
    detail: 'head-b clock offset 2500 ms over the 1000 ms tolerance: fix its time sync (NTP/chrony)',
  });
  expect(find(checks, 'agent-clock', 'head-a').outcome).toBe('ok');
});

it('runs the checks of a 16-node cloud cluster concurrently, each node checked once per per-node check', async () => {
  const nodes: NodeSpec[] = Array.from({ length: 16 }, (_, i) => ({
    id: `n${i + 1}`,
    vm: `n${i + 1}`,
    region: (i + 1) % 2 ? 'westeurope' : 'northeurope',
    size: 'Standard_D4s_v5',
  }));
  await healthyCluster('v-sixteen', nodes);
  const before = cloud.simulator.model.requestCounts.azure;
  const started = Date.now();
  const { checks } = await validate('v-sixteen');
  const elapsed = Date.now() - started;
  expect(checks.filter((c) => c.outcome !== 'ok')).toEqual([]);
  // 1 witness + 15 × 4 standby checks + 1 fence + 16 × 2 node checks
  expect(checks).toHaveLength(1 + 15 * 4 + 1 + 16 * 2);
  // one power-state read per cloud node, shared by the checks that need it
  expect(cloud.simulator.model.requestCounts.azure - before).toBe(16);
  expect(elapsed).toBeLessThan(10_000);
});
