import {
  judgeDrill,
  predictRto,
  summarize,
  worst,
  type DrillCheck,
  type DrillLeg,
} from '../../../shared/domain/drills';

const check = (over: Partial<DrillCheck>): DrillCheck => ({
  name: 'standby-healthy',
  outcome: 'ok',
  startedAt: 0,
  durationMs: 1,
  detail: 'fine',
  ...over,
});
const leg = (over: Partial<DrillLeg>): DrillLeg => ({
  name: 'a → b',
  kind: 'make-active',
  operationId: 'op',
  from: 'a',
  to: 'b',
  status: 'succeeded',
  startedAt: 0,
  steps: [],
  ...over,
});
const objectives = { rtoMs: 10_000, rpoMs: 1000 };

describe('predictRto', () => {
  it('adds detection, fence, start, promote hook and verification, and lists the parts', () => {
    const p = predictRto({
      detectionWindowMs: 5000,
      fence: { method: 'lease-wait', expectedMs: 4500 },
      startMs: 0,
      promoteHookMs: 1200,
      verifyMs: 200,
    });
    expect(p.ms).toBe(10_900);
    expect(p.parts.map((x) => x.name)).toEqual([
      'detection window',
      'fence (lease-wait)',
      'start the standby',
      'promote hook (earlier runs)',
      'verification',
    ]);
  });
});

describe('judgeDrill', () => {
  it('passes a validate drill whose checks are ok or warn and whose prediction is within the objective', () => {
    expect(
      judgeDrill({
        mode: 'validate',
        checks: [check({}), check({ outcome: 'warn' })],
        legs: [],
        objectives,
        measured: { predictedRtoMs: 9000 },
      }),
    ).toEqual({ result: 'passed', reasons: [] });
  });

  it('fails with one reason per failed check (naming the node), and for a prediction over the objective', () => {
    const judged = judgeDrill({
      mode: 'validate',
      checks: [check({ outcome: 'failed', nodeId: 'b', detail: 'silent for 9 s' })],
      legs: [],
      objectives,
      measured: { predictedRtoMs: 12_000 },
    });
    expect(judged.result).toBe('failed');
    expect(judged.reasons).toEqual([
      'standby-healthy (b): silent for 9 s',
      'predicted RTO 12000 ms is over the 10000 ms objective',
    ]);
  });

  it('fails a switchover whose measured RTO or RPO missed, or whose leg did not succeed, or that moved nothing', () => {
    expect(
      judgeDrill({
        mode: 'switchover',
        checks: [],
        legs: [leg({ rtoMs: 11_000, rpoMs: 2000 }), leg({ status: 'failed', name: 'b → a' })],
        objectives,
        measured: { rtoMs: 11_000, rpoMs: 2000 },
      }).reasons,
    ).toEqual([
      'b → a: the make-active ended failed',
      'RTO 11000 ms is over the 10000 ms objective',
      'RPO 2000 ms is over the 1000 ms objective',
    ]);
    expect(judgeDrill({ mode: 'failover', checks: [], legs: [], objectives, measured: {} }).reasons).toEqual([
      'no role change was measured',
    ]);
  });
});

it('worst picks the largest figure present', () => {
  expect(worst([undefined, 3, 9, 1])).toBe(9);
  expect(worst([undefined])).toBeUndefined();
});

it('summarize keeps the index fields and the figures present', () => {
  const s = summarize({
    drillId: 'd',
    clusterId: 'c',
    mode: 'validate',
    trigger: { kind: 'schedule', reference: '2031-01-01T00:00:00.000Z' },
    actor: 'schedule',
    startedAt: 1,
    endedAt: 2,
    result: 'passed',
    reasons: [],
    objectives,
    measured: { predictedRtoMs: 5 },
    checks: [check({})],
    legs: [],
    history: [],
  });
  expect(s).toEqual({
    drillId: 'd',
    clusterId: 'c',
    mode: 'validate',
    trigger: { kind: 'schedule', reference: '2031-01-01T00:00:00.000Z' },
    startedAt: 1,
    endedAt: 2,
    result: 'passed',
    reasons: [],
    objectives,
    predictedRtoMs: 5,
  });
});
