import type { EngineContext } from './engineContext';

/** Moves due durable timers from the timers table to the control queue as TimerFired messages. */
export class TimerPoller {
  constructor(private readonly ctx: EngineContext) {}

  async poll(): Promise<boolean> {
    const { store, clock } = this.ctx;
    const due = await store.dueTimers(clock.now());
    for (const timer of due) {
      // Send before delete: a crash in between fires the timer twice, and the orchestration drops the duplicate.
      await store.sendControl(timer.message);
      await store.deleteTimer(timer.rowKey);
    }
    if (due.length > 0) this.ctx.wakeControl();
    return due.length > 0;
  }
}
