/** The time source of the devhost. Durable timers, OrchestratorStarted timestamps and status times all read it. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * A clock that moves only when told to: tests advance it to fire a 90-day durable timer in milliseconds.
 * `devhost start --clock manual` exposes it through the admin endpoint `POST /admin/devhost/clock`.
 */
export class ManualClock implements Clock {
  #now: number;
  readonly #listeners = new Set<() => void>();

  constructor(startMs: number = Date.UTC(2030, 0, 1)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cannot advance a clock by ${ms} ms`);
    this.#now += ms;
    for (const listener of this.#listeners) listener();
  }

  set(ms: number): void {
    if (ms < this.#now) throw new RangeError('a manual clock never goes backwards');
    this.advance(ms - this.#now);
  }

  onAdvance(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

export function isManualClock(clock: Clock): clock is ManualClock {
  return clock instanceof ManualClock;
}

/** Where a host puts its clock for the app (`shared/time/hostClock.ts` reads it): `{ now(): number }`. */
export const HOST_CLOCK_SYMBOL = Symbol.for('functions-host.clock');

/**
 * Installs `clock` as the app's host clock on each of `globals`, returning the uninstaller, which removes it only
 * where it is still the installed one (a later host may have replaced it).
 */
export function installHostClock(clock: Clock, globals: readonly object[]): () => void {
  const targets = [...new Set(globals)] as Record<symbol, unknown>[];
  for (const target of targets) target[HOST_CLOCK_SYMBOL] = clock;
  return () => {
    for (const target of targets) if (target[HOST_CLOCK_SYMBOL] === clock) delete target[HOST_CLOCK_SYMBOL];
  };
}
