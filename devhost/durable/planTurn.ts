import {
  ActionType,
  consumesTaskId,
  isRetryAction,
  isSubOrchestrationAction,
  scheduledNameOf,
  type ActionJson,
  type HttpRequestJson,
  type RetryOptionsJson,
} from './action';
import { event, EventType, isFailure } from './historyEvent';
import { TaskLedger, type LedgerEvent } from './taskLedger';

export interface TimerPolicy {
  /** Timers further out than this become long timers (V3): "6.00:00:00". */
  maximumShortTimerMs: number;
  /** Segment length of a long timer: "3.00:00:00". */
  longTimerIntervalMs: number;
}

export interface FunctionCatalog {
  activities: ReadonlySet<string>;
  orchestrators: ReadonlySet<string>;
}

export type Dispatch =
  | { kind: 'activity'; taskId: number; name: string; input: unknown }
  | { kind: 'http'; taskId: number; request: HttpRequestJson }
  | {
      kind: 'subOrchestration';
      taskId: number;
      name: string;
      instanceId: string;
      input: unknown;
      version?: string;
    }
  | { kind: 'timer'; taskId: number; fireAt: number }
  /** A retry attempt that is not run because the retry timeout has passed: it fails at once. */
  | { kind: 'failNow'; taskId: number; subOrchestration: boolean; reason: string };

export interface TurnPlan {
  /** New scheduling events, appended to the history after this turn's delivered events. */
  scheduling: LedgerEvent[];
  dispatches: Dispatch[];
  /** Set when the turn must fail the instance (non-determinism, unknown function, unsupported action). */
  failure?: string;
  /** DTFx `HasOpenTasks`: scheduled work not yet answered, timers not canceled and not fired. */
  hasOpenTasks: boolean;
}

export interface PlanInput {
  instanceId: string;
  /**
   * The current execution's id; an auto-generated sub-orchestration id is `<executionId>:<sequence id>` (DTFx
   * `CreateSubOrchestrationInstanceCore`), so the children of a continued or restarted parent never reuse ids.
   * Default: the ExecutionStarted event's `OrchestrationInstance.ExecutionId`.
   */
  executionId?: string;
  /** The execution's history including this turn's OrchestratorStarted and delivered events. */
  history: readonly LedgerEvent[];
  /** `OrchestratorState.actions` flattened (see `flattenActions`). */
  actions: readonly ActionJson[];
  /** The one event of this turn that makes the library hand out an id on its own (see `classifyEvent`). */
  expandingEvent?: LedgerEvent;
  now: number;
  policy: TimerPolicy;
  catalog: FunctionCatalog;
}

export type EventClass = 'normal' | 'expanding' | 'duplicate' | 'early';

/**
 * Classifies a delivered event against the history. "expanding" events make the library allocate a sequence id
 * by itself (a failed retry attempt, a retry timer with attempts left, a long-timer segment short of the end);
 * the devhost runs each such event as the last one of a turn so that it knows which ids the library gave out.
 */
export function classifyEvent(ledger: TaskLedger, e: LedgerEvent, now: number): EventClass {
  if (e.EventType === EventType.EventRaised) {
    return e._MessageId && ledger.raisedMessageIds.has(e._MessageId) ? 'duplicate' : 'normal';
  }
  const id =
    e.EventType === EventType.TimerFired
      ? e.TimerId
      : isCompletion(e.EventType)
        ? e.TaskScheduledId
        : undefined;
  if (id === undefined) return 'normal';
  const scheduled = ledger.scheduled.get(id);
  if (!scheduled) return 'early';
  if (ledger.completions.has(id)) return 'duplicate';
  if (isFailure(e) && scheduled._Retry) return 'expanding';
  if (e.EventType === EventType.TimerFired) {
    if (scheduled._Role === 'retryTimer') return scheduled._GiveUp ? 'normal' : 'expanding';
    if (scheduled._FinalFireAt !== undefined && Date.parse(scheduled._FinalFireAt) > now) return 'expanding';
  }
  return 'normal';
}

const isCompletion = (t: EventType) =>
  t === EventType.TaskCompleted ||
  t === EventType.TaskFailed ||
  t === EventType.SubOrchestrationInstanceCompleted ||
  t === EventType.SubOrchestrationInstanceFailed;

function expectedEventType(action: ActionJson): EventType {
  switch (action.actionType) {
    case ActionType.CreateTimer:
      return EventType.TimerCreated;
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry:
      return EventType.SubOrchestrationInstanceCreated;
    case ActionType.CallEntity:
    case ActionType.SignalEntity:
      return EventType.EventSent;
    default:
      return EventType.TaskScheduled;
  }
}

function describe(type: EventType, name: string, id: number): string {
  const kind =
    type === EventType.TimerCreated
      ? 'a timer'
      : type === EventType.SubOrchestrationInstanceCreated
        ? 'a sub-orchestration'
        : type === EventType.EventSent
          ? 'an entity operation'
          : 'an activity task';
  return type === EventType.TimerCreated
    ? `${kind} with sequence ID ${id}`
    : `${kind} with sequence ID ${id} and name '${name}' (version '')`;
}

/** The DTFx wording, so that users recognise it from production. */
export function nonDeterminismMessage(previous: string, current?: string): string {
  const tail = current
    ? `but the current replay execution scheduled ${current} instead`
    : "but the current replay execution hasn't (yet?) scheduled this task";
  return (
    `Non-Deterministic workflow detected: A previous execution of this orchestration scheduled ${previous}, ${tail}. ` +
    'Was a change made to the orchestrator code after this instance had already started running?'
  );
}

/**
 * The replay check and diff of one orchestrator turn (spec §5): matches the actions the orchestrator produced
 * against the scheduling events in its history by sequence id, creates scheduling events and dispatches for new
 * actions, expands retries and long timers, and reports whether tasks remain open. Pure: no I/O, time is an input.
 */
export function planTurn(input: PlanInput): TurnPlan {
  const ledger = new TaskLedger(input.history);
  const scheduling: LedgerEvent[] = [];
  const dispatches: Dispatch[] = [];
  const { now } = input;
  const taskActions = input.actions.filter(consumesTaskId);
  const append = (e: LedgerEvent) => {
    ledger.add(e);
    scheduling.push(e);
  };
  const fail = (failure: string): TurnPlan => ({
    scheduling: [],
    dispatches: [],
    failure,
    hasOpenTasks: false,
  });

  for (let index = 0; index < taskActions.length; index++) {
    const action = taskActions[index] as ActionJson;
    const name = scheduledNameOf(action);
    const expectedType = expectedEventType(action);
    const existing = ledger.byAction.get(index)?.[0];
    if (existing) {
      const sameName = (existing.Name ?? '').toLowerCase() === name.toLowerCase();
      if (existing.EventType !== expectedType || (expectedType !== EventType.TimerCreated && !sameName)) {
        return fail(
          nonDeterminismMessage(
            describe(existing.EventType, existing.Name ?? '', existing.EventId),
            describe(expectedType, name, existing.EventId),
          ),
        );
      }
      continue;
    }
    const problem = unsupportedOrUnknown(action, input.catalog);
    if (problem) return fail(problem);
    const id = ledger.nextId;
    const scheduled = scheduleFirst(action, id, index, now, input);
    append(scheduled.event);
    dispatches.push(scheduled.dispatch);
  }
  for (const [index, events] of ledger.byAction) {
    if (index >= taskActions.length) {
      const first = events[0] as LedgerEvent;
      return fail(nonDeterminismMessage(describe(first.EventType, first.Name ?? '', first.EventId)));
    }
  }

  if (input.expandingEvent) {
    const expansion = expand(input.expandingEvent, ledger, taskActions, input);
    if (expansion) {
      append(expansion.event);
      dispatches.push(expansion.dispatch);
    }
  }

  let hasOpenTasks = false;
  for (const [id, scheduled] of ledger.scheduled) {
    if (!ledger.isOpen(id)) continue;
    const action = scheduled._ActionIndex === undefined ? undefined : taskActions[scheduled._ActionIndex];
    if (
      scheduled.EventType === EventType.TimerCreated &&
      scheduled._Role !== 'retryTimer' &&
      action?.isCanceled
    )
      continue;
    hasOpenTasks = true;
    break;
  }
  return { scheduling, dispatches, hasOpenTasks };
}

function unsupportedOrUnknown(action: ActionJson, catalog: FunctionCatalog): string | undefined {
  switch (action.actionType) {
    case ActionType.CallEntity:
    case ActionType.SignalEntity:
      return 'Durable entities are not supported by the devhost (the orchestration called or signalled an entity).';
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry: {
      const name = action.functionName ?? '';
      if ([...catalog.activities].some((n) => n.toLowerCase() === name.toLowerCase())) return undefined;
      return (
        `The function '${name}' doesn't exist, is disabled, or is not an activity function. ` +
        `Additional info: The following are the known activity functions: ${[...catalog.activities].map((n) => `'${n}'`).join(', ')}.`
      );
    }
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry: {
      const name = action.functionName ?? '';
      if ([...catalog.orchestrators].some((n) => n.toLowerCase() === name.toLowerCase())) return undefined;
      return (
        `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function. ` +
        `Additional info: The following are the known orchestrator functions: ${[...catalog.orchestrators].map((n) => `'${n}'`).join(', ')}.`
      );
    }
    default:
      return undefined;
  }
}

function scheduleFirst(
  action: ActionJson,
  id: number,
  index: number,
  now: number,
  input: PlanInput,
): { event: LedgerEvent; dispatch: Dispatch } {
  const base = { EventId: id, _ActionIndex: index, _Role: 'task' as const };
  switch (action.actionType) {
    case ActionType.CreateTimer: {
      const finalFireAt = Date.parse(action.fireAt ?? '');
      const long = finalFireAt - now > input.policy.maximumShortTimerMs;
      const fireAt = long ? now + input.policy.longTimerIntervalMs : finalFireAt;
      const e: LedgerEvent = event<LedgerEvent>(EventType.TimerCreated, now, {
        ...base,
        FireAt: new Date(fireAt).toISOString(),
        ...(long
          ? { _Role: 'longTimerSegment' as const, _FinalFireAt: new Date(finalFireAt).toISOString() }
          : {}),
      });
      return { event: e, dispatch: { kind: 'timer', taskId: id, fireAt } };
    }
    case ActionType.CallHttp:
      return {
        event: event<LedgerEvent>(EventType.TaskScheduled, now, { ...base, Name: scheduledNameOf(action) }),
        dispatch: { kind: 'http', taskId: id, request: action.httpRequest as HttpRequestJson },
      };
    default:
      return scheduleAttempt(action, id, index, now, input, 'task');
  }
}

function scheduleAttempt(
  action: ActionJson,
  id: number,
  index: number,
  now: number,
  input: PlanInput,
  role: 'task' | 'retryAttempt',
  failNowReason?: string,
): { event: LedgerEvent; dispatch: Dispatch } {
  const name = action.functionName ?? '';
  const retry = isRetryAction(action) && action.retryOptions ? { _Retry: action.retryOptions } : {};
  const sub = isSubOrchestrationAction(action);
  if (sub) {
    const childId = action.instanceId || `${executionIdOf(input)}:${id}`;
    const e = event<LedgerEvent>(EventType.SubOrchestrationInstanceCreated, now, {
      EventId: id,
      Name: name,
      InstanceId: childId,
      Input: JSON.stringify(action.input ?? null),
      _ActionIndex: index,
      _Role: role,
      ...retry,
    });
    const dispatch: Dispatch = failNowReason
      ? { kind: 'failNow', taskId: id, subOrchestration: true, reason: failNowReason }
      : {
          kind: 'subOrchestration',
          taskId: id,
          name,
          instanceId: childId,
          input: action.input ?? null,
          ...(action.version ? { version: action.version } : {}),
        };
    return { event: e, dispatch };
  }
  const e = event<LedgerEvent>(EventType.TaskScheduled, now, {
    EventId: id,
    Name: name,
    Input: typeof action.input === 'string' ? action.input : JSON.stringify(action.input ?? null),
    _ActionIndex: index,
    _Role: role,
    ...retry,
  });
  const dispatch: Dispatch = failNowReason
    ? { kind: 'failNow', taskId: id, subOrchestration: false, reason: failNowReason }
    : { kind: 'activity', taskId: id, name, input: action.input };
  return { event: e, dispatch };
}

/** DTFx RetryInterceptor: delay = first · coefficient^(attempt-1), capped at the maximum interval. */
export function retryDelayMs(options: NonNullable<ActionJson['retryOptions']>, attempt: number): number {
  const coefficient = options.backoffCoefficient ?? 1;
  const delay = options.firstRetryIntervalInMilliseconds * Math.pow(coefficient, attempt - 1);
  const max = options.maxRetryIntervalInMilliseconds;
  return Math.max(0, max !== undefined && max > 0 ? Math.min(delay, max) : delay);
}

/** Whether `retryTimeoutInMilliseconds` has passed since the first attempt was scheduled. */
function retryTimedOut(options: RetryOptionsJson, firstAttempt: LedgerEvent, now: number): boolean {
  const timeout = options.retryTimeoutInMilliseconds;
  return timeout !== undefined && timeout > 0 && now - Date.parse(firstAttempt.Timestamp) >= timeout;
}

function expand(
  e: LedgerEvent,
  ledger: TaskLedger,
  taskActions: readonly ActionJson[],
  input: PlanInput,
): { event: LedgerEvent; dispatch: Dispatch } | undefined {
  const { now } = input;
  const completedId = e.EventType === EventType.TimerFired ? e.TimerId : e.TaskScheduledId;
  const scheduled = completedId === undefined ? undefined : ledger.scheduled.get(completedId);
  if (!scheduled || scheduled._ActionIndex === undefined) return undefined;
  const index = scheduled._ActionIndex;
  const action = taskActions[index];
  if (!action) return undefined;
  const id = ledger.nextId;

  if (isFailure(e) && scheduled._Retry) {
    const options = scheduled._Retry;
    const attempts = ledger.attemptsOf(index);
    const timedOut = retryTimedOut(options, attempts[0] ?? scheduled, now);
    const exhausted = attempts.length >= options.maxNumberOfAttempts;
    // After the last attempt the library still waits for a timer before it throws: an immediate "dummy" timer.
    const giveUp = exhausted;
    const fireAt = giveUp || timedOut ? now : now + retryDelayMs(options, attempts.length);
    return {
      event: event<LedgerEvent>(EventType.TimerCreated, now, {
        EventId: id,
        FireAt: new Date(fireAt).toISOString(),
        _ActionIndex: index,
        _Role: 'retryTimer',
        ...(giveUp ? { _GiveUp: true } : {}),
      }),
      dispatch: { kind: 'timer', taskId: id, fireAt },
    };
  }

  if (e.EventType === EventType.TimerFired && scheduled._Role === 'retryTimer' && !scheduled._GiveUp) {
    const attempts = ledger.attemptsOf(index);
    const options = (attempts[0] as LedgerEvent)._Retry as NonNullable<LedgerEvent['_Retry']>;
    const timedOut = retryTimedOut(options, attempts[0] as LedgerEvent, now);
    const reason = timedOut
      ? `Retry timeout of ${options.retryTimeoutInMilliseconds} ms exceeded`
      : undefined;
    return scheduleAttempt(action, id, index, now, input, 'retryAttempt', reason);
  }

  if (e.EventType === EventType.TimerFired && scheduled._FinalFireAt !== undefined) {
    const finalFireAt = Date.parse(scheduled._FinalFireAt);
    if (finalFireAt <= now) return undefined;
    const fireAt =
      finalFireAt - now > input.policy.maximumShortTimerMs
        ? now + input.policy.longTimerIntervalMs
        : finalFireAt;
    return {
      event: event<LedgerEvent>(EventType.TimerCreated, now, {
        EventId: id,
        FireAt: new Date(fireAt).toISOString(),
        _ActionIndex: index,
        _Role: 'longTimerSegment',
        _FinalFireAt: scheduled._FinalFireAt,
      }),
      dispatch: { kind: 'timer', taskId: id, fireAt },
    };
  }
  return undefined;
}

function executionIdOf(input: PlanInput): string {
  if (input.executionId) return input.executionId;
  const started = input.history.find((e) => e.EventType === EventType.ExecutionStarted);
  const executionId = started?.OrchestrationInstance?.ExecutionId;
  if (!executionId)
    throw new Error(`the history of ${input.instanceId} has no ExecutionStarted execution id`);
  return executionId;
}
