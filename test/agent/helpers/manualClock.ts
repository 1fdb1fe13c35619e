import type { Clock, TimerHandle } from '../../../agent/clock';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock that moves only when told: `advance(ms)` fires the timers that fall due, in order, each at its own time.
 * The monotonic time starts at 1000 (any origin would do); the wall time is a fixed date plus the monotonic time.
 */
export class ManualClock implements Clock {
  #now = 1000;
  #nextId = 0;
  readonly timers: Timer[] = [];

  constructor(private readonly wallOrigin = Date.parse('2026-11-22T12:00:00Z')) {}

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.wallOrigin + this.#now;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const timer = { id: ++this.#nextId, at: this.#now + Math.max(0, ms), fn };
    this.timers.push(timer);
    return { id: timer.id };
  }

  clearTimer(handle: TimerHandle): void {
    const index = this.timers.findIndex((t) => t.id === handle.id);
    if (index >= 0) this.timers.splice(index, 1);
  }

  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.clearTimer({ id: due.id });
      this.#now = Math.max(this.#now, due.at);
      due.fn();
    }
    this.#now = target;
  }
}
