/**
 * Runs `poll` until stopped. When a poll finds work it runs again at once; when idle it backs off from 5 ms up to
 * `maxIdleMs`. `wake()` cuts the wait short: the engine calls it whenever it enqueues work for this loop itself.
 */
export class PollLoop {
  #running = false;
  #wakeUp: (() => void) | undefined;
  #woken = false;
  #done: Promise<void> | undefined;

  constructor(
    private readonly name: string,
    private readonly poll: () => Promise<boolean>,
    private readonly maxIdleMs: number,
    private readonly onError: (name: string, error: unknown) => void,
  ) {}

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#done = this.#run();
  }

  wake(): void {
    this.#woken = true;
    this.#wakeUp?.();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.wake();
    await this.#done;
  }

  async #run(): Promise<void> {
    let idleMs = 5;
    while (this.#running) {
      this.#woken = false;
      let found = false;
      try {
        found = await this.poll();
      } catch (error) {
        this.onError(this.name, error);
        idleMs = Math.max(idleMs, 500);
      }
      if (!this.#running) break;
      if (found) {
        idleMs = 5;
        continue;
      }
      if (!this.#woken) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, idleMs);
          this.#wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wakeUp = undefined;
      }
      idleMs = this.#woken ? 5 : Math.min(idleMs * 2, this.maxIdleMs);
    }
  }
}

/** Runs at most `limit` tasks at once. */
export class Semaphore {
  #available: number;
  readonly #waiters: (() => void)[] = [];

  constructor(limit: number) {
    this.#available = limit;
  }

  get available(): number {
    return this.#available;
  }

  async acquire(): Promise<void> {
    if (this.#available > 0) {
      this.#available--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#available++;
  }
}
