import { rmSync } from 'node:fs';
import { runChaos, type ChaosSummary } from '../../chaos/runChaos';

/**
 * The chaos harness's short profile (issue 13): a few seeded schedules of faults against the real stack — a devhost
 * child on Azurite on disk, the cloud simulator, three real agents per cluster behind fault proxies — while
 * failovers, make-actives, drills and duplicate webhooks are asked for; the checker reads what the nodes did.
 * Bounded to about two minutes. Then the proof that the checker can fail: the same harness with agents that ignore
 * their lease is caught.
 */

const quiet = process.env.CHAOS_LOG !== '1';
const log = (line: string) => {
  if (!quiet) process.stderr.write(`${line}\n`);
};

const summarize = (s: ChaosSummary) => JSON.stringify(s);

it('a short seeded chaos run: faults injected, failovers done, zero violations', async () => {
  const { summary, report } = await runChaos({
    seed: 20261201,
    schedules: 3,
    minutes: 1.2,
    clusters: 2,
    nodesPerCluster: 3,
    log,
  });
  // The violations first, with the seed and the schedule, should there be any.
  expect(report).toBe('');
  expect(summary.violations).toBe(0);
  // The harness did something: faults of several kinds, operator requests, new actives, acting recorded.
  expect(summary.faults).toBeGreaterThanOrEqual(10);
  expect(Object.keys(summary.faultsByKind).length).toBeGreaterThanOrEqual(4);
  expect(summary.actions).toBeGreaterThanOrEqual(5);
  expect(summary.failovers).toBeGreaterThanOrEqual(1);
  expect(summary.actingIntervals).toBeGreaterThanOrEqual(3);
  expect(summary.hookSteps).toBeGreaterThan(0);
  expect(summary.livenessWorstMs).toBeLessThanOrEqual(summary.livenessBoundMs);
  log(summarize(summary));
}, 300_000);

it('catches a deliberately broken agent that keeps acting after its lease lapsed (--broken ignore-lease)', async () => {
  const { summary, report } = await runChaos({
    seed: 3,
    schedules: 1,
    minutes: 0.4,
    clusters: 1,
    broken: 'ignore-lease',
    log,
  });
  expect(summary.faultsByKind.partition).toBeGreaterThanOrEqual(1);
  expect(summary.violationsByRule.overlap).toBeGreaterThanOrEqual(1);
  expect(report).toContain('--seed 3');
  expect(report).toMatch(/\[overlap\] chaos-1: two actives at once/);
  expect(summary.dir).toBeDefined(); // kept for a run with violations
  if (summary.dir) rmSync(summary.dir, { recursive: true, force: true });
  log(summarize(summary));
}, 180_000);
