import type { ViolationKind } from '../../sim/checker';
import { BROKEN_RULES, correctRules, isBrokenRule, rulesFor, type BrokenRule } from '../../sim/rules';
import { runSimulation } from '../../sim/simulation';

/**
 * Each deliberately broken rule must be caught by the invariant checker within a few hundred seeds: first by the
 * check closest to the rule it breaks, and (all but one) eventually as two nodes holding the lease at once.
 */
interface Expectation {
  /** The check that catches it first. */
  kind: ViolationKind;
  within: number;
  /** Seeds within which two nodes' leases overlap (null: the window is narrower than any handover can be). */
  overlapWithin: number | null;
}

const EXPECTED: Record<BrokenRule, Expectation> = {
  'promote-without-waiting': { kind: 'lease-outlives-promotion', within: 200, overlapWithin: 200 },
  // agents that restart while active demote themselves under that epoch (as the product's agent does), so a power-off
  // no longer hands the old active the revoked epoch's grants; the overlap needs a rarer schedule: first at seed 1044
  // since the peer-promise model (before: 5471)
  'grant-after-revoke': { kind: 'store-history', within: 200, overlapWithin: 1100 },
  'agent-ignores-lease': { kind: 'action-outside-lease', within: 200, overlapWithin: 200 },
  // first overlap: seed 86
  'lease-from-receipt': { kind: 'action-outside-lease', within: 200, overlapWithin: 200 },
  'no-if-match': { kind: 'store-history', within: 200, overlapWithin: 200 },
  // needs a late demotion acknowledgement to meet a later failover of the cluster: first at seed 720 since the
  // peer-promise model (CP outages that take every instance down end the operations such acknowledgements meet)
  'fence-any-epoch': { kind: 'lease-outlives-promotion', within: 750, overlapWithin: 750 },
  // first overlap: seed 219 (the lease-outlives-promotion check sees it first, at seed 142)
  'agent-accepts-stale-grant': { kind: 'overlapping-leases', within: 250, overlapWithin: 250 },
  // first overlap: seed 134 (the standbys' promises hide the early promotion when the old active asked for them)
  'no-drift-margin': { kind: 'lease-outlives-promotion', within: 200, overlapWithin: 200 },
  // the pre-fix schema minimum (1% of the lease): promotes up to ~1% of the lease too early, fewer milliseconds than
  // the new active's first heartbeat round trip, so only check 3(b) sees it
  'single-clock-drift-margin': { kind: 'lease-outlives-promotion', within: 200, overlapWithin: null },
  // peer promises (first seeds: closest check / overlap)
  // a crash of a bound standby forgets its promise while the active still counts on it (2 / 46)
  'promise-not-persisted': { kind: 'action-without-promise', within: 200, overlapWithin: 200 },
  // the active's peer lease outlives the promise by the request's and the answer's delays (11 / 106)
  'promise-from-receive-time': { kind: 'action-outside-lease', within: 200, overlapWithin: 200 },
  // 3-node clusters, one peer cut off from the active: that peer is unbound and gets promoted (8 / 46)
  'peer-lease-some-peers': { kind: 'action-without-promise', within: 200, overlapWithin: 200 },
  // (13 / 30)
  'promotion-while-bound': { kind: 'bound-node-promoted', within: 200, overlapWithin: 200 },
};

const runs = new Map<string, ReturnType<typeof runSimulation>>();
function runOnce(rule: BrokenRule, seed: number) {
  const key = `${rule}/${seed}`;
  const cached = runs.get(key) ?? runSimulation({ seed, brokenRule: rule });
  runs.set(key, cached);
  return cached;
}

function firstSeedWith(rule: BrokenRule, kind: ViolationKind, within: number) {
  for (let seed = 1; seed <= within; seed++) {
    const run = runOnce(rule, seed);
    const violation = run.violations.find((v) => v.kind === kind);
    if (violation) return { seed: run.seed, violation, excerpt: run.excerpt };
  }
  return null;
}

describe('the checker catches each broken rule', () => {
  it.each(BROKEN_RULES.map((rule) => [rule, EXPECTED[rule]] as const))(
    '%s, reporting the seed and the violation',
    (rule, { kind, within }) => {
      const caught = firstSeedWith(rule, kind, within);
      expect(caught).not.toBeNull();
      expect(caught?.seed).toBeLessThanOrEqual(within);
      expect(caught?.violation.message).toEqual(expect.any(String));
      expect(caught?.excerpt.length).toBeGreaterThan(0);
    },
  );

  it.each(
    BROKEN_RULES.filter((rule) => EXPECTED[rule].overlapWithin !== null).map(
      (rule) => [rule, EXPECTED[rule].overlapWithin as number] as const,
    ),
  )('%s ends with two nodes holding the lease at once', (rule, within) => {
    const caught = firstSeedWith(rule, 'overlapping-leases', within);
    expect(caught?.violation.nodes).toHaveLength(2);
  });

  it('finds nothing on the same seeds with the correct rules', () => {
    for (let seed = 1; seed <= 100; seed++) expect(runSimulation({ seed }).violations).toEqual([]);
  });
});

describe('rulesFor', () => {
  it('runs the product rules unless told otherwise', () => {
    expect(rulesFor(undefined, { leaseMs: 4000 })).toBe(correctRules);
  });

  it('names only the known broken rules', () => {
    expect(isBrokenRule('no-if-match')).toBe(true);
    expect(isBrokenRule('no-such-rule')).toBe(false);
  });
});
