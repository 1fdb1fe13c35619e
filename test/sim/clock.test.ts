import { DriftingClock } from '../../sim/clock';

describe('DriftingClock', () => {
  it('runs fast or slow by its drift from its own origin, and converts back to real time', () => {
    const fast = new DriftingClock(0.01, 1000);
    expect(fast.localAt(0)).toBe(1000);
    expect(fast.localAt(1000)).toBeCloseTo(2010, 9);
    expect(fast.realAt(fast.localAt(1234.5))).toBeCloseTo(1234.5, 9);
    const slow = new DriftingClock(-0.01, 0);
    expect(slow.realAt(990)).toBeCloseTo(1000, 9);
  });

  it('refuses to run backwards', () => {
    expect(() => new DriftingClock(-1, 0)).toThrow();
  });
});
