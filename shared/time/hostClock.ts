/**
 * The app's one source of "now". A host may supply its clock by putting `{ now(): number }` on `globalThis` under
 * `Symbol.for('functions-host.clock')` before it loads the app (the devhost does, so `--clock manual` moves the
 * app's time and its durable timers together); Azure's host supplies none, and the system clock is used. Nothing
 * here knows which host it runs on: it asks for a clock and takes the default when none is given.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const HOST_CLOCK_SYMBOL: unique symbol = Symbol.for('functions-host.clock') as never;

export const systemClock: Clock = { now: () => Date.now() };

function isClock(value: unknown): value is Clock {
  return typeof value === 'object' && value !== null && typeof (value as Clock).now === 'function';
}

/** The clock the host supplied, read on every call (a host may install it after this module loads). */
export const hostClock: Clock = {
  now(): number {
    const supplied: unknown = (globalThis as Record<symbol, unknown>)[HOST_CLOCK_SYMBOL];
    return isClock(supplied) ? supplied.now() : Date.now();
  },
};
