import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROMISES_FILE, PromiseStore, readBootId } from '../../../agent/peers/promiseStore';
import { promiseMarginMs } from '../../../shared/domain/peerPromises';
import { ManualClock } from '../helpers/manualClock';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fp-promises-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A machine: one CLOCK_MONOTONIC shared by its processes, each process with its own agent clock. */
function machine(bootId: string | null = 'boot-1') {
  let monotonic = 50_000;
  return {
    advance(ms: number, ...clocks: ManualClock[]) {
      monotonic += ms;
      for (const clock of clocks) clock.advance(ms);
    },
    reboot(id: string | null) {
      bootId = id;
      monotonic = 7;
    },
    open(clock: ManualClock, write?: (file: string, content: string) => Promise<void>) {
      return PromiseStore.open({
        dir,
        clusterId: 'c1',
        nodeId: 'n2',
        clock,
        monotonicMs: () => monotonic,
        bootId: () => bootId,
        ...(write ? { write } : {}),
      });
    },
  };
}

describe('PromiseStore', () => {
  it('persists promises and the closed epoch; a restart on the same boot keeps exactly what is left', async () => {
    const m = machine();
    const clock = new ManualClock();
    const store = await m.open(clock);
    store.record({ to: 'n1', epoch: 3, until: clock.now() + 5000 }, 5000);
    expect(store.closeEpoch(2)).toBe(true);
    expect(store.closeEpoch(1)).toBe(false);
    await store.persist();
    const saved = JSON.parse(readFileSync(path.join(dir, PROMISES_FILE), 'utf8')) as Record<string, unknown>;
    expect(saved).toMatchObject({
      bootId: 'boot-1',
      closedEpoch: 2,
      promises: [{ to: 'n1', epoch: 3, fullMs: 5000 }],
    });

    m.advance(1500, clock);
    // A new process: its agent clock starts elsewhere (here at 1000 again).
    const later = new ManualClock();
    const reopened = await m.open(later);
    expect(reopened.closedEpoch).toBe(2);
    expect(reopened.promises).toEqual([{ to: 'n1', epoch: 3, until: later.now() + 3500 }]);
  });

  it('after a reboot, or without a boot id, binds for the full promise again from the load (conservative)', async () => {
    const m = machine();
    const clock = new ManualClock();
    const store = await m.open(clock);
    const full = 4000 + promiseMarginMs(4000);
    store.record({ to: 'n1', epoch: 3, until: clock.now() + full }, full);
    await store.persist();
    m.advance(3000, clock);
    m.reboot('boot-2');
    const after = new ManualClock();
    const reopened = await m.open(after);
    expect(reopened.promises).toEqual([{ to: 'n1', epoch: 3, until: after.now() + full }]);

    // Unknown boot id on either side: the same.
    await reopened.persist();
    m.reboot(null);
    const unknown = await m.open(new ManualClock());
    expect(unknown.promises[0]?.until).toBe(1000 + full);
  });

  it('drops promises that ended before a restart on the same boot', async () => {
    const m = machine();
    const clock = new ManualClock();
    const store = await m.open(clock);
    store.record({ to: 'n1', epoch: 3, until: clock.now() + 1000 }, 1000);
    await store.persist();
    m.advance(1001, clock);
    expect((await m.open(new ManualClock())).promises).toEqual([]);
  });

  it('writes the memory as it is when the write starts, one write at a time, and reports a failed write', async () => {
    const m = machine();
    const clock = new ManualClock();
    const writes: string[] = [];
    let release: () => void = () => undefined;
    let fail = false;
    const store = await m.open(clock, (_file, content) => {
      writes.push(content);
      if (fail) return Promise.reject(new Error('EIO'));
      return new Promise((resolve) => (release = resolve));
    });
    store.record({ to: 'n1', epoch: 1, until: clock.now() + 1000 }, 1000);
    let done = false;
    const first = store.persist().then(() => (done = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(writes).toHaveLength(1);
    expect(done).toBe(false);
    release();
    await first;
    expect(done).toBe(true);
    fail = true;
    await expect(store.persist()).rejects.toThrow('EIO');
    // A failed write leaves the memory bound.
    expect(store.promises).toHaveLength(1);
  });

  it('refuses a file of another node, and a corrupt file (never silently forgets a promise)', async () => {
    const m = machine();
    writeFileSync(path.join(dir, PROMISES_FILE), '{"version":1,');
    await expect(m.open(new ManualClock())).rejects.toThrow(/not valid JSON/);
    writeFileSync(
      path.join(dir, PROMISES_FILE),
      JSON.stringify({
        version: 1,
        clusterId: 'c1',
        nodeId: 'n9',
        bootId: null,
        closedEpoch: 0,
        promises: [],
      }),
    );
    await expect(m.open(new ManualClock())).rejects.toThrow(/belongs to c1\/n9/);
  });

  it('reads the real boot id of this machine (or null where there is none)', () => {
    const id = readBootId();
    if (id !== null) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(readBootId('/nonexistent/boot_id')).toBeNull();
  });

  it('uses the real clocks by default: a same-boot reload keeps the end within a few ms', async () => {
    const clock = {
      now: () => performance.now(),
      wallNow: () => Date.now(),
      setTimer: () => ({ id: 0 }),
      clearTimer: () => undefined,
    };
    const store = await PromiseStore.open({ dir, clusterId: 'c1', nodeId: 'n2', clock });
    const until = clock.now() + 60_000;
    store.record({ to: 'n1', epoch: 1, until }, 60_000);
    await store.persist();
    const again = await PromiseStore.open({ dir, clusterId: 'c1', nodeId: 'n2', clock });
    expect(Math.abs((again.promises[0]?.until ?? 0) - until)).toBeLessThan(50);
  });
});
