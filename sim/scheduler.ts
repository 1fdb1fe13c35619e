/**
 * The discrete-event scheduler: a binary min-heap of events keyed by simulated real time (ms, a float), ties broken
 * by insertion order, so a run is a pure function of the events scheduled. Nothing here reads a wall clock.
 */
interface Scheduled {
  at: number;
  seq: number;
  run: () => void;
}

export class Scheduler {
  private readonly heap: Scheduled[] = [];
  private seq = 0;
  private current = 0;
  private processed = 0;

  /** The simulated real time of the event being processed. */
  get now(): number {
    return this.current;
  }

  get eventsProcessed(): number {
    return this.processed;
  }

  /** Runs `run` at simulated time `at` (never in the past: an earlier `at` runs now, after what is already due). */
  at(at: number, run: () => void): void {
    const event: Scheduled = { at: at > this.current ? at : this.current, seq: this.seq++, run };
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as Scheduled;
      if (!before(event, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = event;
  }

  after(delayMs: number, run: () => void): void {
    this.at(this.current + delayMs, run);
  }

  /** Processes events in time order until none is left before `endAt`; the clock then reads `endAt`. */
  runUntil(endAt: number): void {
    const heap = this.heap;
    while (heap.length > 0 && (heap[0] as Scheduled).at < endAt) {
      const next = this.pop();
      this.current = next.at;
      this.processed++;
      next.run();
    }
    this.current = Math.max(this.current, endAt);
  }

  private pop(): Scheduled {
    const heap = this.heap;
    const top = heap[0] as Scheduled;
    const last = heap.pop() as Scheduled;
    if (heap.length > 0) {
      let i = 0;
      const n = heap.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const child = r < n && before(heap[r] as Scheduled, heap[l] as Scheduled) ? r : l;
        const c = heap[child] as Scheduled;
        if (!before(c, last)) break;
        heap[i] = c;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
