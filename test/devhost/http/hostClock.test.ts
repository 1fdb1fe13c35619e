import path from 'node:path';
import { HOST_CLOCK_SYMBOL, ManualClock } from '../../../devhost/clock';
import { realGlobal } from '../../../devhost/realRequire';
import { startDevhost } from '../../../devhost/startDevhost';

const appDir = path.join(__dirname, '..', '..', 'fixtures', 'apps', 'clock-app');
const installed = () => (realGlobal as unknown as Record<symbol, unknown>)[HOST_CLOCK_SYMBOL];

describe("the app's host clock", () => {
  it('is the devhost clock while it runs: the app sees a manual clock and its advance, and it is removed on stop', async () => {
    expect(installed()).toBeUndefined();
    const clock = new ManualClock(Date.UTC(2030, 0, 1));
    const devhost = await startDevhost({ appDir, port: 0, storage: 'memory', clock, log: () => undefined });
    try {
      const read = async () =>
        ((await (await fetch(`${devhost.url}/api/now`)).json()) as { now: number }).now;
      expect(await read()).toBe(Date.UTC(2030, 0, 1));
      const res = await fetch(`${devhost.url}/admin/devhost/clock`, {
        method: 'POST',
        headers: { 'x-functions-key': devhost.keys.masterKey, 'content-type': 'application/json' },
        body: JSON.stringify({ advanceMs: 3_600_000 }),
      });
      expect(res.status).toBe(200);
      expect(await read()).toBe(Date.UTC(2030, 0, 1, 1));
    } finally {
      await devhost.stop();
    }
    expect(installed()).toBeUndefined();
  });

  it('leaves a clock another host installed since in place on stop', async () => {
    const clock = new ManualClock(Date.UTC(2030, 0, 1));
    const devhost = await startDevhost({ appDir, port: 0, storage: 'memory', clock, log: () => undefined });
    const other = { now: () => 1 };
    (realGlobal as unknown as Record<symbol, unknown>)[HOST_CLOCK_SYMBOL] = other;
    try {
      await devhost.stop();
      expect(installed()).toBe(other);
    } finally {
      delete (realGlobal as unknown as Record<symbol, unknown>)[HOST_CLOCK_SYMBOL];
    }
  });
});
