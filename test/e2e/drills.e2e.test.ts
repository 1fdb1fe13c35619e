import { BlobServiceClient } from '@azure/storage-blob';
import { paths } from '../../shared/contracts/routes';
import { request } from '../helpers/durableHttp';
import { startLocalStack, type LocalStack } from '../helpers/localStack';
import { activeUnder, FAST } from './e2eSupport';

/**
 * DR drills through the local stack (devhost, Azurite, the cloud simulator) with real agent processes: a validate
 * drill on a healthy cluster and on a broken one; a switchover drill there and back; a failover drill that silences
 * the active for real; a drill skipped while another operation runs; the report as JSON, as HTML, in the list and in
 * the cluster status.
 */
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack();
});
afterEach(async () => {
  await stack.stopAgents();
});
afterAll(async () => {
  await stack?.stop();
});

const startDrill = (clusterId: string, body: Record<string, unknown>) =>
  request(`${stack.url}${paths.drills(clusterId)}`, { method: 'POST', key: stack.cp.adminKey, body });
const getDrill = (clusterId: string, drillId: string, accept = 'application/json') =>
  request(`${stack.url}${paths.drill(clusterId, drillId)}`, {
    key: stack.cp.functionKey,
    headers: { accept },
  });
const listDrills = async (clusterId: string) =>
  (await request(`${stack.url}${paths.drills(clusterId)}`, { key: stack.cp.functionKey })).json as {
    drills: { drillId: string; result: string; mode: string; reasons: string[] }[];
  };

/** Polls the drill until its report exists; returns it. */
async function report(clusterId: string, drillId: string, timeoutMs = 60_000): Promise<any> {
  const got = await stack.until(
    `the report of ${drillId}`,
    () => getDrill(clusterId, drillId),
    (r) => r.status === 200 && r.json.drill !== null,
    timeoutMs,
  );
  return got.json.drill;
}

async function healthyPair(clusterId: string, options: { drill?: Record<string, unknown> } = {}) {
  const declared = await stack.declarePair(clusterId, {
    detection: FAST,
    failover: { rpoObjectiveMs: 5000 },
    ...options,
  });
  const a = stack.startAgent(clusterId, 'head-a', { replicationLagMs: 0 });
  const b = stack.startAgent(clusterId, 'head-b', { replicationLagMs: 25 });
  await activeUnder(stack, clusterId, 'head-a', 1, ['head-b']);
  // head-b's heartbeat reports its lag and its hooks
  await stack.until(
    'head-b reporting its lag',
    () => stack.status(clusterId),
    (s) => s.nodes.some((n: any) => n.nodeId === 'head-b' && n.replicationLagMs === 25),
  );
  return { a, b, vm: declared.vm };
}

it('a validate drill passes on a healthy cluster: every check timed, the predicted RTO, the report three ways', async () => {
  await healthyPair('val');
  const started = await startDrill('val', {});
  expect(started.status).toBe(202);
  expect(started.json).toMatchObject({ started: true, statusUrl: paths.drill('val', started.json.drillId) });
  const drill = await report('val', started.json.drillId);
  expect(drill).toMatchObject({
    clusterId: 'val',
    mode: 'validate',
    trigger: { kind: 'api' },
    result: 'passed',
    reasons: [],
    legs: [],
    objectives: { rtoMs: 60_000, rpoMs: 5000 },
  });
  const names = drill.checks.map((c: { name: string }) => c.name);
  for (const name of [
    'witness-writable',
    'standby-heartbeating',
    'standby-within-rpo',
    'fence-path',
    'hooks-present',
  ])
    expect(names).toContain(name);
  expect(drill.checks.every((c: { outcome: string }) => c.outcome !== 'failed')).toBe(true);
  expect(drill.checks.every((c: { durationMs: number }) => c.durationMs >= 0)).toBe(true);
  // detection window (1.5 s) at least, and how it adds up
  expect(drill.measured.predictedRtoMs).toBeGreaterThanOrEqual(1500);
  expect(drill.measured.predictedRtoParts[0]).toEqual({ name: 'detection window', ms: 1500 });

  const html = await getDrill('val', drill.drillId, 'text/html');
  expect(html.status).toBe(200);
  expect(html.headers.get('content-type')).toMatch(/^text\/html/);
  expect(html.text).toContain(drill.drillId);
  expect((await listDrills('val')).drills[0]).toMatchObject({ drillId: drill.drillId, result: 'passed' });
  expect((await stack.status('val')).lastDrill).toMatchObject({
    drillId: drill.drillId,
    result: 'passed',
    missedObjectives: [],
  });
  // A second drill's report carries the first in its history: two points on its trend chart.
  const second = await report('val', (await startDrill('val', {})).json.drillId);
  expect(second.history.map((p: { drillId: string }) => p.drillId)).toEqual([drill.drillId]);
  const page = await getDrill('val', second.drillId, 'text/html');
  expect(page.text.match(/class="trend-point[^"]*"/g)).toHaveLength(2);
  expect((await listDrills('val')).drills.map((d) => d.drillId)).toEqual([second.drillId, drill.drillId]);
  const op = await stack.operation('val', drill.drillId);
  expect(op).toMatchObject({ kind: 'drill', status: 'succeeded' });
  expect(op.steps.length).toBe(drill.checks.length);
  expect((await stack.audit('val')).map((e) => e.action)).toEqual(
    expect.arrayContaining(['drill-started', 'drill-ended']),
  );
});

it('a validate drill fails, naming the check, when a standby falls silent; nothing is moved', async () => {
  const { b } = await healthyPair('val-silent');
  await b.kill('SIGKILL');
  await stack.until(
    'head-b silent for the detection window',
    () => stack.status('val-silent'),
    (s) => s.nodes.some((n: any) => n.nodeId === 'head-b' && n.lastHeartbeatAgeMs > 1600),
  );
  const started = await startDrill('val-silent', { mode: 'validate' });
  const drill = await report('val-silent', started.json.drillId);
  expect(drill.result).toBe('failed');
  expect(drill.reasons.join('\n')).toMatch(/standby-heartbeating \(head-b\)/);
  expect((await stack.status('val-silent')).lastDrill).toMatchObject({ result: 'failed' });
  expect((await stack.status('val-silent')).activeNodeId).toBe('head-a');
});

it('a switchover drill measures both directions and gives the active role back', async () => {
  await healthyPair('sw');
  const started = await startDrill('sw', { mode: 'switchover', targetNodeId: 'head-b' });
  expect(started.status).toBe(202);
  const drill = await report('sw', started.json.drillId);
  expect(drill.result).toBe('passed');
  expect(drill.legs.map((l: any) => [l.kind, l.from, l.to, l.status])).toEqual([
    ['make-active', 'head-a', 'head-b', 'succeeded'],
    ['make-active', 'head-b', 'head-a', 'succeeded'],
  ]);
  for (const leg of drill.legs) {
    const op = await stack.operation('sw', leg.operationId);
    // The report's RTO is the operation's own: request → the target verified active, which its steps span.
    expect(leg.rtoMs).toBe(op.rtoMs);
    expect(op.rtoMs).toBe(op.endedAt - op.createdAt);
    const lastStepEnd = Math.max(...op.steps.map((s: any) => s.endedAt ?? 0));
    expect(lastStepEnd).toBeLessThanOrEqual(op.endedAt);
    expect(op.steps[0].startedAt).toBeGreaterThanOrEqual(op.createdAt);
    expect(op).toMatchObject({
      drillId: drill.drillId,
      trigger: { kind: 'drill', reference: drill.drillId },
    });
  }
  expect(drill.legs[0].rpoMs).toBe(25);
  expect(drill.measured.rtoMs).toBe(Math.max(drill.legs[0].rtoMs, drill.legs[1].rtoMs));
  // back where it started, two epochs later
  await activeUnder(stack, 'sw', 'head-a', 3, ['head-b']);
});

it('a failover drill needs allowFailover and confirm; it silences the active, measures the real failover, and brings the old active back as standby', async () => {
  const { vm } = await healthyPair('fo', { drill: { allowFailover: true } });
  const unconfirmed = await startDrill('fo', { mode: 'failover' });
  expect(unconfirmed.status).toBe(422);
  expect(unconfirmed.json.error.code).toBe('ConfirmationRequired');

  const started = await startDrill('fo', { mode: 'failover', confirm: true });
  expect(started.status).toBe(202);
  const drill = await report('fo', started.json.drillId, 90_000);
  expect({ result: drill.result, reasons: drill.reasons }).toEqual({ result: 'passed', reasons: [] });
  expect(drill.legs).toHaveLength(1);
  const leg = drill.legs[0];
  expect(leg).toMatchObject({ kind: 'failover', from: 'head-a', to: 'head-b', status: 'succeeded' });
  const failover = await stack.operation('fo', leg.operationId);
  expect(failover).toMatchObject({ drillId: drill.drillId, trigger: { kind: 'detector' } });
  // measured from the silenced active's last heartbeat: at least the detection window
  expect(leg.rtoMs).toBe(failover.rtoMs);
  expect(leg.rtoMs).toBeGreaterThanOrEqual(1500);
  await activeUnder(stack, 'fo', 'head-b', 2, ['head-a']);
  const steps = (await stack.operation('fo', drill.drillId)).steps;
  expect(steps.map((s: { id: string }) => s.id)).toEqual(
    expect.arrayContaining(['silence', 'detection', 'restart-head-a', 'back-as-standby']),
  );
  expect(steps.every((s: { outcome: string }) => s.outcome !== 'running')).toBe(true);
  // The failover fenced head-a by powering its VM off; the drill started it again.
  expect(steps.find((s: { id: string }) => s.id === 'restart-head-a').detail).toMatchObject({
    started: true,
  });
  expect((await stack.vm(vm['head-a'] as string))?.powerState).toBe('running');
  // the drill's own failover does not count against the anti-flapping policy: a real failover right after runs
  const manual = await stack.failover('fo', { reason: 'after the drill' });
  expect(manual.status).toBe(202);
});

it('a failover drill is refused (422) unless the cluster allows it', async () => {
  await stack.declarePair('fo-no', { detection: FAST });
  const r = await startDrill('fo-no', { mode: 'failover', confirm: true });
  expect(r.status).toBe(422);
  expect(r.json.error.code).toBe('FailoverDrillNotAllowed');
  expect((await listDrills('fo-no')).drills).toEqual([]);
});

it('a drill never starts while another operation runs: recorded as skipped, with why', async () => {
  await stack.declarePair('busy', { detection: FAST });
  stack.startAgent('busy', 'head-a');
  stack.startAgent('busy', 'head-b', { promoteSleepMs: 4000 });
  await activeUnder(stack, 'busy', 'head-a', 1, ['head-b']);
  const moving = await stack.makeActive('busy', { nodeId: 'head-b', confirm: true });
  expect(moving.status).toBe(202);
  const skipped = await startDrill('busy', {});
  expect(skipped.status).toBe(409);
  expect(skipped.json.error).toMatchObject({ code: 'OperationRunning' });
  expect(skipped.json.error.message).toContain(moving.json.operationId);
  const listed = await listDrills('busy');
  expect(listed.drills[0]).toMatchObject({ drillId: skipped.json.error.drillId, result: 'skipped' });
  expect(listed.drills[0]!.reasons[0]).toContain(moving.json.operationId);
  expect((await stack.operation('busy', skipped.json.error.drillId)).status).toBe('refused');
  await stack.ended('busy', moving.json.operationId);
});

it('a real failover while a drill runs wins: the drill ends aborted, naming it, and the failover completes', async () => {
  await healthyPair('abort');
  // The active's region stops answering: the drill's power-state read of head-a waits for its 5 s limit.
  await stack.setRegionDown('azure', 'westeurope', 'hang');
  try {
    const started = await startDrill('abort', { mode: 'validate' });
    expect(started.status).toBe(202);
    const failover = await stack.failover('abort', { reason: 'head-a is down for real' });
    expect(failover.status).toBe(202);
    expect(failover.json.started).toBe(true);
    const drill = await report('abort', started.json.drillId);
    expect(drill.result).toBe('aborted');
    expect(drill.reasons[0]).toContain(failover.json.operationId);
    expect(drill.reasons[0]).toContain('head-a is down for real');
    expect(await stack.ended('abort', failover.json.operationId)).toMatchObject({ status: 'succeeded' });
    expect((await stack.status('abort')).lastDrill).toMatchObject({ result: 'aborted' });
  } finally {
    await stack.setRegionDown('azure', 'westeurope', null);
  }
});

it('answers bad drill requests with a named 4xx and starts nothing', async () => {
  await stack.declarePair('bad', { detection: FAST });
  const unknown = await startDrill('bad', { mode: 'chaos' });
  expect(unknown.status).toBe(422);
  expect(unknown.json.error.code).toBe('InvalidRequest');
  const extra = await startDrill('bad', { mode: 'validate', speed: 'ludicrous' });
  expect(extra.status).toBe(422);
  const target = await startDrill('bad', { mode: 'switchover', targetNodeId: 'head-z' });
  expect(target.status).toBe(422);
  expect(target.json.error.code).toBe('TargetNotInCluster');
  expect((await startDrill('ghost', {})).status).toBe(404);
  expect((await getDrill('bad', 'drill-none')).status).toBe(404);
  expect((await listDrills('bad')).drills).toEqual([]);
  const noKey = await request(`${stack.url}${paths.drills('bad')}`, { method: 'POST', body: {} });
  expect(noKey.status).toBe(401);
});

// Last: it deletes and re-creates the witness container that every cluster of the stack shares.
it('a validate drill fails with a named reason for each precondition broken in turn, and passes once it is mended', async () => {
  await stack.declarePair('broken', { detection: FAST, failover: { rpoObjectiveMs: 5000 }, sizes: true });
  stack.startAgent('broken', 'head-a', { replicationLagMs: 0 });
  let b = stack.startAgent('broken', 'head-b', { replicationLagMs: 25 });
  await activeUnder(stack, 'broken', 'head-a', 1, ['head-b']);
  const model = stack.cp.host.cloud!.simulator.model;
  const drill = async () => report('broken', (await startDrill('broken', { mode: 'validate' })).json.drillId);
  const failed = async (check: string) => {
    const d = await drill();
    expect({ check, result: d.result }).toEqual({ check, result: 'failed' });
    const bad = d.checks.filter((c: { outcome: string }) => c.outcome === 'failed');
    expect(
      bad.map((c: { name: string; nodeId?: string }) => `${c.name}${c.nodeId ? ` (${c.nodeId})` : ''}`),
    ).toEqual([check]);
    expect(d.reasons.join('\n')).toContain(check);
    return bad[0] as { detail: string };
  };
  const lagOf = (ms: number) =>
    stack.until(
      `head-b reporting a lag of ${ms} ms`,
      () => stack.status('broken'),
      (s) => s.nodes.some((n: any) => n.nodeId === 'head-b' && n.replicationLagMs === ms),
    );
  await lagOf(25);
  expect((await drill()).result).toBe('passed');

  // replication lag over the RPO objective
  b.setReplicationLag(9000);
  await lagOf(9000);
  expect((await failed('standby-within-rpo (head-b)')).detail).toMatch(/9000 ms over the 5000 ms objective/);
  b.setReplicationLag(25);
  await lagOf(25);

  // the standby's VM is deallocated and its size has no quota left in its region
  const vmB = [...model.vms.values()].find((v) => v.name === 'broken-head-b')!;
  const site = model.site('azure', vmB.region)!;
  const family = Object.keys(site.quotas).find((q) => /DSv5/i.test(q))!;
  const limit = site.quotas[family]!.limit;
  vmB.powerState = 'deallocated';
  site.quotas[family]!.limit = model.quotaUse(site)[family]!.used;
  expect((await failed('standby-startable (head-b)')).detail).toMatch(/no quota/);
  site.quotas[family]!.limit = limit;
  vmB.powerState = 'running';

  // no fence path: the active's region does not answer, so its VM cannot be powered off
  await stack.setRegionDown('azure', 'westeurope', 'refuse');
  try {
    await failed('fence-path (head-a)');
  } finally {
    await stack.setRegionDown('azure', 'westeurope', null);
  }

  // the standby falls silent
  await b.kill('SIGKILL');
  await stack.until(
    'head-b silent for the detection window',
    () => stack.status('broken'),
    (s) => s.nodes.some((n: any) => n.nodeId === 'head-b' && n.lastHeartbeatAgeMs > 1600),
  );
  await failed('standby-heartbeating (head-b)');

  // an agent without its promote hook
  b = stack.startAgent('broken', 'head-b', { replicationLagMs: 25, omitHooks: ['promote'] });
  const hooksOfB = (ok: (hooks: string[]) => boolean) =>
    stack.until(
      'head-b reporting its hooks',
      () => stack.status('broken'),
      (s) =>
        s.nodes.some(
          (n: any) =>
            n.nodeId === 'head-b' && Array.isArray(n.hooks) && n.lastHeartbeatAgeMs < 500 && ok(n.hooks),
        ),
    );
  await hooksOfB((hooks) => !hooks.includes('promote'));
  expect((await failed('hooks-present (head-b)')).detail).toMatch(/promote/);
  await b.kill('SIGKILL');
  b = stack.startAgent('broken', 'head-b', { replicationLagMs: 25 });
  await hooksOfB((hooks) => hooks.includes('promote'));
  await lagOf(25);

  // the witness container is gone
  const container = BlobServiceClient.fromConnectionString(
    stack.cp.settings.AzureWebJobsStorage!,
  ).getContainerClient(`${stack.cp.settings.TABLE_PREFIX!.toLowerCase()}-failover-witness`);
  await container.delete();
  try {
    expect((await failed('witness-writable')).detail).toMatch(/does not exist/);
  } finally {
    await container.createIfNotExists();
  }
  expect((await drill()).result).toBe('passed');
});
