/**
 * The client-side request budget for Azure Resource Manager, so the control plane throttles itself before ARM does
 * (a 429 from ARM can carry a Retry-After of many minutes). ARM meters requests with a token bucket per
 * subscription, region and principal: reads 250 burst + 25/s, writes 200 burst + 10/s. Pure: time is passed in,
 * nothing sleeps — a refused request gets the wait until a token is there, and the caller decides how to wait
 * (in a durable orchestration: a durable timer).
 */

export interface BucketLimits {
  /** Tokens the bucket holds when full (the burst allowed after a quiet period). */
  burst: number;
  /** Tokens added per second (the sustained rate). */
  perSecond: number;
}

export const ARM_READ_LIMITS: Readonly<BucketLimits> = Object.freeze({ burst: 250, perSecond: 25 });
export const ARM_WRITE_LIMITS: Readonly<BucketLimits> = Object.freeze({ burst: 200, perSecond: 10 });

export type BucketDecision =
  { admitted: true; remaining: number } | { admitted: false; retryAfterMs: number };

/**
 * A token bucket. Starts full; `now` is milliseconds on any monotonic-enough scale (a clock that goes back is
 * ignored). Counts in thousandths of a token per millisecond-rate, so integer limits and times add up exactly.
 */
export class TokenBucket {
  readonly limits: Readonly<BucketLimits>;
  /** Tokens × 1000: one millisecond adds `perSecond` units. */
  #units: number;
  #updatedAt: number;

  constructor(limits: BucketLimits, now: number) {
    if (!(limits.burst >= 1) || !(limits.perSecond > 0) || !Number.isFinite(limits.burst + limits.perSecond))
      throw new RangeError(
        `a token bucket needs burst >= 1 and perSecond > 0 (got ${JSON.stringify(limits)})`,
      );
    this.limits = Object.freeze({ ...limits });
    this.#units = limits.burst * 1000;
    this.#updatedAt = now;
  }

  /** Tokens available at `now` (fractional). */
  available(now: number): number {
    this.#refill(now);
    return this.#units / 1000;
  }

  /** Takes `cost` tokens if they are there; otherwise takes nothing and says how long until they will be. */
  tryTake(now: number, cost = 1): BucketDecision {
    if (!(cost > 0) || cost > this.limits.burst)
      throw new RangeError(`cost must be > 0 and <= the burst (${this.limits.burst}), got ${cost}`);
    this.#refill(now);
    const needed = cost * 1000;
    if (this.#units >= needed) {
      this.#units -= needed;
      return { admitted: true, remaining: Math.floor(this.#units / 1000) };
    }
    return {
      admitted: false,
      retryAfterMs: Math.max(1, Math.ceil((needed - this.#units) / this.limits.perSecond)),
    };
  }

  #refill(now: number): void {
    if (now <= this.#updatedAt) return;
    this.#units = Math.min(
      this.limits.burst * 1000,
      this.#units + (now - this.#updatedAt) * this.limits.perSecond,
    );
    this.#updatedAt = now;
  }
}

export type ArmRequestKind = 'read' | 'write';

export interface ArmThrottleScope {
  subscriptionId: string;
  /** The ARM region whose instance meters the requests (the caller's region; ARM meters per regional instance). */
  region: string;
}

export interface ArmThrottleOptions {
  now: () => number;
  reads?: BucketLimits;
  writes?: BucketLimits;
}

/** One pair of buckets (reads, writes) per subscription and region. Share one instance per process. */
export class ArmThrottle {
  readonly #now: () => number;
  readonly #reads: BucketLimits;
  readonly #writes: BucketLimits;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(options: ArmThrottleOptions) {
    this.#now = options.now;
    this.#reads = options.reads ?? ARM_READ_LIMITS;
    this.#writes = options.writes ?? ARM_WRITE_LIMITS;
  }

  /** Admits one request of `kind` in `scope` now, or says how long until it could be. */
  tryAcquire(scope: ArmThrottleScope, kind: ArmRequestKind): BucketDecision {
    const now = this.#now();
    const key = `${scope.subscriptionId.toLowerCase()}|${scope.region.toLowerCase()}|${kind}`;
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(kind === 'read' ? this.#reads : this.#writes, now);
      this.#buckets.set(key, bucket);
    }
    return bucket.tryTake(now);
  }
}

/** ARM counts GET and HEAD as reads, every other method as a write. */
export function armRequestKind(method: string): ArmRequestKind {
  const upper = method.toUpperCase();
  return upper === 'GET' || upper === 'HEAD' ? 'read' : 'write';
}
