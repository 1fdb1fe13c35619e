import {
  MAX_CLOCK_DRIFT_RATE,
  minDriftMarginMs,
  parseClusterDocument,
} from '../../shared/domain/clusterDocument';
import { makeScenario } from '../../sim/scenario';

describe('makeScenario', () => {
  it('draws a valid cluster document and the same scenario from the same seed', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const s = makeScenario(seed);
      expect(parseClusterDocument(s.document).ok).toBe(true);
      expect(makeScenario(seed)).toEqual(s);
      for (const clock of [...Object.values(s.agentClocks), s.controllerClock])
        expect(Math.abs(clock.drift)).toBeLessThanOrEqual(MAX_CLOCK_DRIFT_RATE);
      expect(s.detection.driftMarginMs).toBeGreaterThanOrEqual(minDriftMarginMs(s.detection.leaseMs));
    }
  });

  it('uses the smallest margin the schema accepts half the time', () => {
    let atMinimum = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const d = makeScenario(seed).detection;
      if (d.driftMarginMs === minDriftMarginMs(d.leaseMs)) atMinimum++;
    }
    expect(atMinimum).toBeGreaterThan(150);
    expect(atMinimum).toBeLessThan(250);
  });

  it('keeps one control-plane clock unless asked for skew between instances', () => {
    expect(new Set(makeScenario(5).controllerSkewMs)).toEqual(new Set([0]));
    const skewed = makeScenario(5, { controllerSkewMs: 50 });
    for (const skew of skewed.controllerSkewMs) expect(Math.abs(skew)).toBeLessThanOrEqual(50);
  });
});

describe('the drift margin the schema requires (found short by the simulation, seed 6826)', () => {
  it("outlasts the agent's lease when the agent's clock runs slow and the control plane's fast, both at the bound", () => {
    const rho = MAX_CLOCK_DRIFT_RATE;
    for (let leaseMs = 1000; leaseMs <= 300_000; leaseMs += 50) {
      const agentLeaseRealMs = leaseMs / (1 - rho);
      const controllerWaitRealMs = (leaseMs + minDriftMarginMs(leaseMs)) / (1 + rho);
      expect(controllerWaitRealMs).toBeGreaterThanOrEqual(agentLeaseRealMs);
    }
  });

  it('is about 2% of the lease, not 1%', () => {
    expect(minDriftMarginMs(4000)).toBe(81);
    expect(minDriftMarginMs(2750)).toBe(56);
  });
});
