import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfiguredChecks } from '../../../agent/checks';
import { runReplicationCheck } from '../../../agent/checks/replication';
import { BOUNDS } from '../../../shared/contracts/bounds';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fp-agent-replication-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('replication checks', () => {
  const command = (script: string, more: { warnAboveMs?: number; failAboveMs?: number } = {}) =>
    runReplicationCheck({ name: 'replication', command: ['sh', '-c', script], timeoutMs: 5000, ...more });

  it('reads the lag in milliseconds from a command (its first number)', async () => {
    expect(await command('echo 1250')).toMatchObject({
      name: 'replication',
      status: 'ok',
      detail: 'lag 1250 ms',
      replicationLagMs: 1250,
    });
    expect(await command('echo "Seconds_Behind: x"; echo "lag_ms=42.6"')).toMatchObject({
      replicationLagMs: 43,
    });
    expect(await command(`echo ${2 ** 40}`)).toMatchObject({ replicationLagMs: BOUNDS.durationMs });
  });

  it('warns and fails above the thresholds, and still reports the lag', async () => {
    const limits = { warnAboveMs: 1000, failAboveMs: 5000 };
    expect(await command('echo 1000', limits)).toMatchObject({ status: 'ok', replicationLagMs: 1000 });
    expect(await command('echo 1001', limits)).toMatchObject({ status: 'warn', replicationLagMs: 1001 });
    expect(await command('echo 5001', limits)).toMatchObject({ status: 'fail', replicationLagMs: 5001 });
  });

  it('fails without a lag when the command fails or prints no number', async () => {
    const failed = await command('echo "replica not running" >&2; exit 2');
    expect(failed).toMatchObject({ status: 'fail', detail: 'exit 2: replica not running' });
    expect(failed.replicationLagMs).toBeUndefined();
    const silent = await command('echo unknown');
    expect(silent).toMatchObject({ status: 'fail', detail: 'no lag in the output: unknown' });
    expect(silent.replicationLagMs).toBeUndefined();
  });

  it("takes the lag from a file's age on the wall clock", async () => {
    const file = path.join(dir, 'applied');
    writeFileSync(file, '');
    const mtime = Date.UTC(2030, 0, 1, 12, 0, 0);
    utimesSync(file, mtime / 1000, mtime / 1000);
    const at = (now: number) => runReplicationCheck({ name: 'lag', file, timeoutMs: 1000 }, () => now);
    expect(await at(mtime + 7_500)).toMatchObject({ status: 'ok', replicationLagMs: 7500 });
    // A wall clock behind the file's time is no lag, never a negative one.
    expect(await at(mtime - 1000)).toMatchObject({ replicationLagMs: 0 });
    const missing = await runReplicationCheck({ name: 'lag', file: path.join(dir, 'nope'), timeoutMs: 1000 });
    expect(missing).toMatchObject({ status: 'fail', detail: expect.stringMatching(/ENOENT/) });
    expect(missing.replicationLagMs).toBeUndefined();
  });

  it('gives the round its lag, for the heartbeat', async () => {
    const round = await new ConfiguredChecks([
      { type: 'replication', name: 'replication', command: ['sh', '-c', 'echo 300'], timeoutMs: 5000 },
      { type: 'command', name: 'ping', command: ['sh', '-c', 'echo pong'], timeoutMs: 5000 },
    ]).run();
    expect(round.replicationLagMs).toBe(300);
    expect(round.checks.map((c) => [c.name, c.status])).toEqual([
      ['replication', 'ok'],
      ['ping', 'ok'],
    ]);
  });
});
