import { ManualClock } from '../../../devhost';
import { InstanceIds } from '../../../orchestrations/contracts';
import { request } from '../../helpers/durableHttp';
import { agentRequest, startControlPlane, type ControlPlane } from '../../helpers/controlPlane';

/**
 * One clock: under a manual clock the app's "now" (leases, retryAt) and the durable timers are the same clock, so an
 * arbitration that must wait out the old active's lease waits exactly until the clock is moved past it. (With two
 * clocks, retryAt came from the system clock while timers ran on the manual one: a timer in the past, firing at once.)
 */
const T0 = Date.UTC(2031, 0, 1);
let clock: ManualClock;
let cp: ControlPlane;
const keys: Record<string, Buffer> = {};

beforeAll(async () => {
  clock = new ManualClock(T0);
  // This test is about arbitration alone: the failure detector, which the manual clock also drives, must not start a
  // failover of the silent active meanwhile. Switched off as on Azure, by the app setting.
  cp = await startControlPlane({ 'AzureWebJobs.failureDetector.Disabled': 'true' }, { clock });
  const document = {
    id: 'mc',
    kind: 'active-passive',
    nodes: [
      { id: 'head-a', role: 'active', site: { cloud: 'on-prem', region: 'hall-1' } },
      { id: 'head-b', role: 'standby', site: { cloud: 'on-prem', region: 'hall-2' } },
    ],
    // The active counts as silent after 1 s, while its lease runs 4 s (+ 0.5 s drift margin).
    detection: { heartbeatIntervalMs: 500, missedHeartbeats: 2, leaseMs: 4000, driftMarginMs: 500 },
    witness: { arbitrationWindowMs: 300 },
  };
  const declared = await request(`${cp.host.url}/api/v1/clusters/mc`, {
    method: 'PUT',
    key: cp.adminKey,
    body: document,
  });
  expect(declared.status).toBe(201);
  for (const node of ['head-a', 'head-b']) {
    const issued = await request(`${cp.host.url}/api/v1/clusters/mc/nodes/${node}/key`, {
      method: 'POST',
      key: cp.adminKey,
    });
    keys[node] = Buffer.from(issued.json.key, 'base64');
  }
});
afterAll(async () => {
  await cp.stop();
});

const signed = (nodeId: string, path: string, seq: number, body: unknown) =>
  agentRequest(`${cp.host.url}${path}`, {
    clusterId: 'mc',
    nodeId,
    key: keys[nodeId] as Buffer,
    seq,
    body,
    timestamp: clock.now(),
  });

async function instance(): Promise<{
  runtimeStatus: string;
  customStatus: any;
  output: any;
  history?: any[];
}> {
  const code = cp.host.keys.systemKeys.durabletask_extension;
  const id = InstanceIds.arbitration('mc', 1);
  const r = await request(
    `${cp.host.url}/runtime/webhooks/durabletask/instances/${id}?showHistory=true&code=${code}`,
  );
  return r.json ?? { runtimeStatus: 'absent', customStatus: null, output: null };
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

const timersOf = (status: { history?: any[] }) =>
  (status.history ?? []).filter((e) => e.EventType === 'TimerCreated' || e.EventType === 'TimerFired');

it("waits out the old active's lease on the host's clock: the wait fires when the clock passes it, not before", async () => {
  const heartbeat = await signed('head-a', '/api/v1/agent/heartbeat', 1, {
    role: 'active',
    epoch: 1,
    checks: [],
  });
  expect(heartbeat.json).toMatchObject({ role: 'active', lease: { durationMs: 4000 } });
  const status = (await request(`${cp.host.url}/api/v1/clusters/mc/status`, { key: cp.functionKey })).json;
  // The app recorded the lease on the manual clock, not the system clock.
  expect(Date.parse(status.leaseExpiresAt)).toBe(T0 + 4000);

  clock.advance(1500); // the active is silent past the detection window; its lease still runs
  const asking = signed('head-b', '/api/v1/agent/arbitrate', 1, { epoch: 1, checks: [] });
  await until('the vote', instance, (s) => s.customStatus?.votes?.includes('head-b'));
  clock.advance(400); // the gathering window ends: decide → waiting until the lease + margin

  const retryAt = T0 + 4000 + 500;
  const waiting = await until('the lease wait', instance, (s) =>
    timersOf(s).some((e) => e.EventType === 'TimerCreated' && Date.parse(e.FireAt) === retryAt),
  );
  expect(waiting.runtimeStatus).toBe('Running');

  clock.set(retryAt - 1); // one millisecond short: the wait must not fire
  const short = await instance();
  expect(short.runtimeStatus).toBe('Running');
  expect(
    timersOf(short).filter((e) => e.EventType === 'TimerFired' && Date.parse(e.FireAt) === retryAt),
  ).toEqual([]);

  clock.set(retryAt);
  const done = await until('the decision', instance, (s) => s.runtimeStatus === 'Completed');
  expect(done.output).toMatchObject({ outcome: 'decided', winner: 'head-b', epoch: 2 });
  expect((await asking).json).toMatchObject({ decision: 'won', epoch: 2, role: 'active' });
});
