import {
  ARM_READ_LIMITS,
  ARM_WRITE_LIMITS,
  ArmThrottle,
  armRequestKind,
  TokenBucket,
} from '../../../../shared/providers/azure/armThrottle';

const T0 = Date.UTC(2030, 0, 1);
const scope = { subscriptionId: 'sub-1', region: 'westeurope' };

describe('TokenBucket', () => {
  it('admits a full burst at once, then refuses with the wait until the next token', () => {
    const bucket = new TokenBucket({ burst: 3, perSecond: 2 }, T0);
    expect([1, 2, 3].map(() => bucket.tryTake(T0).admitted)).toEqual([true, true, true]);
    expect(bucket.tryTake(T0)).toEqual({ admitted: false, retryAfterMs: 500 });
  });

  it('refills at the sustained rate and never beyond the burst', () => {
    const bucket = new TokenBucket({ burst: 3, perSecond: 2 }, T0);
    for (let i = 0; i < 3; i++) bucket.tryTake(T0);
    expect(bucket.available(T0 + 250)).toBeCloseTo(0.5);
    expect(bucket.tryTake(T0 + 250)).toEqual({ admitted: false, retryAfterMs: 250 });
    expect(bucket.tryTake(T0 + 500)).toEqual({ admitted: true, remaining: 0 });
    expect(bucket.available(T0 + 60_000)).toBe(3);
  });

  it('ignores a clock that goes backwards instead of minting tokens', () => {
    const bucket = new TokenBucket({ burst: 1, perSecond: 1 }, T0);
    bucket.tryTake(T0);
    expect(bucket.tryTake(T0 - 10_000).admitted).toBe(false);
    expect(bucket.available(T0)).toBe(0);
  });

  it('rejects limits and costs that make no sense', () => {
    expect(() => new TokenBucket({ burst: 0, perSecond: 1 }, T0)).toThrow(RangeError);
    expect(() => new TokenBucket({ burst: 1, perSecond: 0 }, T0)).toThrow(RangeError);
    expect(() => new TokenBucket({ burst: 2, perSecond: 1 }, T0).tryTake(T0, 3)).toThrow(RangeError);
  });
});

describe('ArmThrottle', () => {
  it('uses the documented ARM limits by default: reads 250 + 25/s, writes 200 + 10/s', () => {
    expect(ARM_READ_LIMITS).toEqual({ burst: 250, perSecond: 25 });
    expect(ARM_WRITE_LIMITS).toEqual({ burst: 200, perSecond: 10 });
  });

  it('keeps a burst of 500 writes at 200 at once and 10 per second after', () => {
    let now = T0;
    const throttle = new ArmThrottle({ now: () => now });
    const burst = Array.from({ length: 500 }, () => throttle.tryAcquire(scope, 'write'));
    expect(burst.filter((d) => d.admitted)).toHaveLength(200);
    expect(burst[200]).toEqual({ admitted: false, retryAfterMs: 100 });

    // The 300 refused writes are retried as fast as the client likes (every 10 ms) for 10 s of injected time.
    let pending = 300;
    let admitted = 200;
    for (let t = 10; t <= 10_000; t += 10) {
      now = T0 + t;
      while (pending > 0 && throttle.tryAcquire(scope, 'write').admitted) {
        pending--;
        admitted++;
      }
      expect(admitted).toBeLessThanOrEqual(200 + Math.floor((10 * t) / 1000));
    }
    expect(admitted).toBe(300);
  });

  it('gets all 500 writes through in 30 s when the caller waits out each retryAfterMs', () => {
    let now = T0;
    const throttle = new ArmThrottle({ now: () => now });
    let sent = 0;
    while (sent < 500) {
      const decision = throttle.tryAcquire(scope, 'write');
      if (decision.admitted) sent++;
      else now += decision.retryAfterMs;
    }
    expect(now - T0).toBe(30_000);
  });

  it('keeps separate budgets per subscription, region and kind', () => {
    const throttle = new ArmThrottle({
      now: () => T0,
      writes: { burst: 1, perSecond: 1 },
      reads: { burst: 1, perSecond: 1 },
    });
    expect(throttle.tryAcquire(scope, 'write').admitted).toBe(true);
    expect(throttle.tryAcquire(scope, 'write').admitted).toBe(false);
    expect(throttle.tryAcquire({ ...scope, subscriptionId: 'SUB-1' }, 'write').admitted).toBe(false);
    expect(throttle.tryAcquire(scope, 'read').admitted).toBe(true);
    expect(throttle.tryAcquire({ ...scope, region: 'northeurope' }, 'write').admitted).toBe(true);
    expect(throttle.tryAcquire({ ...scope, subscriptionId: 'sub-2' }, 'write').admitted).toBe(true);
  });

  it('counts GET and HEAD as reads and everything else as writes', () => {
    expect(['GET', 'head', 'POST', 'PATCH', 'PUT', 'DELETE'].map(armRequestKind)).toEqual([
      'read',
      'read',
      'write',
      'write',
      'write',
      'write',
    ]);
  });
});
