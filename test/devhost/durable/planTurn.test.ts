import { ActionType, flattenActions, type ActionJson } from '../../../devhost/durable/action';
import { event, EventType } from '../../../devhost/durable/historyEvent';
import { classifyEvent, planTurn, retryDelayMs, type PlanInput } from '../../../devhost/durable/planTurn';
import { TaskLedger, type LedgerEvent } from '../../../devhost/durable/taskLedger';

const T0 = Date.UTC(2030, 0, 1);
const DAY = 86_400_000;
const policy = { maximumShortTimerMs: 6 * DAY, longTimerIntervalMs: 3 * DAY };
const catalog = { activities: new Set(['Step', 'Other', 'Flaky']), orchestrators: new Set(['Child']) };

const activity = (name: string, input: unknown = null): ActionJson => ({
  actionType: ActionType.CallActivity,
  functionName: name,
  input,
});
const timer = (fireAt: number, isCanceled = false): ActionJson => ({
  actionType: ActionType.CreateTimer,
  fireAt: new Date(fireAt).toISOString(),
  isCanceled,
});
const started = () => event(EventType.ExecutionStarted, T0, { Name: 'O', Input: 'null' });
const os = (at: number) => event(EventType.OrchestratorStarted, at);
const scheduled = (id: number, name: string, index: number, extra: Partial<LedgerEvent> = {}) =>
  event<LedgerEvent>(EventType.TaskScheduled, T0, { EventId: id, Name: name, _ActionIndex: index, ...extra });
const completed = (id: number, result = '"ok"') =>
  event(EventType.TaskCompleted, T0, { TaskScheduledId: id, Result: result });
const failed = (id: number) =>
  event(EventType.TaskFailed, T0, { TaskScheduledId: id, Reason: 'boom', Details: '' });
const timerCreated = (id: number, fireAt: number, index: number, extra: Partial<LedgerEvent> = {}) =>
  event<LedgerEvent>(EventType.TimerCreated, T0, {
    EventId: id,
    FireAt: new Date(fireAt).toISOString(),
    _ActionIndex: index,
    ...extra,
  });
const timerFired = (id: number, fireAt: number) =>
  event(EventType.TimerFired, fireAt, { TimerId: id, FireAt: new Date(fireAt).toISOString() });

function plan(history: LedgerEvent[], actions: ActionJson[], extra: Partial<PlanInput> = {}) {
  return planTurn({ instanceId: 'i1', history, actions, now: T0, policy, catalog, ...extra });
}

describe('planTurn: the replay check and diff', () => {
  it('schedules new actions with consecutive sequence ids after those in the history', () => {
    const history = [started(), scheduled(0, 'Step', 0), os(T0), completed(0)];
    const result = plan(history, [activity('Step'), activity('Step', 'b'), activity('Other')]);
    expect(result.failure).toBeUndefined();
    expect(result.scheduling.map((e) => [e.EventId, e.Name])).toEqual([
      [1, 'Step'],
      [2, 'Other'],
    ]);
    expect(result.dispatches).toEqual([
      { kind: 'activity', taskId: 1, name: 'Step', input: 'b' },
      { kind: 'activity', taskId: 2, name: 'Other', input: null },
    ]);
    expect(result.hasOpenTasks).toBe(true);
  });

  it('matches actions to history by EventId even when the history is not in id order', () => {
    // Fan-out: ids 0..2 scheduled in one turn, stored out of order; completions out of order too.
    const history = [
      started(),
      scheduled(2, 'Step', 2),
      scheduled(0, 'Step', 0),
      scheduled(1, 'Other', 1),
      completed(1),
      completed(2),
    ];
    const result = plan(
      history,
      flattenActions([
        [
          {
            actionType: ActionType.WhenAll,
            compoundActions: [activity('Step'), activity('Other'), activity('Step')],
          },
        ],
      ]),
    );
    expect(result.failure).toBeUndefined();
    expect(result.scheduling).toEqual([]);
    expect(result.hasOpenTasks).toBe(true); // id 0 is still running
  });

  it('reports non-determinism when a replayed action differs from the history (DTFx wording)', () => {
    const history = [started(), scheduled(0, 'Step', 0), completed(0)];
    const result = plan(history, [activity('Other')]);
    expect(result.failure).toMatch(
      /^Non-Deterministic workflow detected: A previous execution of this orchestration scheduled an activity task with sequence ID 0 and name 'Step'/,
    );
    expect(result.dispatches).toEqual([]);
  });

  it('reports non-determinism when the replay no longer schedules a task the history has', () => {
    const history = [started(), scheduled(0, 'Step', 0), scheduled(1, 'Step', 1)];
    const result = plan(history, [activity('Step')]);
    expect(result.failure).toContain("sequence ID 1 and name 'Step'");
    expect(result.failure).toContain("hasn't (yet?) scheduled this task");
  });

  it('compares names case-insensitively, as DTFx does', () => {
    const result = plan([started(), scheduled(0, 'step', 0)], [activity('STEP')]);
    expect(result.failure).toBeUndefined();
  });

  it('treats a WhenAny whose losing timer was cancelled as having no open task', () => {
    const history = [
      started(),
      timerCreated(0, T0 + 3600_000, 0),
      os(T0 + 10),
      event(EventType.EventRaised, T0 + 10, { Name: 'Approval', Input: '1' }),
    ];
    const actions = flattenActions([
      [
        {
          actionType: ActionType.WhenAny,
          compoundActions: [
            { actionType: ActionType.WaitForExternalEvent, externalEventName: 'Approval' },
            timer(T0 + 3600_000, true),
          ],
        },
      ],
    ]);
    expect(plan(history, actions).hasOpenTasks).toBe(false);
    const notCancelled = flattenActions([
      [
        {
          actionType: ActionType.WhenAny,
          compoundActions: [
            { actionType: ActionType.WaitForExternalEvent, externalEventName: 'Approval' },
            timer(T0 + 3600_000, false),
          ],
        },
      ],
    ]);
    expect(plan(history, notCancelled).hasOpenTasks).toBe(true);
  });

  it('fails with the extension message when an activity is not registered', () => {
    const result = plan([started()], [activity('Missing')]);
    expect(result.failure).toContain(
      "The function 'Missing' doesn't exist, is disabled, or is not an activity function",
    );
  });
});

describe('planTurn: retries', () => {
  const retry = { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 3, backoffCoefficient: 2 };
  const withRetry: ActionJson = {
    actionType: ActionType.CallActivityWithRetry,
    functionName: 'Flaky',
    input: null,
    retryOptions: retry,
  };

  it('creates a retry timer after a failed attempt, with exponential backoff', () => {
    const attempt1 = scheduled(0, 'Flaky', 0, { _Retry: retry });
    const f = failed(0);
    expect(classifyEvent(new TaskLedger([started(), attempt1]), f, T0)).toBe('expanding');
    const result = plan([started(), attempt1, os(T0), f], [withRetry], { expandingEvent: f });
    expect(result.scheduling).toHaveLength(1);
    expect(result.scheduling[0]).toMatchObject({
      EventType: EventType.TimerCreated,
      EventId: 1,
      _Role: 'retryTimer',
      FireAt: new Date(T0 + 1000).toISOString(),
    });
    expect(retryDelayMs(retry, 2)).toBe(2000);
  });

  it('schedules the next attempt with the next id when the retry timer fires', () => {
    const history = [
      started(),
      scheduled(0, 'Flaky', 0, { _Retry: retry }),
      failed(0),
      timerCreated(1, T0 + 1000, 0, { _Role: 'retryTimer' }),
    ];
    const fired = timerFired(1, T0 + 1000);
    const result = plan([...history, os(T0 + 1000), fired], [withRetry], {
      expandingEvent: fired,
      now: T0 + 1000,
    });
    expect(result.scheduling[0]).toMatchObject({
      EventType: EventType.TaskScheduled,
      EventId: 2,
      Name: 'Flaky',
      _Role: 'retryAttempt',
    });
    expect(result.dispatches).toEqual([{ kind: 'activity', taskId: 2, name: 'Flaky', input: null }]);
  });

  it('after the last attempt creates an immediate timer that ends the retries', () => {
    const history = [
      started(),
      scheduled(0, 'Flaky', 0, { _Retry: retry }),
      failed(0),
      timerCreated(1, T0, 0, { _Role: 'retryTimer' }),
      timerFired(1, T0),
      scheduled(2, 'Flaky', 0, { _Retry: retry, _Role: 'retryAttempt' }),
      failed(2),
      timerCreated(3, T0, 0, { _Role: 'retryTimer' }),
      timerFired(3, T0),
      scheduled(4, 'Flaky', 0, { _Retry: retry, _Role: 'retryAttempt' }),
    ];
    const last = failed(4);
    const result = plan([...history, os(T0), last], [withRetry], { expandingEvent: last });
    expect(result.scheduling[0]).toMatchObject({
      EventType: EventType.TimerCreated,
      EventId: 5,
      _GiveUp: true,
      FireAt: new Date(T0).toISOString(),
    });
    const ledger = new TaskLedger([...history, last, ...result.scheduling]);
    expect(classifyEvent(ledger, timerFired(5, T0), T0)).toBe('normal'); // the library now throws; no new id
  });

  it('once the retry timeout has passed, fails the remaining attempts without running them', () => {
    const timed = { ...retry, retryTimeoutInMilliseconds: 500 };
    const action: ActionJson = { ...withRetry, retryOptions: timed };
    const attempt1 = scheduled(0, 'Flaky', 0, { _Retry: timed });
    const f = failed(0);
    const later = T0 + 600;
    const r1 = plan([started(), attempt1, os(later), f], [action], { expandingEvent: f, now: later });
    // No backoff wait after the timeout: the retry timer fires at once.
    expect(r1.scheduling[0]).toMatchObject({
      EventType: EventType.TimerCreated,
      FireAt: new Date(later).toISOString(),
    });
    expect(r1.scheduling[0]?._GiveUp).toBeUndefined();
    const fired = timerFired(1, later);
    const r2 = plan([started(), attempt1, f, ...r1.scheduling, os(later), fired], [action], {
      expandingEvent: fired,
      now: later,
    });
    expect(r2.dispatches).toEqual([
      { kind: 'failNow', taskId: 2, subOrchestration: false, reason: 'Retry timeout of 500 ms exceeded' },
    ]);
  });

  it('drops a duplicate completion and holds one for a task not yet in the history', () => {
    const ledger = new TaskLedger([started(), scheduled(0, 'Step', 0), completed(0)]);
    expect(classifyEvent(ledger, completed(0), T0)).toBe('duplicate');
    expect(classifyEvent(ledger, completed(7), T0)).toBe('early');
  });
});

describe('planTurn: long timers (schema V3)', () => {
  it('starts a timer more than 6 days out with a 3-day segment', () => {
    const result = plan([started(), os(T0)], [timer(T0 + 10 * DAY)]);
    expect(result.scheduling[0]).toMatchObject({
      EventId: 0,
      FireAt: new Date(T0 + 3 * DAY).toISOString(),
      _FinalFireAt: new Date(T0 + 10 * DAY).toISOString(),
    });
  });

  it('keeps a timer of exactly 6 days as one timer', () => {
    const result = plan([started(), os(T0)], [timer(T0 + 6 * DAY)]);
    expect(result.scheduling[0]).toMatchObject({ FireAt: new Date(T0 + 6 * DAY).toISOString() });
    expect(result.scheduling[0]?._FinalFireAt).toBeUndefined();
  });

  it('chains segments until the final fire time, then stops', () => {
    const final = T0 + 10 * DAY;
    const seg1 = timerCreated(0, T0 + 3 * DAY, 0, {
      _Role: 'longTimerSegment',
      _FinalFireAt: new Date(final).toISOString(),
    });
    const fired1 = timerFired(0, T0 + 3 * DAY);
    const r1 = plan([started(), seg1, os(T0 + 3 * DAY), fired1], [timer(final)], {
      expandingEvent: fired1,
      now: T0 + 3 * DAY,
    });
    expect(r1.scheduling[0]).toMatchObject({ EventId: 1, FireAt: new Date(T0 + 6 * DAY).toISOString() });
    const seg2 = r1.scheduling[0] as LedgerEvent;
    const fired2 = timerFired(1, T0 + 6 * DAY);
    const r2 = plan([started(), seg1, fired1, seg2, os(T0 + 6 * DAY), fired2], [timer(final)], {
      expandingEvent: fired2,
      now: T0 + 6 * DAY,
    });
    expect(r2.scheduling[0]).toMatchObject({ EventId: 2, FireAt: new Date(final).toISOString() });
    const ledger = new TaskLedger([started(), seg1, fired1, seg2, fired2, ...r2.scheduling]);
    expect(classifyEvent(ledger, timerFired(2, final), final)).toBe('normal');
  });
});

describe('planTurn: sub-orchestration instance ids', () => {
  const child = (instanceId?: string): ActionJson => ({
    actionType: ActionType.CallSubOrchestrator,
    functionName: 'Child',
    input: null,
    ...(instanceId ? { instanceId } : {}),
  });

  it("names an auto-generated child <executionId>:<sequence id>, as DTFx does, not after the parent's instance id", () => {
    const history = [
      event(EventType.ExecutionStarted, T0, {
        Name: 'O',
        Input: 'null',
        OrchestrationInstance: { InstanceId: 'i1', ExecutionId: 'exec-A' },
      }),
      scheduled(0, 'Step', 0),
      os(T0),
      completed(0),
    ];
    const r = plan(history, [activity('Step'), child()]);
    expect(r.scheduling[0]).toMatchObject({
      EventType: EventType.SubOrchestrationInstanceCreated,
      EventId: 1,
    });
    expect(r.scheduling[0]?.InstanceId).toBe('exec-A:1');
    expect(r.dispatches[0]).toMatchObject({ kind: 'subOrchestration', instanceId: 'exec-A:1' });
  });

  it('gives the same sequence id a different child id in the next execution of the same instance', () => {
    const a = plan([started(), os(T0)], [child()], { executionId: 'exec-A' });
    const b = plan([started(), os(T0)], [child()], { executionId: 'exec-B' });
    expect(a.scheduling[0]?.InstanceId).toBe('exec-A:0');
    expect(b.scheduling[0]?.InstanceId).toBe('exec-B:0');
  });

  it('keeps an id the orchestrator chose', () => {
    expect(plan([started(), os(T0)], [child('mine')], { executionId: 'e' }).scheduling[0]?.InstanceId).toBe(
      'mine',
    );
  });
});
