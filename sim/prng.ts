/**
 * A small seeded PRNG (mulberry32) so every simulated schedule is a pure function of its seed. Nothing in `sim/`
 * may call Math.random: all randomness flows from one of these.
 */
/** Cached once: a global lookup per call is measurably slow inside test sandboxes (vm contexts). */
const imul = Math.imul;
const log = Math.log;

export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = mix32(seed >>> 0) >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.float() * items.length)] as T;
  }

  /** Exponentially distributed with the given mean (inter-arrival times of a Poisson process). */
  exp(mean: number): number {
    return -mean * log(1 - this.float());
  }

  /** An independent stream, so adding draws to one actor does not shift every other actor's schedule. */
  fork(label: number): Prng {
    return new Prng(mix32((this.nextUint32() ^ imul(label + 1, 0x9e3779b1)) >>> 0));
  }
}

/** A 32-bit integer hash (the murmur3 finaliser): nearby seeds give unrelated streams. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
