import path from 'node:path';
import { ManualClock, startDevhost, type Devhost } from '../../../devhost';
import { request, waitForInstance } from '../../helpers/durableHttp';

const appDir = path.resolve(__dirname, '../../fixtures/apps/durable');
const DAY = 24 * 3600 * 1000;
let host: Devhost;
let clock: ManualClock;

beforeAll(async () => {
  clock = new ManualClock(Date.UTC(2030, 0, 1));
  host = await startDevhost({ appDir, port: 0, storage: 'memory', clock, log: () => undefined });
});
afterAll(async () => {
  await host.stop();
});

async function start(name: string, input?: unknown) {
  const r = await request(`${host.url}/api/orchestrators/${name}`, {
    method: 'POST',
    key: host.keys.functionKeys.default,
    ...(input !== undefined ? { body: input } : {}),
  });
  expect(r.status).toBe(202);
  return r.json as { id: string; statusQueryGetUri: string };
}

/** The durable timers pending for an instance, read from the timers table. */
async function pendingTimers(instanceId: string): Promise<number[]> {
  const rows = host.engine!.store.timers.listEntities<{ Message: string }>();
  const fireAts: number[] = [];
  for await (const row of rows) {
    const message = JSON.parse(row.Message);
    if (message.instanceId === instanceId) fireAts.push(Date.parse(message.event.FireAt));
  }
  return fireAts;
}

async function waitForTimers(instanceId: string, count: number): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const timers = await pendingTimers(instanceId);
    if (timers.length >= count) return timers;
    if (Date.now() > deadline)
      throw new Error(`expected ${count} pending timer(s) for ${instanceId}, found ${timers.length}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('durable timers on an injected clock', () => {
  it('times out the human-interaction pattern when the timer fires first', async () => {
    const links = await start('Approval');
    const [fireAt] = await waitForTimers(links.id, 1);
    expect(fireAt).toBe(clock.now() + 3600_000);
    await waitForInstance(links.statusQueryGetUri, 10_000, (s) => s.runtimeStatus === 'Running');
    clock.advance(3600_000 - 1);
    // One millisecond early the timer is not due: it stays pending.
    expect(await pendingTimers(links.id)).toEqual([fireAt]);
    clock.advance(1);
    const status = await waitForInstance(links.statusQueryGetUri);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'timed out' });
  });

  it('splits a 10-day timer into 3-day segments and wakes exactly at the end', async () => {
    const startedAt = clock.now();
    const links = await start('LongSleep', 10);
    const segments: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [fireAt] = await waitForTimers(links.id, 1);
      segments.push((fireAt as number) - startedAt);
      clock.set(fireAt as number);
      await waitForTimerGone(links.id, fireAt as number);
    }
    // Segments of 3 days while more than 6 days remain, then the rest up to the final time (V3 long timers).
    expect(segments).toEqual([3 * DAY, 6 * DAY, 10 * DAY]);
    const status = await waitForInstance(links.statusQueryGetUri);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'woke after 10 days' });
  });
});

async function waitForTimerGone(instanceId: string, fireAt: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await pendingTimers(instanceId)).includes(fireAt)) {
    if (Date.now() > deadline) throw new Error(`timer at ${new Date(fireAt).toISOString()} never fired`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
