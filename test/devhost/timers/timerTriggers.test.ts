import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../../devhost/clock';
import { realRequire } from '../../../devhost/realRequire';
import { startDevhost, type Devhost } from '../../../devhost/startDevhost';
import { waitFor } from '../../helpers/waitFor';

interface TimerInfo {
  isPastDue: boolean;
  schedule: { adjustForDST: boolean };
  scheduleStatus: { last: string; next: string; lastUpdated: string };
}
interface Invocation {
  fn: 'everySecond' | 'yearlyOnStartup';
  timer: TimerInfo;
}

const appDir = path.join(__dirname, '..', '..', 'fixtures', 'apps', 'timer-app');
// The fixture app runs on Node's real require and reads the real process.env; jest hands tests a copy.
const realEnv = (realRequire(__filename)('node:process') as NodeJS.Process).env;

describe('timer triggers on a manual clock', () => {
  const start = Date.UTC(2030, 0, 1, 0, 0, 0);
  const iso = (offsetMs: number) => new Date(start + offsetMs).toISOString();
  const clock = new ManualClock(start);
  const errors: string[] = [];
  let dir: string;
  let logFile: string;
  let devhost: Devhost;

  const invocations = (fn: Invocation['fn']): Invocation[] =>
    existsSync(logFile)
      ? readFileSync(logFile, 'utf8')
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => JSON.parse(line) as Invocation)
          .filter((entry) => entry.fn === fn)
      : [];
  const waitForInvocations = (fn: Invocation['fn'], count: number) =>
    waitFor(() => invocations(fn).length >= count && invocations(fn), {
      timeoutMs: 10_000,
      description: `${count} invocation(s) of ${fn} in ${logFile}`,
    });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'devhost-timers-'));
    logFile = path.join(dir, 'timer.log');
    realEnv.TIMER_LOG = logFile;
    devhost = await startDevhost({
      appDir,
      port: 0,
      storage: 'memory',
      clock,
      log: (level, message, fields) => {
        if (level === 'error') errors.push(`${message} ${JSON.stringify(fields)}`);
      },
    });
  });

  afterAll(async () => {
    await devhost?.stop();
    delete realEnv.TIMER_LOG;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(errors).toEqual([]);
  });

  it('schedules both timers from the manual clock', () => {
    expect(devhost.timers.timers).toEqual(
      expect.arrayContaining([
        { name: 'everySecond', schedule: '*/1 * * * * *', next: start + 1000 },
        { name: 'yearlyOnStartup', schedule: '0 0 0 1 1 *', next: Date.UTC(2031, 0, 1) },
      ]),
    );
  });

  it('fires a runOnStartup timer once at start, long before its schedule is due', async () => {
    const [startup] = await waitForInvocations('yearlyOnStartup', 1);
    expect(startup!.timer.isPastDue).toBe(false);
    expect(startup!.timer.scheduleStatus.next).toBe('2031-01-01T00:00:00.000Z');
    expect(startup!.timer.scheduleStatus.lastUpdated).toBe(iso(0));
    // The clock has not moved, so the per-second timer is not due yet.
    expect(invocations('everySecond')).toEqual([]);
  });

  it('fires the per-second timer, not past due, when the clock advances by one second', async () => {
    clock.advance(1000);
    const [first] = await waitForInvocations('everySecond', 1);
    expect(first!.timer).toEqual({
      isPastDue: false,
      schedule: { adjustForDST: expect.any(Boolean) },
      scheduleStatus: { last: expect.any(String), next: iso(2000), lastUpdated: iso(1000) },
    });
    expect(Number.isNaN(Date.parse(first!.timer.scheduleStatus.last))).toBe(false);
  });

  it('fires it once, past due, when the clock jumps ten seconds at once', async () => {
    clock.advance(10_000);
    const all = await waitForInvocations('everySecond', 2);
    expect(all).toHaveLength(2); // one catch-up invocation, not one per missed second
    expect(all[1]!.timer).toEqual({
      isPastDue: true,
      schedule: { adjustForDST: expect.any(Boolean) },
      scheduleStatus: { last: iso(1000), next: iso(12_000), lastUpdated: iso(11_000) },
    });
  });

  it('never fires the runOnStartup timer again', () => {
    expect(invocations('yearlyOnStartup')).toHaveLength(1);
  });
});

describe('a timer switched off by its AzureWebJobs.<name>.Disabled setting', () => {
  it('is not scheduled; the others are', async () => {
    const host = await startDevhost({
      appDir,
      port: 0,
      storage: 'memory',
      clock: new ManualClock(Date.UTC(2030, 5, 1)),
      env: { ...realEnv, 'AzureWebJobs.everySecond.Disabled': 'true', TIMER_LOG: '/dev/null' },
      log: () => undefined,
    });
    try {
      expect(host.timers.timers.map((t) => t.name)).toEqual(['yearlyOnStartup']);
    } finally {
      await host.stop();
    }
  });
});
