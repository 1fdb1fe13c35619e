import { performance } from 'node:perf_hooks';

/**
 * The agent's sense of time. `now()` is monotonic (milliseconds, arbitrary origin): it times leases, timeouts and
 * backoff and never jumps with the wall clock. `wallNow()` is the Unix-epoch time used only for request timestamps
 * and for what people read (logs, the status file).
 */
export interface Clock {
  now(): number;
  wallNow(): number;
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export interface TimerHandle {
  readonly id: unknown;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  // Node's timers run on libuv's monotonic clock, like performance.now().
  setTimer: (fn, ms) => ({ id: setTimeout(fn, Math.max(0, ms)) }),
  clearTimer: (handle) => clearTimeout(handle.id as NodeJS.Timeout),
};

/** Resolves after `ms` on `clock`, or at once when `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clock.clearTimer(handle);
      resolve();
    };
    const handle = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
