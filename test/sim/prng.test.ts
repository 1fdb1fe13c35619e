import { Prng, mix32 } from '../../sim/prng';

describe('Prng', () => {
  it('is a pure function of its seed', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const draws = Array.from({ length: 100 }, () => a.nextUint32());
    expect(Array.from({ length: 100 }, () => b.nextUint32())).toEqual(draws);
    expect(new Prng(43).nextUint32()).not.toBe(draws[0]);
  });

  it('stays within the asked bounds', () => {
    const rng = new Prng(7);
    for (let i = 0; i < 10_000; i++) {
      const f = rng.float();
      expect(f >= 0 && f < 1).toBe(true);
      const n = rng.int(2, 5);
      expect(Number.isInteger(n) && n >= 2 && n <= 5).toBe(true);
      const r = rng.range(-1, 1);
      expect(r >= -1 && r < 1).toBe(true);
      expect(rng.exp(10)).toBeGreaterThanOrEqual(0);
    }
  });

  it('spreads its draws evenly', () => {
    const rng = new Prng(1);
    const buckets = [0, 0, 0, 0];
    for (let i = 0; i < 40_000; i++) {
      const bucket = rng.int(0, 3);
      buckets[bucket] = (buckets[bucket] ?? 0) + 1;
    }
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(400);
    let sum = 0;
    for (let i = 0; i < 40_000; i++) sum += rng.exp(5);
    expect(sum / 40_000).toBeCloseTo(5, 0);
  });

  it('forks independent, reproducible streams', () => {
    const fork = (label: number) => new Prng(9).fork(label).nextUint32();
    expect(fork(1)).toBe(fork(1));
    expect(fork(1)).not.toBe(fork(2));
  });

  it('picks from a list, and refuses an empty one', () => {
    const rng = new Prng(3);
    expect(['x', 'y']).toContain(rng.pick(['x', 'y']));
    expect(() => rng.pick([])).toThrow(/empty/);
  });

  it('mixes nearby seeds apart', () => {
    expect(mix32(1)).not.toBe(mix32(2));
    expect(mix32(0)).toBe(0);
  });
});
