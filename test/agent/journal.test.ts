import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, type AgentSettings } from '../../agent/agent';
import {
  FileActingJournal,
  journalFromEnv,
  type ActingJournal,
  type JournalRecord,
} from '../../agent/journal';
import { initialState, MemoryStateStore, StateKeeper } from '../../agent/state';
import {
  demote,
  FakeChecks,
  FakeControlPlane,
  FakeHooks,
  grant,
  memoryLogger,
  promote,
} from './helpers/fakes';
import { ManualClock } from './helpers/manualClock';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'agent-journal-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const read = (file: string): JournalRecord[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as JournalRecord);

describe('FileActingJournal', () => {
  it('opens an interval with start, extends it with ticks, closes it once with end', () => {
    const file = path.join(dir, 'j.jsonl');
    let now = 100n;
    const journal = new FileActingJournal(file, { cluster: 'c1', node: 'n1' }, () => (now += 10n));
    journal.stopped('nothing open'); // no record: no interval is open
    journal.acting(3);
    journal.acting(3);
    journal.acting(4); // carried to a new epoch: the old interval ends, a new one starts
    journal.stopped('the lease lapsed');
    journal.stopped('again');
    journal.close();
    const records = read(file);
    expect(records.map((r) => [r.t, r.epoch, r.mono])).toEqual([
      ['start', 3, '110'],
      ['tick', 3, '120'],
      ['end', 3, '130'],
      ['start', 4, '140'],
      ['end', 4, '150'],
    ]);
    expect(records[0]).toMatchObject({ cluster: 'c1', node: 'n1', pid: process.pid });
    expect(records[4]?.reason).toBe('the lease lapsed');
  });

  it('dates an end when the agent stopped acting, never before the last record', () => {
    const file = path.join(dir, 'ago.jsonl');
    let now = 1_000_000_000n;
    const journal = new FileActingJournal(file, { cluster: 'c', node: 'n' }, () => now);
    journal.acting(1);
    now += 5_000_000_000n; // 5 s later (a paused process runs again)
    journal.stopped('the lease lapsed', 3000);
    journal.acting(2);
    journal.stopped('demote', 60_000);
    journal.close();
    expect(read(file).map((r) => [r.t, r.mono])).toEqual([
      ['start', '1000000000'],
      ['end', '3000000000'],
      ['start', '6000000000'],
      ['end', '6000000000'],
    ]);
  });

  it('is off unless FAILOVER_AGENT_JOURNAL names a file', () => {
    expect(journalFromEnv({}, { cluster: 'c', node: 'n' })).toBeUndefined();
    const file = path.join(dir, 'env.jsonl');
    const journal = journalFromEnv({ FAILOVER_AGENT_JOURNAL: file }, { cluster: 'c', node: 'n' });
    expect(journal).toBeInstanceOf(FileActingJournal);
    journal?.acting(1);
    journal?.close();
    expect(read(file)).toHaveLength(1);
  });

  it('uses the monotonic clock shared by the processes of the machine (process.hrtime)', () => {
    const file = path.join(dir, 'mono.jsonl');
    const before = process.hrtime.bigint();
    const journal = new FileActingJournal(file, { cluster: 'c', node: 'n' });
    journal.acting(1);
    journal.close();
    const mono = BigInt(read(file)[0]?.mono ?? '0');
    expect(mono).toBeGreaterThanOrEqual(before);
    expect(mono).toBeLessThanOrEqual(process.hrtime.bigint());
  });
});

/** A journal that remembers what the agent told it (a `stopped` with no interval open is no record, as in the file). */
class MemoryJournal implements ActingJournal {
  readonly calls: string[] = [];
  #open = false;
  acting(epoch: number): void {
    this.#open = true;
    this.calls.push(`acting ${epoch}`);
  }
  readonly ago: number[] = [];
  stopped(reason: string, endedAgoMs = 0): void {
    if (this.#open) {
      this.calls.push(`stopped ${reason}`);
      this.ago.push(endedAgoMs);
    }
    this.#open = false;
  }
  close(): void {}
}

const settings: AgentSettings = {
  clusterId: 'bcm-head',
  nodeId: 'head-a',
  initialIntervalMs: 1000,
  jitterRatio: 0,
  maxBackoffMs: 30_000,
  fenceMarginMs: 0,
  shutdownTimeoutMs: 5000,
  demoteOnShutdown: true,
};

async function setup() {
  const clock = new ManualClock();
  const store = new MemoryStateStore();
  store.state = initialState('bcm-head', 'head-a');
  const controlPlane = new FakeControlPlane(clock);
  const journal = new MemoryJournal();
  // `paused` ms are added to what the agent reads of the clock, not to when its timers fire: a process that was
  // stopped runs its overdue timers late (ManualClock alone fires every timer at its own time).
  const skew = { paused: 0 };
  const skewed = {
    now: () => clock.now() + skew.paused,
    wallNow: () => clock.wallNow() + skew.paused,
    setTimer: (fn: () => void, ms: number) => clock.setTimer(fn, ms),
    clearTimer: (handle: Parameters<ManualClock['clearTimer']>[0]) => clock.clearTimer(handle),
  };
  const agent = new Agent({
    settings,
    client: controlPlane,
    checks: new FakeChecks(),
    hooks: new FakeHooks(),
    state: await StateKeeper.open(store, 'bcm-head', 'head-a'),
    writeStatus: () => Promise.resolve(),
    clock: skewed,
    log: memoryLogger().log,
    random: () => 0.5,
    journal,
  });
  return { clock, skew, controlPlane, journal, agent };
}

/** Lets the agent's loops run what the clock made due. */
const settle = async (agent: Agent) => {
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    await agent.idle();
  }
};

describe('the agent keeps the journal', () => {
  it('starts an interval when it becomes active and ticks each loop while its lease holds', async () => {
    const t = await setup();
    // Every heartbeat is answered with the lease (the first with the promotion): the loop keeps the interval going.
    t.controlPlane.defaultAnswer = { status: 200, json: grant(1, 4000, [promote(1)]) };
    await t.agent.start();
    await settle(t.agent);
    expect(t.agent.mayActAsActive()).toBe(true);
    expect(t.journal.calls[0]).toBe('acting 1');
    for (let i = 0; i < 3; i++) {
      t.clock.advance(1000);
      await settle(t.agent);
    }
    expect(t.journal.calls.filter((c) => c === 'acting 1').length).toBeGreaterThanOrEqual(4);
    expect(t.journal.calls.some((c) => c.startsWith('stopped'))).toBe(false);
    await t.agent.stop();
    expect(t.journal.calls.at(-1)).toMatch(/^stopped /);
  });

  it('closes the interval when the lease lapses, before the self-fence runs', async () => {
    const t = await setup();
    t.controlPlane.answer(grant(1, 4000, [promote(1)]));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    t.clock.advance(4000);
    await t.agent.idle();
    expect(t.journal.calls).toEqual(['acting 1', 'stopped the lease lapsed']);
    expect(t.journal.ago).toEqual([0]);
    expect(t.agent.mayActAsActive()).toBe(false);
  });

  it('dates the end at the lease end when the agent notices late (a process paused past its lease)', async () => {
    const t = await setup();
    t.controlPlane.answer(grant(1, 4000, [promote(1)]));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    // The lease timer runs 2.5 s late (SIGSTOP, then SIGCONT): the end is the lease's, not when it was written.
    t.skew.paused = 2500;
    t.clock.advance(4000);
    await t.agent.idle();
    expect(t.journal.calls).toEqual(['acting 1', 'stopped the lease lapsed']);
    expect(t.journal.ago).toEqual([2500]);
  });

  it('closes the interval when a demote command starts', async () => {
    const t = await setup();
    t.controlPlane.answer(grant(1, 4000, [promote(1)]), grant(1, 4000, [demote(1)]));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.journal.calls).toEqual(['acting 1', 'stopped demote: command from the control plane']);
  });

  it('never ticks for a standby, nor after the lease lapsed while heartbeats fail', async () => {
    const t = await setup();
    t.controlPlane.defaultAnswer = { fail: 'ECONNREFUSED' };
    await t.agent.start();
    t.clock.advance(5000);
    await settle(t.agent);
    expect(t.journal.calls).toEqual([]);
    await t.agent.stop();
  });
});
