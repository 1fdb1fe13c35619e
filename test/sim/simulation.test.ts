import { minDriftMarginMs } from '../../shared/domain/clusterDocument';
import { BROKEN_RULES } from '../../sim/rules';
import { runSimulation, type SimResult } from '../../sim/simulation';
import type { Stats } from '../../sim/world';

/**
 * The safety sweep: thousands of seeded schedules with partitions, pauses, crashes, clock drift at the bounds,
 * duplicate triggers and racing controller instances — and not one violation of the invariant. The sweep also counts
 * what it exercised, so it cannot pass by simulating nothing.
 */
const SEEDS = 3000;

type Counters = Omit<Stats, 'opsByTrigger' | 'minHandoverGapMs' | 'minPromotionSlackMs'>;

interface Sweep {
  failures: string[];
  totals: Counters;
  triggers: Record<string, number>;
  minPromotionSlackMs: number;
  minHandoverGapMs: number;
  scenarios: {
    twoNodes: number;
    threeNodes: number;
    agentAtSlowBound: number;
    agentAtFastBound: number;
    controllerAtFastBound: number;
    marginAtSchemaMinimum: number;
    severalControllerInstances: number;
    witness: number;
    flappingGuard: number;
    leaseOnlyAgents: number;
    replication: number;
    peerLeases: number;
  };
}

function sweep(): Sweep {
  const result: Sweep = {
    failures: [],
    totals: {} as Counters,
    triggers: {},
    minPromotionSlackMs: Number.POSITIVE_INFINITY,
    minHandoverGapMs: Number.POSITIVE_INFINITY,
    scenarios: {
      twoNodes: 0,
      threeNodes: 0,
      agentAtSlowBound: 0,
      agentAtFastBound: 0,
      controllerAtFastBound: 0,
      marginAtSchemaMinimum: 0,
      severalControllerInstances: 0,
      witness: 0,
      flappingGuard: 0,
      leaseOnlyAgents: 0,
      replication: 0,
      peerLeases: 0,
    },
  };
  for (let seed = 1; seed <= SEEDS; seed++) {
    const run: SimResult = runSimulation({ seed });
    if (run.violations.length > 0)
      result.failures.push(
        [`seed ${seed}:`, ...run.violations.slice(0, 3).map((v) => v.message), ...run.excerpt].join('\n  '),
      );
    const { opsByTrigger, minHandoverGapMs, minPromotionSlackMs, ...counters } = run.stats;
    for (const [key, value] of Object.entries(counters) as [keyof Counters, number][])
      result.totals[key] = (result.totals[key] ?? 0) + value;
    for (const [key, value] of Object.entries(opsByTrigger))
      result.triggers[key] = (result.triggers[key] ?? 0) + value;
    result.minPromotionSlackMs = Math.min(result.minPromotionSlackMs, minPromotionSlackMs);
    result.minHandoverGapMs = Math.min(result.minHandoverGapMs, minHandoverGapMs);

    const s = run.scenario;
    const sc = result.scenarios;
    if (s.nodes.length === 2) sc.twoNodes++;
    else sc.threeNodes++;
    const drifts = Object.values(s.agentClocks).map((c) => c.drift);
    if (drifts.some((d) => d === -0.01)) sc.agentAtSlowBound++;
    if (drifts.some((d) => d === 0.01)) sc.agentAtFastBound++;
    if (s.controllerClock.drift === 0.01) sc.controllerAtFastBound++;
    if (s.detection.driftMarginMs === minDriftMarginMs(s.detection.leaseMs)) sc.marginAtSchemaMinimum++;
    if (s.controllerInstances > 1) sc.severalControllerInstances++;
    if (s.witness.enabled) sc.witness++;
    if (s.flappingGuard) sc.flappingGuard++;
    if (!s.dropsLeaseOnRefusal) sc.leaseOnlyAgents++;
    if (s.replication) sc.replication++;
    if (s.peerLeases) sc.peerLeases++;
  }
  return result;
}

describe(`the safety invariant over ${SEEDS} seeded schedules`, () => {
  const result = sweep();

  it('is never violated', () => {
    expect(result.failures).toEqual([]);
  });

  it('exercised failovers, promotions, fencing and arbitration', () => {
    const t = result.totals;
    expect(t.revokes).toBeGreaterThan(SEEDS * 5);
    expect(t.promotions).toBeGreaterThan(SEEDS * 5);
    expect(t.fencesConfirmed).toBeGreaterThan(SEEDS);
    expect(t.powerOffs).toBeGreaterThan(SEEDS);
    expect(t.demotesAcked).toBeGreaterThan(SEEDS);
    expect(t.reaffirms).toBeGreaterThan(SEEDS / 2);
    expect(t.actions).toBeGreaterThan(SEEDS * 100);
    expect(t.selfFences).toBeGreaterThan(SEEDS);
  });

  it('exercised the step rules beyond the happy path: refusals, make-active roll-backs, failover retries', () => {
    const t = result.totals;
    expect(t.refusals).toBeGreaterThan(SEEDS);
    expect(t.rollBacks).toBeGreaterThan(SEEDS / 20);
    expect(t.retries).toBeGreaterThan(SEEDS / 20);
    // make-actives stopped by the RPO check: the standbys report a replication lag in half the scenarios
    expect(t.replicationLagStops).toBeGreaterThan(SEEDS / 100);
  });

  it('exercised agents demoting themselves and the control plane reaffirming them under a new epoch', () => {
    const t = result.totals;
    expect(t.selfDemotions).toBeGreaterThan(SEEDS);
    // heartbeatService#asActive: reaffirm + grant in one If-Match write, after the active demoted itself
    expect(t.selfDemotionReaffirms).toBeGreaterThan(0);
    expect(t.selfDemotionReaffirms).toBeGreaterThan(SEEDS / 4);
    for (const trigger of ['detector', 'webhook', 'make-active', 'arbitration', 'resume'])
      expect(result.triggers[trigger] ?? 0).toBeGreaterThan(SEEDS / 4);
  });

  it('exercised partitions, pauses longer than the lease, crashes and a hostile network', () => {
    const t = result.totals;
    expect(t.partitions).toBeGreaterThan(SEEDS * 2);
    expect(t.agentPausesLongerThanLease).toBeGreaterThan(SEEDS);
    expect(t.agentCrashes).toBeGreaterThan(SEEDS);
    expect(t.controllerCrashes).toBeGreaterThan(SEEDS);
    expect(t.controllerPauses).toBeGreaterThan(SEEDS);
    expect(t.messagesLost).toBeGreaterThan(SEEDS * 10);
    expect(t.messagesDuplicated).toBeGreaterThan(SEEDS);
    expect(t.messagesLongDelayed).toBeGreaterThan(SEEDS);
    expect(t.storeRepliesLost).toBeGreaterThan(SEEDS);
  });

  it('exercised peer promises: promises, peer leases, bound standbys, control-plane outages of any length', () => {
    const t = result.totals;
    expect(t.promisesGranted).toBeGreaterThan(SEEDS * 4);
    expect(t.promisesRefused).toBeGreaterThan(SEEDS / 10);
    expect(t.peerLeaseIntervals).toBeGreaterThan(SEEDS / 2);
    expect(t.peerActions).toBeGreaterThan(SEEDS * 10);
    // standbys refusing a grant or a promote command while a promise binds them
    expect(t.boundRefusals).toBeGreaterThan(SEEDS / 2);
    // the detector holding off because a standby confirmed the silent active alive
    expect(t.peerConfirmations).toBeGreaterThan(SEEDS);
    expect(t.epochsClosed).toBeGreaterThan(SEEDS);
    expect(t.cpOutages).toBeGreaterThan(SEEDS * 2);
    expect(t.longCpOutages).toBeGreaterThan(SEEDS / 2);
    expect(t.peerPartitions).toBeGreaterThan(SEEDS * 2);
    expect(t.boundCrashes).toBeGreaterThan(SEEDS / 10);
    expect(t.promisesForgotten).toBe(0);
  });

  it('exercised the races the rules exist for', () => {
    const t = result.totals;
    expect(t.duplicateTriggers).toBeGreaterThan(SEEDS / 4);
    expect(t.casConflicts).toBeGreaterThan(SEEDS * 2);
    expect(t.staleGrantsRefused).toBeGreaterThan(10);
    expect(t.flappingGuardBlocks).toBeGreaterThan(SEEDS);
    expect(t.witnessBusy).toBeGreaterThan(SEEDS);
  });

  it('explored the configuration space, clocks at the drift bounds included', () => {
    const sc = result.scenarios;
    for (const count of [
      sc.twoNodes,
      sc.threeNodes,
      sc.agentAtSlowBound,
      sc.agentAtFastBound,
      sc.controllerAtFastBound,
      sc.marginAtSchemaMinimum,
      sc.severalControllerInstances,
      sc.witness,
      sc.flappingGuard,
      sc.leaseOnlyAgents,
      sc.replication,
      sc.peerLeases,
    ])
      expect(count).toBeGreaterThan(SEEDS / 5);
  });

  it("promoted within milliseconds of the old lease's end without ever promoting before it", () => {
    expect(result.minPromotionSlackMs).toBeGreaterThanOrEqual(0);
    expect(result.minPromotionSlackMs).toBeLessThan(20);
    expect(result.minHandoverGapMs).toBeGreaterThanOrEqual(0);
  });
});

describe('determinism', () => {
  const strip = (r: SimResult) => ({
    stats: r.stats,
    violations: r.violations,
    digest: r.digest,
    log: r.log,
  });

  it('gives the same trace and summary for the same seed', () => {
    for (const seed of [1, 42, 6826]) {
      const a = runSimulation({ seed, durationMs: 20_000, verbose: true });
      const b = runSimulation({ seed, durationMs: 20_000, verbose: true });
      expect(strip(b)).toEqual(strip(a));
      expect(a.log.length).toBeGreaterThan(50);
    }
  });

  it('gives the same violations for the same seed under a broken rule', () => {
    const a = runSimulation({ seed: 1, brokenRule: BROKEN_RULES[0] });
    const b = runSimulation({ seed: 1, brokenRule: BROKEN_RULES[0] });
    expect(a.violations.length).toBeGreaterThan(0);
    expect(strip(b)).toEqual(strip(a));
  });

  it('gives different schedules for different seeds', () => {
    const digests = new Set(
      [1, 2, 3, 4, 5].map((seed) => runSimulation({ seed, durationMs: 10_000 }).digest),
    );
    expect(digests.size).toBe(5);
  });
});
