import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** The CLI, run from source (sucrase) as `npm run sim` runs it from dist. */
function cli(...args: string[]) {
  const root = path.resolve(__dirname, '../..');
  const run = spawnSync(process.execPath, ['-r', 'sucrase/register/ts', 'sim/cli.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
  });
  const lines = run.stdout.trim().split('\n');
  const last = lines[lines.length - 1] ?? '';
  return {
    status: run.status,
    lines,
    summary: last.startsWith('{') ? JSON.parse(last) : null,
    stderr: run.stderr,
  };
}

describe('sim/cli', () => {
  it('runs the seeds and ends with one JSON line of totals; exit 0 when safe', () => {
    const { status, lines, summary } = cli('--seeds', '5', '--from', '10');
    expect(status).toBe(0);
    expect(lines).toHaveLength(1);
    expect(summary).toEqual({
      seeds: 5,
      violations: 0,
      failovers: expect.any(Number),
      promotions: expect.any(Number),
      refusals: expect.any(Number),
      rollBacks: expect.any(Number),
      retries: expect.any(Number),
      actions: expect.any(Number),
      selfDemotions: expect.any(Number),
      selfDemotionReaffirms: expect.any(Number),
      peerLeaseIntervals: expect.any(Number),
      peerActions: expect.any(Number),
      promisesGranted: expect.any(Number),
      boundRefusals: expect.any(Number),
      peerConfirmations: expect.any(Number),
      cpOutages: expect.any(Number),
      longCpOutages: expect.any(Number),
      peerPartitions: expect.any(Number),
      simulatedHours: expect.any(Number),
      wallMs: expect.any(Number),
    });
    expect(summary.promotions).toBeGreaterThan(0);
  });

  it('reports each violating seed with a trace excerpt, and exits 1', () => {
    const { status, lines, summary } = cli(
      '--seeds',
      '3',
      '--broken',
      'promote-without-waiting',
      '--reports',
      '1',
    );
    expect(status).toBe(1);
    expect(summary).toMatchObject({ seeds: 3, brokenRule: 'promote-without-waiting' });
    expect(summary.violations).toBeGreaterThan(0);
    expect(lines[0]).toMatch(/^seed \d+: \d+ violation\(s\): \[\d [a-z-]+\]/);
    expect(lines).toContainEqual(expect.stringMatching(/trace before the first violation/));
  });

  it('replays one seed with its whole log', () => {
    const { status, lines } = cli('--seed', '6826', '--verbose', '--duration', '5000');
    expect(status).toBe(0);
    expect(lines[0]).toMatch(/^seed 6826: \d nodes/);
    expect(lines.some((l) => /→ cp \{"type":"heartbeat"/.test(l))).toBe(true);
    expect(lines).toContainEqual(expect.stringMatching(/^digest [0-9a-f]{8}$/));
  });

  it('forces peer leases on or off in every scenario', () => {
    const on = cli('--seeds', '4', '--peer-leases', 'on');
    expect(on.status).toBe(0);
    expect(on.summary).toMatchObject({ seeds: 4, violations: 0, peerLeases: true });
    expect(on.summary.promisesGranted).toBeGreaterThan(0);
    const off = cli('--seeds', '4', '--peer-leases', 'off');
    expect(off.summary).toMatchObject({ peerLeases: false, promisesGranted: 0, peerActions: 0 });
    expect(cli('--peer-leases', 'maybe').status).toBe(2);
  });

  it('refuses unknown arguments', () => {
    const { status, stderr } = cli('--broken', 'nope');
    expect(status).toBe(2);
    expect(stderr).toMatch(/unknown rule nope/);
  });
});
