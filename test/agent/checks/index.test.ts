import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfiguredChecks, runCheck } from '../../../agent/checks';

describe('runCheck', () => {
  it('runs a configured check of any type', async () => {
    const { result } = await runCheck({
      type: 'command',
      name: 'ping',
      command: ['sh', '-c', 'echo pong'],
      timeoutMs: 2000,
    });
    expect(result).toMatchObject({ name: 'ping', status: 'ok', detail: 'pong' });
  });
});

describe('ConfiguredChecks', () => {
  it('runs every check in parallel and gathers the GPUs for the heartbeat', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fp-agent-checks-'));
    // "a" only succeeds if "b" runs while it waits: run one after the other, "a" would fail.
    const round = await new ConfiguredChecks([
      {
        type: 'command',
        name: 'a',
        command: [
          'sh',
          '-c',
          `i=0; until [ -f ${dir}/b ]; do sleep 0.02; i=$((i+1)); [ $i -gt 250 ] && exit 2; done; echo a`,
        ],
        timeoutMs: 10_000,
      },
      { type: 'command', name: 'b', command: ['sh', '-c', `touch ${dir}/b; echo b`], timeoutMs: 5000 },
      { type: 'gpu', name: 'gpu', command: ['sh', '-c', 'echo "0, 50, 1, 2, 0"'], timeoutMs: 5000 },
    ]).run();
    rmSync(dir, { recursive: true, force: true });
    expect(round.checks.map((c) => [c.name, c.status, c.detail])).toEqual([
      ['a', 'ok', 'a'],
      ['b', 'ok', 'b'],
      ['gpu', 'ok', '1 GPU, busiest at 50%, no uncorrected ECC errors'],
    ]);
    expect(round.gpu).toEqual([
      { index: 0, utilizationPercent: 50, memoryUsedMiB: 1, memoryTotalMiB: 2, eccErrors: 0 },
    ]);
  });
});
