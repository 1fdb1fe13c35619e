import { randomUUID } from 'node:crypto';
import { triggerKindOf } from '../app/registeredFunction';
import { ActionType, decodeActionInput, flattenActions, type OrchestratorStateJson } from './action';
import type { EngineContext } from './engineContext';
import { event, EventType, type HistoryEvent } from './historyEvent';
import { invokeOrchestrator } from './invokeOrchestrator';
import { classifyEvent, planTurn, type Dispatch } from './planTurn';
import { Semaphore } from './pollLoop';
import { TaskLedger, type LedgerEvent } from './taskLedger';
import {
  HistoryConflictError,
  TERMINAL_STATUSES,
  type ControlMessage,
  type InstanceRecord,
  type ReceivedMessage,
  type RuntimeStatus,
} from './taskHubStore';

type Received = ReceivedMessage<ControlMessage>;

interface Session {
  instanceId: string;
  pending: Received[];
  running: boolean;
}

/** An early completion is retried this often before it is dropped as a poison message. */
const MAX_EARLY_DEQUEUES = 30;
const ABANDON_DELAY_MS = 1000;
const MAX_BUFFERED_MESSAGES = 2000;
/** Histories kept in memory between turns (DTFx "extended sessions"): saves a history query per turn. */
const MAX_CACHED_HISTORIES = 1000;

interface CachedHistory {
  executionId: string;
  events: HistoryEvent[];
  etag: string;
}

/** What a turn decided, before it is committed. */
interface TurnResult {
  events: HistoryEvent[];
  dispatches: Dispatch[];
  status: RuntimeStatus;
  output: string | null;
  customStatus: string | null;
  continueAsNewInput?: string;
  failureMessage?: string;
}

/**
 * Processes the control queue: groups messages by instance into sessions (one turn at a time per instance),
 * replays the orchestrator through the library, checks and diffs the result, and commits in the DTFx order:
 * outbound messages, then history (ETag-guarded), then the instance row, then the deletion of the inputs.
 */
export class OrchestrationDispatcher {
  readonly #sessions = new Map<string, Session>();
  readonly #inFlight = new Map<string, Received>();
  readonly #slots: Semaphore;
  readonly #running = new Set<Promise<void>>();
  readonly #histories = new Map<string, CachedHistory>();

  constructor(private readonly ctx: EngineContext) {
    this.#slots = new Semaphore(ctx.settings.maxConcurrentOrchestrations);
  }

  async poll(): Promise<boolean> {
    if (this.#inFlight.size >= MAX_BUFFERED_MESSAGES) return false;
    const { store, settings } = this.ctx;
    const messages = await store.receive<ControlMessage>(
      store.controlQueue,
      32,
      settings.controlVisibilityMs,
    );
    for (const message of messages) {
      const known = this.#inFlight.get(message.messageId);
      if (known) {
        known.popReceipt = message.popReceipt; // re-delivered after its visibility lapsed while buffered
        continue;
      }
      this.#inFlight.set(message.messageId, message);
      const id = message.body.instanceId;
      let session = this.#sessions.get(id);
      if (!session) {
        session = { instanceId: id, pending: [], running: false };
        this.#sessions.set(id, session);
      }
      session.pending.push(message);
    }
    for (const session of this.#sessions.values()) this.#schedule(session);
    return messages.length > 0;
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.#running]);
  }

  #schedule(session: Session): void {
    if (session.running || session.pending.length === 0) return;
    session.running = true;
    const run = (async () => {
      await this.#slots.acquire();
      try {
        while (session.pending.length > 0) {
          try {
            await this.#processSession(session);
          } catch (error) {
            const retry = error instanceof HistoryConflictError;
            this.#histories.delete(session.instanceId);
            this.ctx.log(
              retry ? 'warn' : 'error',
              `turn of ${session.instanceId} failed; its messages will be redelivered`,
              {
                error: error instanceof Error ? error.message : String(error),
              },
            );
            // Leave the messages to their visibility timeout (or abandon them briefly) and move on.
            for (const m of session.pending.splice(0)) await this.#abandon(m, ABANDON_DELAY_MS);
          }
        }
      } finally {
        this.#slots.release();
        session.running = false;
        if (session.pending.length === 0) this.#sessions.delete(session.instanceId);
        else this.#schedule(session);
      }
    })();
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
  }

  async #done(message: Received): Promise<void> {
    this.#inFlight.delete(message.messageId);
    await this.ctx.store.deleteMessage(this.ctx.store.controlQueue, message);
  }

  async #abandon(message: Received, delayMs: number): Promise<void> {
    this.#inFlight.delete(message.messageId);
    await this.ctx.store.extendMessage(this.ctx.store.controlQueue, message, delayMs);
  }

  /** Runs one turn for the session (or handles one client operation), consuming at least one message. */
  async #processSession(session: Session): Promise<void> {
    const { store, clock } = this.ctx;
    const messages = session.pending.splice(0);
    let instance = await store.getInstance(session.instanceId);
    const first = messages[0] as Received;

    // Client operations and starts run alone in their turn.
    if (first.body.kind !== 'event' || first.body.event?.EventType === EventType.ExecutionStarted) {
      session.pending.unshift(...messages.slice(1));
      if (first.body.kind === 'event') return this.#start(first, instance);
      return this.#operation(first, instance);
    }

    if (!instance || instance.runtimeStatus === 'Pending' || instance.runtimeStatus === 'ContinuedAsNew') {
      // Not started yet (the start may still be on its way): try again shortly.
      for (const m of messages) await this.#abandon(m, ABANDON_DELAY_MS);
      return;
    }
    const history = await this.#loadHistory(instance);
    const ledger = new TaskLedger(history.events);
    const now = clock.now();
    const batch: Received[] = [];
    let expanding: LedgerEvent | undefined;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i] as Received;
      if (m.body.kind !== 'event' || m.body.event?.EventType === EventType.ExecutionStarted) {
        session.pending.unshift(...messages.slice(i));
        break;
      }
      if (TERMINAL_STATUSES.has(instance.runtimeStatus)) {
        await this.#done(m); // late completions of a finished instance are dropped
        continue;
      }
      if (instance.runtimeStatus === 'Suspended') {
        await this.#abandon(m, ABANDON_DELAY_MS);
        continue;
      }
      if (m.body.executionId && m.body.executionId !== instance.executionId) {
        await this.#done(m); // addressed to an execution that no longer exists
        continue;
      }
      const e: LedgerEvent = { ...(m.body.event as HistoryEvent), IsPlayed: false };
      if (e.EventType === EventType.EventRaised) e._MessageId = m.messageId;
      const kind = classifyEvent(ledger, e, now);
      if (kind === 'duplicate') {
        await this.#done(m);
        continue;
      }
      if (kind === 'early') {
        if (m.dequeueCount >= MAX_EARLY_DEQUEUES) {
          this.ctx.log('warn', `dropping a completion for a task ${session.instanceId} never scheduled`, {
            event: e,
          });
          await this.#done(m);
        } else {
          await this.#abandon(m, ABANDON_DELAY_MS);
        }
        continue;
      }
      ledger.add(e);
      batch.push(m);
      if (kind === 'expanding') {
        expanding = e;
        session.pending.unshift(...messages.slice(i + 1));
        break;
      }
    }
    if (batch.length === 0) return;
    instance = { ...instance, runtimeStatus: 'Running' };
    const newEvents: HistoryEvent[] = [
      event(EventType.OrchestratorStarted, now),
      ...batch.map((m) => ({
        ...(m.body.event as HistoryEvent),
        IsPlayed: false,
        ...(m.body.event?.EventType === EventType.EventRaised ? { _MessageId: m.messageId } : {}),
      })),
    ];
    await this.#turn(instance, history.events, history.etag, newEvents, expanding, batch);
  }

  async #start(message: Received, existing: InstanceRecord | undefined): Promise<void> {
    const body = message.body;
    const started = body.event as HistoryEvent;
    const executionId = started.OrchestrationInstance?.ExecutionId ?? randomUUID();
    if (!startIsCurrent(body, executionId, existing)) {
      await this.#done(message);
      return;
    }
    const now = this.ctx.clock.now();
    const instance: InstanceRecord = {
      instanceId: body.instanceId,
      name: started.Name ?? '',
      version: started.Version ?? '',
      runtimeStatus: 'Running',
      executionId,
      input: started.Input ?? null,
      output: null,
      customStatus: null,
      createdTime: existing && existing.executionId === executionId ? existing.createdTime : now,
      lastUpdatedTime: now,
      startId: body.startId ?? '',
      parentInstanceId: started.ParentInstance?.OrchestrationInstance.InstanceId ?? null,
    };
    const newEvents = [event(EventType.OrchestratorStarted, now), { ...started, IsPlayed: false }];
    await this.#turn(instance, [], undefined, newEvents, undefined, [message]);
  }

  async #operation(message: Received, instance: InstanceRecord | undefined): Promise<void> {
    const { store, clock } = this.ctx;
    const body = message.body;
    if (!instance || TERMINAL_STATUSES.has(instance.runtimeStatus)) {
      await this.#done(message);
      return;
    }
    const history = await this.#loadHistory(instance);
    const now = clock.now();
    let status: RuntimeStatus = instance.runtimeStatus;
    let output = instance.output;
    let e: HistoryEvent;
    if (body.kind === 'terminate') {
      e = event(EventType.ExecutionTerminated, now, { Input: body.reason ?? '' });
      status = 'Terminated';
      output = JSON.stringify(body.reason ?? '');
    } else if (body.kind === 'suspend') {
      e = event(EventType.ExecutionSuspended, now, { Reason: body.reason ?? '' });
      status = 'Suspended';
    } else {
      e = event(EventType.ExecutionResumed, now, { Reason: body.reason ?? '' });
      status = instance.runtimeStatus === 'Suspended' ? 'Running' : instance.runtimeStatus;
    }
    await this.#appendHistory(instance, history.events, [e], history.etag);
    await store.putInstance({ ...instance, runtimeStatus: status, output, lastUpdatedTime: now });
    await this.#done(message);
    if (body.kind === 'resume') this.ctx.wakeControl();
  }

  /** Replays the orchestrator over `committed` + `newEvents`, plans the turn and commits it. */
  async #turn(
    instance: InstanceRecord,
    committed: HistoryEvent[],
    etag: string | undefined,
    newEvents: HistoryEvent[],
    expanding: LedgerEvent | undefined,
    inputs: Received[],
    continued = false,
  ): Promise<void> {
    const { app, settings, log } = this.ctx;
    const now = Date.parse((newEvents[0] as HistoryEvent).Timestamp);
    const history = [...committed, ...newEvents];
    const fn = app.functions.get(instance.name);
    let result: TurnResult;
    if (!fn || triggerKindOf(fn) !== 'orchestration') {
      result = this.#failed(
        instance,
        `The function '${instance.name}' doesn't exist, is disabled, or is not an orchestrator function.`,
        null,
      );
    } else {
      const started = history.find((e) => e.EventType === EventType.ExecutionStarted);
      const outcome = await invokeOrchestrator(fn, app.library, {
        instanceId: instance.instanceId,
        parentInstanceId: started?.ParentInstance?.OrchestrationInstance.InstanceId ?? null,
        input: parseJson(started?.Input ?? null),
        history,
        newEventCount: newEvents.length,
        policy: settings.policy,
        invocationId: randomUUID(),
        log,
      });
      if (!outcome.ok) {
        result = this.#failed(instance, outcome.error, outcome.state ?? null);
      } else {
        result = this.#decide(instance, history, outcome.state, expanding, now);
      }
    }
    if (result.continueAsNewInput !== undefined) {
      // As DTFx does, the next generation runs in this same work item: its first turn is replayed now and only its
      // state is committed, so no status query ever sees ContinuedAsNew. The finished generation's outbound work
      // (fire-and-forget) is still sent; its history is dropped once the next generation's is written.
      await this.#dispatch(instance, result.dispatches);
      const started = history.find((e) => e.EventType === EventType.ExecutionStarted);
      const parent = started?.ParentInstance ?? (await this.#parentOf(instance));
      const executionId = randomUUID();
      const next: InstanceRecord = {
        ...instance,
        runtimeStatus: 'Running',
        executionId,
        startId: executionId,
        input: result.continueAsNewInput,
        output: null,
        customStatus: result.customStatus ?? instance.customStatus,
      };
      const nextStarted = event(EventType.ExecutionStarted, now, {
        Name: instance.name,
        Version: instance.version,
        Input: result.continueAsNewInput,
        OrchestrationInstance: { InstanceId: instance.instanceId, ExecutionId: executionId },
        ...(parent ? { ParentInstance: parent } : {}),
      });
      const nextEvents = [event(EventType.OrchestratorStarted, now), { ...nextStarted, IsPlayed: false }];
      await this.#turn(next, [], undefined, nextEvents, undefined, inputs, true);
      return;
    }
    await this.#commit(
      instance,
      committed,
      etag,
      [...newEvents, ...result.events],
      result,
      inputs,
      now,
      continued,
    );
  }

  #decide(
    instance: InstanceRecord,
    history: HistoryEvent[],
    state: OrchestratorStateJson,
    expanding: LedgerEvent | undefined,
    now: number,
  ): TurnResult {
    const actions = flattenActions(state.actions ?? []);
    const plan = planTurn({
      instanceId: instance.instanceId,
      executionId: instance.executionId,
      history: history,
      actions,
      ...(expanding ? { expandingEvent: expanding } : {}),
      now,
      policy: this.ctx.settings.policy,
      catalog: this.ctx.catalog,
    });
    const customStatus = state.customStatus === undefined ? null : JSON.stringify(state.customStatus);
    if (plan.failure) return this.#failed(instance, plan.failure, state);
    const events: HistoryEvent[] = [...plan.scheduling, event(EventType.OrchestratorCompleted, now)];
    if (state.isDone) {
      const can = actions.find((a) => a.actionType === ActionType.ContinueAsNew);
      if (can) {
        events.push(
          event(EventType.ExecutionCompleted, now, { OrchestrationStatus: 'ContinuedAsNew', Result: null }),
        );
        return {
          events,
          dispatches: plan.dispatches,
          status: 'ContinuedAsNew',
          output: null,
          customStatus,
          continueAsNewInput: JSON.stringify(decodeActionInput(can.input) ?? null),
        };
      }
      if (!plan.hasOpenTasks) {
        const output = JSON.stringify(state.output ?? null);
        events.push(
          event(EventType.ExecutionCompleted, now, { OrchestrationStatus: 'Completed', Result: output }),
        );
        return { events, dispatches: plan.dispatches, status: 'Completed', output, customStatus };
      }
    }
    return { events, dispatches: plan.dispatches, status: 'Running', output: null, customStatus };
  }

  #failed(instance: InstanceRecord, error: string, state: OrchestratorStateJson | null): TurnResult {
    const message = `Orchestrator function '${instance.name}' failed: ${error}`;
    const now = this.ctx.clock.now();
    return {
      events: [
        event(EventType.OrchestratorCompleted, now),
        event(EventType.ExecutionCompleted, now, {
          OrchestrationStatus: 'Failed',
          Result: JSON.stringify(message),
        }),
      ],
      dispatches: [],
      status: 'Failed',
      output: JSON.stringify(message),
      customStatus:
        state?.customStatus === undefined ? instance.customStatus : JSON.stringify(state.customStatus),
      failureMessage: message,
    };
  }

  async #commit(
    instance: InstanceRecord,
    committed: HistoryEvent[],
    etag: string | undefined,
    appended: HistoryEvent[],
    result: TurnResult,
    inputs: Received[],
    now: number,
    continued: boolean,
  ): Promise<void> {
    const { store } = this.ctx;
    const started = appended.find((e) => e.EventType === EventType.ExecutionStarted);
    const parent = started?.ParentInstance ?? (await this.#parentOf(instance));
    // 1. Outbound first (DTFx order): a crash after this re-runs the turn and sends duplicates, which are dropped.
    await this.#dispatch(instance, result.dispatches);
    if (parent && (result.status === 'Completed' || result.status === 'Failed')) {
      const parentEvent =
        result.status === 'Completed'
          ? event(EventType.SubOrchestrationInstanceCompleted, now, {
              TaskScheduledId: parent.TaskScheduleId,
              Result: result.output,
            })
          : event(EventType.SubOrchestrationInstanceFailed, now, {
              TaskScheduledId: parent.TaskScheduleId,
              Reason: result.failureMessage ?? 'failed',
              Details: result.failureMessage ?? '',
            });
      await store.sendControl({
        kind: 'event',
        instanceId: parent.OrchestrationInstance.InstanceId,
        executionId: parent.OrchestrationInstance.ExecutionId,
        event: parentEvent,
      });
      this.ctx.wakeControl();
    }
    // 2. History, guarded by the sentinel ETag.
    await this.#appendHistory(instance, committed, appended, etag);
    // 3. The instance row.
    const updated: InstanceRecord = {
      ...instance,
      runtimeStatus: result.status,
      output: result.output,
      customStatus: result.customStatus ?? instance.customStatus,
      lastUpdatedTime: now,
    };
    await store.putInstance(updated);
    // 4. The inputs are consumed only now.
    for (const m of inputs) await this.#done(m);
    if (continued) {
      // A generation started by continue-as-new: the previous executions' histories are dropped.
      await store.deleteHistory(instance.instanceId, instance.executionId).catch((error: unknown) =>
        this.ctx.log('warn', 'could not delete the history of a continued-as-new execution', {
          error: String(error),
        }),
      );
    }
  }

  /** The committed history of the instance's current execution, from memory when this process wrote it last. */
  async #loadHistory(instance: InstanceRecord): Promise<{ events: HistoryEvent[]; etag?: string }> {
    const cached = this.#histories.get(instance.instanceId);
    if (cached && cached.executionId === instance.executionId)
      return { events: cached.events, etag: cached.etag };
    return this.ctx.store.loadHistory(instance.instanceId, instance.executionId);
  }

  /**
   * Appends to the history (ETag-guarded) and keeps the result in memory for the next turn. A conflict means another
   * writer moved the history: the cache entry is dropped and the turn retried from storage.
   */
  async #appendHistory(
    instance: InstanceRecord,
    committed: HistoryEvent[],
    appended: HistoryEvent[],
    etag: string | undefined,
  ): Promise<void> {
    const { instanceId, executionId } = instance;
    this.#histories.delete(instanceId);
    const newEtag = await this.ctx.store.appendHistory(
      instanceId,
      executionId,
      committed.length,
      appended,
      etag,
    );
    const finished = appended.some(
      (e) => e.EventType === EventType.ExecutionCompleted || e.EventType === EventType.ExecutionTerminated,
    );
    if (!newEtag || finished) return;
    if (this.#histories.size >= MAX_CACHED_HISTORIES) {
      const oldest = this.#histories.keys().next();
      if (!oldest.done) this.#histories.delete(oldest.value);
    }
    this.#histories.set(instanceId, {
      executionId,
      events: [...committed, ...appended.map((e) => ({ ...e, IsPlayed: true }))],
      etag: newEtag,
    });
  }

  async #parentOf(instance: InstanceRecord): Promise<HistoryEvent['ParentInstance']> {
    if (!instance.parentInstanceId) return undefined;
    const history = await this.ctx.store.loadHistory(instance.instanceId, instance.executionId);
    return (
      history.events.find((e) => e.EventType === EventType.ExecutionStarted)?.ParentInstance ?? undefined
    );
  }

  async #dispatch(instance: InstanceRecord, dispatches: Dispatch[]): Promise<void> {
    const { store, clock } = this.ctx;
    const now = clock.now();
    let work = false;
    let control = false;
    for (const d of dispatches) {
      switch (d.kind) {
        case 'activity':
          await store.sendWorkItem({
            instanceId: instance.instanceId,
            executionId: instance.executionId,
            taskId: d.taskId,
            name: d.name,
            input: JSON.stringify(decodeActionInput(d.input) ?? null),
          });
          work = true;
          break;
        case 'http':
          await store.sendWorkItem({
            instanceId: instance.instanceId,
            executionId: instance.executionId,
            taskId: d.taskId,
            name: 'BuiltIn::HttpActivity',
            input: JSON.stringify(d.request),
            http: true,
          });
          work = true;
          break;
        case 'subOrchestration':
          await store.sendControl({
            kind: 'event',
            instanceId: d.instanceId,
            startId: `${instance.instanceId}:${instance.executionId}:${d.taskId}`,
            event: event(EventType.ExecutionStarted, now, {
              Name: d.name,
              Version: d.version ?? '',
              Input: JSON.stringify(d.input ?? null),
              OrchestrationInstance: { InstanceId: d.instanceId, ExecutionId: randomUUID() },
              ParentInstance: {
                Name: instance.name,
                OrchestrationInstance: { InstanceId: instance.instanceId, ExecutionId: instance.executionId },
                TaskScheduleId: d.taskId,
              },
            }),
          });
          control = true;
          break;
        case 'timer':
          await store.addTimer(
            {
              kind: 'event',
              instanceId: instance.instanceId,
              executionId: instance.executionId,
              event: event(EventType.TimerFired, d.fireAt, {
                TimerId: d.taskId,
                FireAt: new Date(d.fireAt).toISOString(),
              }),
            },
            d.fireAt,
          );
          this.ctx.timerAdded(d.fireAt);
          break;
        case 'failNow':
          await store.sendControl({
            kind: 'event',
            instanceId: instance.instanceId,
            executionId: instance.executionId,
            event: event(
              d.subOrchestration ? EventType.SubOrchestrationInstanceFailed : EventType.TaskFailed,
              now,
              {
                TaskScheduledId: d.taskId,
                Reason: d.reason,
                Details: d.reason,
              },
            ),
          });
          control = true;
          break;
      }
    }
    if (work) this.ctx.wakeWorkItems();
    if (control) this.ctx.wakeControl();
  }
}

/**
 * Whether a start message still starts something. Client and continue-as-new starts write the instance row (with
 * the execution id) before sending, so a row with another execution id means the start was superseded; a
 * sub-orchestration start is a duplicate when the row already carries its start id.
 */
function startIsCurrent(
  body: ControlMessage,
  executionId: string,
  existing: InstanceRecord | undefined,
): boolean {
  if (body.preRegistered) {
    return (
      existing !== undefined &&
      existing.executionId === executionId &&
      (existing.runtimeStatus === 'Pending' || existing.runtimeStatus === 'ContinuedAsNew')
    );
  }
  return existing === undefined || existing.startId !== body.startId;
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
