import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type * as Api from '@opentelemetry/api';
import type * as SdkMetrics from '@opentelemetry/sdk-metrics';
import type * as SdkTrace from '@opentelemetry/sdk-trace-base';
import { putArmScaleSet } from '../../devhost/cloudSimulator/armResources';
import { LOCAL_AZURE_SUBSCRIPTION } from '../../devhost/cloudSimulator/startLocalCloud';
import { realRequire } from '../../devhost/realRequire';
import { paths } from '../../shared/contracts/routes';
import { agentRequest, root as repoRoot, twoNodeCluster } from '../helpers/controlPlane';
import { request } from '../helpers/durableHttp';
import { startLocalStack, type LocalStack } from '../helpers/localStack';
import { msOf, startOtelTestKit, type OtelTestKit } from '../shared/telemetry/otelTestKit';
import { activeUnder, FAST } from './e2eSupport';

/**
 * The telemetry of one real failover through the local stack (devhost, cloud simulator, real agents): the app in the
 * devhost is loaded by Node's own loader, so the in-memory providers are registered through the same
 * `@opentelemetry/api` module the app uses — the one Node resolves from the repository — not jest's copy.
 */
const appRequire = realRequire(path.join(repoRoot, 'package.json'));
const api = appRequire('@opentelemetry/api') as typeof Api;

let stack: LocalStack;
let kit: OtelTestKit;

beforeAll(async () => {
  kit = startOtelTestKit(
    api,
    appRequire('@opentelemetry/sdk-trace-base') as typeof SdkTrace,
    appRequire('@opentelemetry/sdk-metrics') as typeof SdkMetrics,
  );
  stack = await startLocalStack();
});
afterAll(async () => {
  await stack?.stopAgents();
  await stack?.stop();
  await kit?.stop();
});

it('traces a failover as one trace with a span per recorded step, and counts heartbeats, the detection, the failover and its RTO', async () => {
  await stack.declarePair('tel', { detection: FAST });
  const a = stack.startAgent('tel', 'head-a');
  stack.startAgent('tel', 'head-b');
  await activeUnder(stack, 'tel', 'head-a', 1, ['head-b']);
  // A heartbeat no key signed: refused before the heartbeat service, counted by its code.
  const forged = await agentRequest(`${stack.url}${paths.agentHeartbeat()}`, {
    clusterId: 'tel',
    nodeId: 'head-b',
    key: randomBytes(32),
    seq: 1,
    body: { role: 'standby', epoch: 1, checks: [] },
  });
  expect(forged.status).toBe(401);

  await a.kill('SIGKILL');
  await activeUnder(stack, 'tel', 'head-b', 2);
  const operations = await stack.operations('tel');
  const failoverId = operations.find((o) => o.kind === 'failover')?.operationId as string;
  const failover = await stack.ended('tel', failoverId);
  expect(failover).toMatchObject({ status: 'succeeded', epoch: 1, toEpoch: 2, rtoMs: expect.any(Number) });

  // Emitted by the activity right after it ended the record: poll the exporter, with a deadline.
  const root = await stack.until(
    'the root span of the failover',
    () =>
      Promise.resolve(
        kit
          .spans()
          .find(
            (s) =>
              s.name === 'operation failover' && s.attributes['failoverplane.operation.id'] === failoverId,
          ),
      ),
    (span) => span !== undefined,
  );
  if (!root) throw new Error('no root span');
  expect(root.attributes).toMatchObject({
    'failoverplane.cluster.id': 'tel',
    'failoverplane.operation.id': failoverId,
    'failoverplane.operation.kind': 'failover',
    'failoverplane.operation.outcome': 'succeeded',
    'failoverplane.epoch.from': 1,
    'failoverplane.epoch.to': 2,
    'failoverplane.trigger.kind': 'detector',
    'failoverplane.trigger.reference': failover.trigger.reference,
    'failoverplane.actor': failover.actor,
    'failoverplane.rto_ms': failover.rtoMs,
  });
  // Emitted once (no retry here), in its own trace.
  expect(kit.spans().filter((s) => s.name === 'operation failover')).toHaveLength(1);
  const children = kit.spans().filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId);
  const steps = failover.steps as {
    id: string;
    name: string;
    startedAt: number;
    endedAt?: number;
    outcome: string;
  }[];
  expect(steps.length).toBeGreaterThanOrEqual(5);
  // One child per recorded step, in the recorded order, with the step's own times, all inside the root.
  expect(children.map((s) => s.attributes['failoverplane.step.id'])).toEqual(steps.map((s) => s.id));
  expect(children.map((s) => s.name)).toEqual(steps.map((s) => s.name));
  expect(children.map((s) => s.attributes['failoverplane.step.outcome'])).toEqual(
    steps.map((s) => s.outcome),
  );
  children.forEach((span, i) => {
    const step = steps[i] as (typeof steps)[number];
    expect(span.spanContext().traceId).toBe(root.spanContext().traceId);
    expect(msOf(span.startTime)).toBe(step.startedAt);
    if (step.endedAt !== undefined) expect(msOf(span.endTime)).toBe(step.endedAt);
    expect(msOf(span.startTime)).toBeGreaterThanOrEqual(msOf(root.startTime));
    expect(msOf(span.endTime)).toBeLessThanOrEqual(msOf(root.endTime));
  });
  expect(msOf(root.endTime)).toBe(failover.endedAt);

  const value = async (name: string, attributes: Record<string, unknown> = {}) =>
    (await kit.points(name))
      .filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))
      .map((p) => p.value);
  expect(await value('failoverplane.failovers', { 'failoverplane.cluster.id': 'tel' })).toEqual([1]);
  expect(
    await value('failoverplane.failovers', {
      'failoverplane.cluster.id': 'tel',
      'failoverplane.operation.outcome': 'succeeded',
    }),
  ).toEqual([1]);
  expect(await value('failoverplane.detections', { 'failoverplane.cluster.id': 'tel' })).toEqual([1]);
  const [rto] = await value('failoverplane.rto', { 'failoverplane.cluster.id': 'tel' });
  expect(rto).toMatchObject({ count: 1, sum: failover.rtoMs });
  const [accepted] = await value('failoverplane.heartbeats.accepted');
  expect(accepted).toBeGreaterThan(10);
  expect(
    await value('failoverplane.heartbeats.rejected', { 'failoverplane.reason': 'BadSignature' }),
  ).toEqual([1]);
});

it('traces a validate drill the same way: the drill operation as the root, its recorded steps as children', async () => {
  await stack.declarePair('tel-drill', { detection: FAST });
  stack.startAgent('tel-drill', 'head-a');
  stack.startAgent('tel-drill', 'head-b');
  await activeUnder(stack, 'tel-drill', 'head-a', 1, ['head-b']);
  const started = await request(`${stack.url}${paths.drills('tel-drill')}`, {
    method: 'POST',
    key: stack.cp.adminKey,
    body: { mode: 'validate' },
  });
  expect(started.status).toBe(202);
  const drillId = started.json.drillId as string;
  const drill = await stack.ended('tel-drill', drillId, 60_000);
  expect(drill).toMatchObject({ kind: 'drill', status: 'succeeded' });
  const root = await stack.until(
    'the root span of the drill',
    () =>
      Promise.resolve(
        kit
          .spans()
          .find(
            (s) => s.name === 'operation drill' && s.attributes['failoverplane.operation.id'] === drillId,
          ),
      ),
    (span) => span !== undefined,
  );
  if (!root) throw new Error('no root span');
  expect(root.attributes).toMatchObject({
    'failoverplane.cluster.id': 'tel-drill',
    'failoverplane.operation.kind': 'drill',
    'failoverplane.operation.outcome': 'succeeded',
    'failoverplane.epoch.from': 1,
    'failoverplane.trigger.kind': 'api',
  });
  const children = kit.spans().filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId);
  const steps = (drill.steps ?? []) as { id: string }[];
  expect(steps.length).toBeGreaterThan(0);
  expect(children.map((s) => s.attributes['failoverplane.step.id'])).toEqual(steps.map((s) => s.id));
  expect(
    await stack.until(
      'the drill counted',
      () => kit.points('failoverplane.operations'),
      (points) =>
        points.some(
          (p) =>
            p.attributes['failoverplane.operation.kind'] === 'drill' &&
            p.attributes['failoverplane.operation.outcome'] === 'succeeded',
        ),
    ),
  ).toBeDefined();
});

it('traces a spillover run: the run as the root, its recorded steps (headroom, plans, provisioning) as children', async () => {
  const model = stack.cp.host.cloud?.simulator.model;
  if (!model) throw new Error('the stack runs without the cloud simulator');
  const size = 'Standard_NC24ads_A100_v4';
  const group = putArmScaleSet(model, {
    subscriptionId: LOCAL_AZURE_SUBSCRIPTION,
    resourceGroup: 'hpc-demo',
    name: 'tel-spill-we',
    region: 'westeurope',
    size,
    instances: 0,
  }).id;
  // Room for the 2 nodes asked for: quota above what is used, and capacity.
  const site = model.site('azure', 'westeurope');
  const family = model.sizes.get(size);
  if (!site || !family) throw new Error('the simulator has no westeurope or no GPU size');
  const use = model.quotaUse(site);
  site.quotas[family.family] = { limit: (use[family.family]?.used ?? 0) + 2 * family.cores };
  if (site.quotas.cores) site.quotas.cores = { limit: (use.cores?.used ?? 0) + 10_000 };
  site.capacity[size] = 2;
  const declared = await request(`${stack.url}${paths.cluster('tel-spill')}`, {
    method: 'PUT',
    key: stack.cp.adminKey,
    body: {
      ...twoNodeCluster('tel-spill'),
      pools: [
        { id: 'gpu', desired: 0, sites: [{ id: 'we', cloud: 'azure', region: 'westeurope', size, group }] },
      ],
    },
  });
  expect(declared.status).toBe(201);
  const demand = await request(`${stack.url}${paths.poolDemand('tel-spill', 'gpu')}`, {
    method: 'PUT',
    key: stack.cp.adminKey,
    body: { desired: 2 },
  });
  expect(demand.status).toBe(202);
  const operationId = demand.json.spillover.operationId as string;
  const run = await stack.ended('tel-spill', operationId, 60_000);
  expect(run).toMatchObject({ kind: 'spillover', status: 'succeeded' });
  const root = await stack.until(
    'the root span of the spillover',
    () =>
      Promise.resolve(
        kit
          .spans()
          .find(
            (s) =>
              s.name === 'operation spillover' && s.attributes['failoverplane.operation.id'] === operationId,
          ),
      ),
    (span) => span !== undefined,
  );
  if (!root) throw new Error('no root span');
  expect(root.attributes).toMatchObject({
    'failoverplane.cluster.id': 'tel-spill',
    'failoverplane.operation.kind': 'spillover',
    'failoverplane.operation.outcome': 'succeeded',
  });
  const children = kit.spans().filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId);
  const steps = run.steps as { id: string; startedAt: number }[];
  expect(steps.map((s) => s.id)).toEqual(expect.arrayContaining(['headroom-1', 'plan-1', 'provision-1-we']));
  expect(children.map((s) => s.attributes['failoverplane.step.id'])).toEqual(steps.map((s) => s.id));
  expect(children.map((s) => msOf(s.startTime))).toEqual(steps.map((s) => s.startedAt));
});
