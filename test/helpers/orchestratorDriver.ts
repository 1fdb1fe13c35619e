import type { OrchestrationContext } from 'durable-functions';
import { InvocationContext } from '@azure/functions';
import { flattenActions, type OrchestratorStateJson } from '../../devhost/durable/action';
import { event, EventType } from '../../devhost/durable/historyEvent';
import { planTurn, type Dispatch } from '../../devhost/durable/planTurn';
import type { LedgerEvent } from '../../devhost/durable/taskLedger';

// The real library's orchestrator runner (what df.app.orchestration registers), so replays behave as in production.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Orchestrator } = require('durable-functions/lib/src/orchestrations/Orchestrator') as {
  Orchestrator: new (fn: unknown) => {
    listen(): (trigger: unknown, context: InvocationContext) => Promise<unknown>;
  };
};

const DAY = 86_400_000;
const policy = { maximumShortTimerMs: 6 * DAY, longTimerIntervalMs: 3 * DAY };

export interface Turn {
  /** What this turn scheduled: activities (with their typed input), timers (with fireAt), sub-orchestrations. */
  dispatches: Dispatch[];
  done: boolean;
  output: unknown;
  error: string | undefined;
  customStatus: unknown;
}

type OrchestratorFn = (context: OrchestrationContext) => Generator<unknown, unknown, unknown>;

/**
 * An orchestrator test driver in the durabletask style: "given this history, expect these actions". It runs the
 * orchestrator through the real durable-functions replay and the devhost's turn planner (the same diff and
 * non-determinism checks the devhost applies), with no storage and no clock: the test scripts what happens between
 * turns — an activity's result, an event, a timer firing — and asserts what the next turn schedules.
 */
export class OrchestratorDriver {
  readonly history: LedgerEvent[] = [];
  #pending: LedgerEvent[] = [];
  #now: number;
  readonly #handler: (trigger: unknown, context: InvocationContext) => Promise<unknown>;

  constructor(
    fn: OrchestratorFn,
    private readonly options: { instanceId: string; input: unknown; startAt: number; activities: string[] },
  ) {
    this.#handler = new Orchestrator(fn).listen();
    this.#now = options.startAt;
    this.#pending.push(
      event(EventType.ExecutionStarted, this.#now, {
        Name: 'orchestrator',
        Input: JSON.stringify(options.input),
        OrchestrationInstance: { InstanceId: options.instanceId, ExecutionId: 'e1' },
      }),
    );
  }

  get now(): number {
    return this.#now;
  }

  /** Moves the orchestration's clock (the next turn's OrchestratorStarted time). */
  advanceTo(ms: number): this {
    if (ms < this.#now) throw new RangeError('time does not go backwards');
    this.#now = ms;
    return this;
  }

  completeActivity(taskId: number, result: unknown): this {
    this.#pending.push(
      event(EventType.TaskCompleted, this.#now, { TaskScheduledId: taskId, Result: JSON.stringify(result) }),
    );
    return this;
  }

  failActivity(taskId: number, message: string): this {
    this.#pending.push(
      event(EventType.TaskFailed, this.#now, { TaskScheduledId: taskId, Reason: message, Details: '' }),
    );
    return this;
  }

  raiseEvent(name: string, payload: unknown): this {
    this.#pending.push(
      event(EventType.EventRaised, this.#now, { Name: name, Input: JSON.stringify(payload) }),
    );
    return this;
  }

  /** Fires a timer the orchestrator created, advancing the clock to its fireAt first. */
  fireTimer(timer: Dispatch): this {
    if (timer.kind !== 'timer') throw new Error(`${timer.kind} is not a timer`);
    if (timer.fireAt > this.#now) this.#now = timer.fireAt;
    this.#pending.push(
      event(EventType.TimerFired, this.#now, {
        TimerId: timer.taskId,
        FireAt: new Date(timer.fireAt).toISOString(),
      }),
    );
    return this;
  }

  /** Runs one turn: the events scripted since the last turn are delivered, the orchestrator replays. */
  async turn(): Promise<Turn> {
    const oldCount = this.history.length;
    const delivered = [event(EventType.OrchestratorStarted, this.#now), ...this.#pending];
    this.#pending = [];
    const history = [...this.history, ...delivered];
    const trigger = {
      history: JSON.parse(
        JSON.stringify(history.map((e, i) => ({ ...e, IsPlayed: i < oldCount }))),
      ) as unknown,
      input: this.options.input,
      instanceId: this.options.instanceId,
      parentInstanceId: null,
      isReplaying: oldCount > 0,
      upperSchemaVersion: 1,
      upperSchemaVersionNew: 2,
      maximumShortTimerDuration: '6.00:00:00',
      longRunningTimerIntervalDuration: '3.00:00:00',
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    };
    const context = new InvocationContext({ invocationId: 'driver', functionName: 'orchestrator' });
    let state: OrchestratorStateJson;
    try {
      state = JSON.parse(JSON.stringify(await this.#handler(trigger, context))) as OrchestratorStateJson;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const marker = message.indexOf('$OutOfProcData$:');
      if (marker < 0) throw error;
      state = JSON.parse(message.slice(marker + '$OutOfProcData$:'.length)) as OrchestratorStateJson;
    }
    const plan = planTurn({
      instanceId: this.options.instanceId,
      history,
      actions: flattenActions(state.actions ?? []),
      now: this.#now,
      policy,
      catalog: { activities: new Set(this.options.activities), orchestrators: new Set() },
    });
    if (plan.failure) throw new Error(`the turn failed: ${plan.failure}`);
    this.history.push(...delivered, ...plan.scheduling);
    return {
      dispatches: plan.dispatches,
      done: state.isDone,
      output: state.output,
      error: state.error,
      customStatus: state.customStatus,
    };
  }
}

/** The one dispatch of a kind (and name) in a turn; fails the test when there is not exactly one. */
export function only(turn: Turn, kind: Dispatch['kind'], name?: string): Dispatch {
  const found = turn.dispatches.filter(
    (d) => d.kind === kind && (name === undefined || ('name' in d && d.name === name)),
  );
  if (found.length !== 1)
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, got ${JSON.stringify(turn.dispatches)}`);
  return found[0] as Dispatch;
}
