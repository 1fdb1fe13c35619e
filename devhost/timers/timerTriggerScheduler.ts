import { writeOutputBindings } from '../bindings/outputBindings';
import { toInvocationContext } from '../converters/toInvocationContext';
import { errorMessage } from '../errorLike';
import { Cron } from 'croner';
import type { LoadedApp } from '../app/loadFunctionsApp';
import { parseTimeSpan } from '../app/hostJson';
import { triggerKindOf, type RegisteredFunction } from '../app/registeredFunction';
import type { Clock } from '../clock';
import type { LogFn } from '../durable/engineContext';

/** A timer trigger's schedule: a 6-field NCRONTAB expression (seconds first, UTC) or a TimeSpan interval. */
export interface TimerSchedule {
  next(afterMs: number): number | undefined;
  describe(): string;
}

/** Parses an NCRONTAB expression with croner: six fields, seconds first; day-of-month AND day-of-week like NCrontab. */
export function parseSchedule(expression: string): TimerSchedule {
  const text = expression.trim();
  if (/^\d+(\.\d+)?:\d{2}:\d{2}$|^\d{2}:\d{2}:\d{2}$/.test(text)) {
    const interval = parseTimeSpan(text);
    if (interval <= 0) throw new Error(`Timer interval "${text}" must be positive`);
    return { next: (after) => after + interval, describe: () => `every ${text}` };
  }
  const fields = text.split(/\s+/);
  if (fields.length !== 6) {
    throw new Error(
      `"${text}" is not a 6-field NCRONTAB expression ({second} {minute} {hour} {day} {month} {day-of-week})`,
    );
  }
  const cron = new Cron(text, { timezone: 'UTC', paused: true, domAndDow: true });
  return {
    next: (after) => cron.nextRun(new Date(after))?.getTime(),
    describe: () => text,
  };
}

interface ScheduledTimer {
  fn: RegisteredFunction;
  schedule: TimerSchedule;
  next: number | undefined;
  last: number | undefined;
  running: boolean;
}

/**
 * Fires timer triggers. The handler receives `{isPastDue, schedule, scheduleStatus}`; `isPastDue` is true when the
 * invocation starts more than a second after its scheduled time. `runOnStartup` fires once at start.
 */
export class TimerTriggerScheduler {
  readonly #timers: ScheduledTimer[] = [];
  #handle: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(
    private readonly app: LoadedApp,
    private readonly clock: Clock,
    private readonly log: LogFn,
    /** Binding data for `durableClient` inputs, as the HTTP path gives them (`df.getClient(context)` in a timer). */
    private readonly durableClientData?: () => unknown,
    /** Functions switched off by the `AzureWebJobs.<name>.Disabled` app setting, as the Functions host honours it. */
    isDisabled: (name: string) => boolean = () => false,
  ) {
    for (const fn of app.functions.values()) {
      if (triggerKindOf(fn) !== 'timer') continue;
      if (isDisabled(fn.name)) {
        log('info', `timer ${fn.name} is disabled (AzureWebJobs.${fn.name}.Disabled)`);
        continue;
      }
      const schedule = parseSchedule(typeof fn.trigger.schedule === 'string' ? fn.trigger.schedule : '');
      this.#timers.push({ fn, schedule, next: schedule.next(clock.now()), last: undefined, running: false });
    }
  }

  get timers(): { name: string; schedule: string; next: number | undefined }[] {
    return this.#timers.map((t) => ({ name: t.fn.name, schedule: t.schedule.describe(), next: t.next }));
  }

  start(): void {
    for (const t of this.#timers) {
      if (t.fn.trigger.runOnStartup === true) this.#fire(t, this.clock.now(), false);
    }
    this.tick();
  }

  /** Fires what is due and arms a wake-up for the next occurrence. Called again when a manual clock moves. */
  tick(): void {
    if (this.#stopped) return;
    clearTimeout(this.#handle);
    const now = this.clock.now();
    for (const t of this.#timers) {
      if (t.next !== undefined && t.next <= now && !t.running) {
        const scheduled = t.next;
        t.next = t.schedule.next(now);
        this.#fire(t, scheduled, now - scheduled > 1000);
      }
    }
    const upcoming = this.#timers.map((t) => t.next).filter((n): n is number => n !== undefined);
    if (upcoming.length === 0) return;
    const delay = Math.min(Math.max(Math.min(...upcoming) - now, 10), 60_000);
    this.#handle = setTimeout(() => this.tick(), delay);
    this.#handle.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#handle);
    await Promise.allSettled([...this.#inFlight]);
  }

  #fire(t: ScheduledTimer, scheduledAt: number, isPastDue: boolean): void {
    t.running = true;
    const timerInfo = {
      isPastDue,
      schedule: { adjustForDST: false },
      scheduleStatus: {
        last: new Date(t.last ?? 0).toISOString(),
        next: new Date(t.next ?? scheduledAt).toISOString(),
        lastUpdated: new Date(this.clock.now()).toISOString(),
      },
    };
    const context = toInvocationContext(this.app.library, t.fn, this.log);
    const inputs = (context as { extraInputs: { set(binding: unknown, value: unknown): void } }).extraInputs;
    for (const input of t.fn.extraInputs) {
      if ((input.type === 'durableClient' || input.type === 'orchestrationClient') && this.durableClientData)
        inputs.set(input, this.durableClientData());
    }
    const run = (async () => {
      try {
        const result = await t.fn.callback(timerInfo, context);
        await writeOutputBindings({
          fn: t.fn,
          context,
          returnValue: result,
          env: this.app.env,
          now: this.clock.now(),
        });
      } catch (error) {
        this.log('error', `timer function ${t.fn.name} failed`, { error: errorMessage(error) });
      } finally {
        t.last = scheduledAt;
        t.running = false;
      }
    })();
    this.#inFlight.add(run);
    void run.finally(() => this.#inFlight.delete(run));
  }
}
