import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  FileStateStore,
  lockStateDir,
  MAX_COMMAND_RECORDS,
  SequenceAllocator,
  StateKeeper,
  STATE_FILE,
} from '../../agent/state';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fp-agent-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const open = () => StateKeeper.open(new FileStateStore(dir), 'bcm-head', 'head-a');

describe('sequence numbers', () => {
  it('keep increasing across a restart', async () => {
    const first = new SequenceAllocator(await open(), 10);
    const used = [await first.next(), await first.next(), await first.next()];
    expect(used).toEqual([1, 2, 3]);
    const second = new SequenceAllocator(await open(), 10);
    const next = await second.next();
    expect(next).toBeGreaterThan(3);
  });

  it('are distinct and increasing when asked for concurrently (control-plane and peer requests share them)', async () => {
    const keeper = await open();
    const sequence = new SequenceAllocator(keeper, 4);
    const got = await Promise.all(Array.from({ length: 11 }, () => sequence.next()));
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(keeper.current.seqReserved).toBeGreaterThanOrEqual(11);
    expect(JSON.parse(readFileSync(path.join(dir, STATE_FILE), 'utf8')).seqReserved).toBeGreaterThanOrEqual(
      11,
    );
    const after = new SequenceAllocator(await open(), 4);
    expect(await after.next()).toBeGreaterThan(11);
  });

  it('are reserved on disk before they are used, so a crash right after reserving never reuses one', async () => {
    const keeper = await open();
    const sequence = new SequenceAllocator(keeper, 10);
    const first = await sequence.next();
    // The reservation of the whole block is on disk before the first number is handed out.
    expect(JSON.parse(readFileSync(path.join(dir, STATE_FILE), 'utf8')).seqReserved).toBe(10);
    const used = [first];
    for (let i = 0; i < 14; i++) used.push(await sequence.next()); // crosses into a second block
    expect(JSON.parse(readFileSync(path.join(dir, STATE_FILE), 'utf8')).seqReserved).toBe(20);
    // "Crash": the process is gone without saving anything more; a new one starts from the disk.
    const after = new SequenceAllocator(await open(), 10);
    const next = await after.next();
    expect(next).toBe(21);
    expect(Math.max(...used)).toBeLessThan(next);
  });

  it('a process killed right after a reservation starts above it on restart', async () => {
    // A real process reserves a block and is killed before it can do anything else.
    const script = `
      const { FileStateStore, StateKeeper, SequenceAllocator } = require(${JSON.stringify(path.resolve(__dirname, '../../dist/agent/state.js'))});
      (async () => {
        const keeper = await StateKeeper.open(new FileStateStore(${JSON.stringify(dir)}), 'bcm-head', 'head-a');
        const seq = new SequenceAllocator(keeper, 100);
        const used = [await seq.next(), await seq.next()];
        process.stdout.write(JSON.stringify(used) + '\\n');
        setInterval(() => undefined, 1000);
      })();`;
    if (!existsSync(path.resolve(__dirname, '../../dist/agent/state.js')))
      throw new Error('dist/agent/state.js is missing: run "npm run build" first (npm test does)');
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const used = await new Promise<number[]>((resolve) =>
      child.stdout.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString()) as number[])),
    );
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const next = await new SequenceAllocator(await open(), 100).next();
    expect(used).toEqual([1, 2]);
    expect(next).toBe(101);
  });

  it('go on above a number the control plane says it accepted already', async () => {
    const sequence = new SequenceAllocator(await open(), 10);
    await sequence.next();
    sequence.advancePast(500);
    expect(await sequence.next()).toBe(501);
    sequence.advancePast(7); // never goes back
    expect(await sequence.next()).toBe(502);
    expect(JSON.parse(readFileSync(path.join(dir, STATE_FILE), 'utf8')).seqReserved).toBeGreaterThanOrEqual(
      502,
    );
  });
});

describe('the state file', () => {
  it('keeps the highest epoch, the demoted epoch and the commands across a restart', async () => {
    const keeper = await open();
    await keeper.update((s) => {
      s.highestEpoch = 7;
      s.demotedEpoch = 6;
      s.commands.push({ id: 'demote-6', type: 'demote', epoch: 6, status: 'ok', at: '2026-11-22T12:00:00Z' });
    });
    const again = await open();
    expect(again.current).toMatchObject({ highestEpoch: 7, demotedEpoch: 6, commands: [{ id: 'demote-6' }] });
  });

  it('is replaced atomically, readable only by its owner, with no temporary file left behind', async () => {
    const keeper = await open();
    await Promise.all([1, 2, 3].map((n) => keeper.update((s) => void (s.highestEpoch = n))));
    expect(readdirSync(dir)).toEqual([STATE_FILE]);
    expect(statSync(path.join(dir, STATE_FILE)).mode & 0o777).toBe(0o600);
    expect((await open()).current.highestEpoch).toBe(3);
  });

  it('keeps a bounded number of command records', async () => {
    const keeper = await open();
    for (let i = 0; i < MAX_COMMAND_RECORDS + 5; i++)
      await keeper.update((s) => {
        s.commands.push({ id: `c-${i}`, type: 'demote', epoch: 1, status: 'ok', at: '' });
      });
    expect(keeper.current.commands).toHaveLength(MAX_COMMAND_RECORDS);
    expect(keeper.current.commands[0]?.id).toBe('c-5');
  });

  it('refuses the state of another node, and a damaged file', async () => {
    await (await open()).update((s) => void (s.highestEpoch = 1));
    await expect(StateKeeper.open(new FileStateStore(dir), 'bcm-head', 'head-b')).rejects.toThrow(
      'the state directory belongs to bcm-head/head-a, not bcm-head/head-b: give each node its own stateDir',
    );
    writeFileSync(path.join(dir, STATE_FILE), '{"version": 1}');
    await expect(open()).rejects.toThrow(/is not a valid agent state/);
  });
});

describe('the state directory lock', () => {
  it('lets one agent in, refuses a second while the first runs, and takes over a lock left by a dead one', async () => {
    const first = await lockStateDir(dir);
    expect(first.ok).toBe(true);
    // A lock held by another live process.
    writeFileSync(path.join(dir, 'agent.lock'), `${process.ppid}\n`);
    expect(await lockStateDir(dir)).toEqual({ ok: false, pid: process.ppid });
    // A lock left by a process that is gone.
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => gone.once('exit', resolve));
    writeFileSync(path.join(dir, 'agent.lock'), `${gone.pid ?? 0}\n`);
    const taken = await lockStateDir(dir);
    expect(taken.ok).toBe(true);
    if (taken.ok) await taken.release();
    expect(existsSync(path.join(dir, 'agent.lock'))).toBe(false);
  });
});
