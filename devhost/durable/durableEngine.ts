import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock';
import type { LoadedApp } from '../app/loadFunctionsApp';
import { triggerKindOf } from '../app/registeredFunction';
import { ActivityDispatcher } from './activityDispatcher';
import type { EngineContext, EngineSettings, LogFn } from './engineContext';
import { event, EventType, type HistoryEvent } from './historyEvent';
import { OrchestrationDispatcher } from './orchestrationDispatcher';
import { PollLoop } from './pollLoop';
import { TimerPoller } from './timerPoller';
import {
  TERMINAL_STATUSES,
  type InstanceQuery,
  type InstanceRecord,
  type RuntimeStatus,
  type TaskHubStore,
} from './taskHubStore';

/** A client operation that cannot be done, with the HTTP status the durable HTTP API answers. */
export class DurableApiError extends Error {
  override readonly name = 'DurableApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Instance ids become table keys: the Azure Storage provider's rules. */
export function validateInstanceId(instanceId: string): void {
  if (instanceId.length === 0 || instanceId.length > 256) {
    throw new DurableApiError(400, 'Instance ID must be between 1 and 256 characters.');
  }
  // eslint-disable-next-line no-control-regex
  if (/[/\\#?\u0000-\u001f\u007f-\u009f]/.test(instanceId)) {
    throw new DurableApiError(
      400,
      `Instance ID '${instanceId}' contains invalid characters ('/', '\\', '#', '?' or control characters).`,
    );
  }
}

export interface StatusOptions {
  showHistory?: boolean;
  showHistoryOutput?: boolean;
  showInput?: boolean;
}

/**
 * The Durable Task engine of the devhost: three poll loops (control queue, work items, timers) over one task hub,
 * and the client operations behind the durable HTTP API.
 */
export class DurableEngine {
  readonly #ctx: EngineContext;
  readonly #orchestrations: OrchestrationDispatcher;
  readonly #activities: ActivityDispatcher;
  readonly #controlLoop: PollLoop;
  readonly #workLoop: PollLoop;
  readonly #timerLoop: PollLoop;
  readonly #timerWakes = new Set<NodeJS.Timeout>();
  #started = false;

  constructor(deps: {
    store: TaskHubStore;
    app: LoadedApp;
    clock: Clock;
    settings: EngineSettings;
    log: LogFn;
    durableClientData?: () => unknown;
  }) {
    const functions = [...deps.app.functions.values()];
    const catalog = {
      activities: new Set(functions.filter((f) => triggerKindOf(f) === 'activity').map((f) => f.name)),
      orchestrators: new Set(
        functions.filter((f) => triggerKindOf(f) === 'orchestration').map((f) => f.name),
      ),
    };
    const onError = (name: string, error: unknown) =>
      deps.log('error', `${name} poll failed`, {
        error: error instanceof Error ? error.message : String(error),
      });
    this.#ctx = {
      ...deps,
      catalog,
      wakeControl: () => this.#controlLoop.wake(),
      wakeWorkItems: () => this.#workLoop.wake(),
      timerAdded: (fireAt) => this.#timerAdded(fireAt),
    };
    this.#orchestrations = new OrchestrationDispatcher(this.#ctx);
    this.#activities = new ActivityDispatcher(this.#ctx, () => this.#workLoop.wake());
    const idle = deps.settings.maxPollIdleMs;
    this.#controlLoop = new PollLoop('control queue', () => this.#orchestrations.poll(), idle, onError);
    this.#workLoop = new PollLoop('work-item queue', () => this.#activities.poll(), idle, onError);
    const timers = new TimerPoller(this.#ctx);
    this.#timerLoop = new PollLoop('timers', () => timers.poll(), idle, onError);
  }

  get store(): TaskHubStore {
    return this.#ctx.store;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#controlLoop.start();
    this.#workLoop.start();
    this.#timerLoop.start();
  }

  /** Stops polling and waits for running turns and activities, so nothing is left half-done. */
  async stop(): Promise<void> {
    for (const t of this.#timerWakes) clearTimeout(t);
    this.#timerWakes.clear();
    await Promise.all([this.#controlLoop.stop(), this.#workLoop.stop(), this.#timerLoop.stop()]);
    await Promise.all([this.#orchestrations.drain(), this.#activities.drain()]);
    this.#started = false;
  }

  /** The injected clock moved (manual clock): fire what is due now. */
  clockAdvanced(): void {
    this.#timerLoop.wake();
  }

  #timerAdded(fireAt: number): void {
    const delay = fireAt - this.#ctx.clock.now();
    if (delay <= 0) {
      this.#timerLoop.wake();
      return;
    }
    if (delay > 2 ** 31 - 1) return; // the periodic poll finds it
    const handle = setTimeout(() => {
      this.#timerWakes.delete(handle);
      this.#timerLoop.wake();
    }, delay);
    handle.unref();
    this.#timerWakes.add(handle);
  }

  isOrchestrator(name: string): boolean {
    return this.#ctx.catalog.orchestrators.has(name);
  }

  // ---- client operations ----

  async startNew(
    name: string,
    options: { instanceId?: string; input: string; version?: string },
  ): Promise<string> {
    const { store, clock, settings } = this.#ctx;
    if (!this.#ctx.catalog.orchestrators.has(name)) {
      throw new DurableApiError(
        400,
        `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`,
      );
    }
    const instanceId = options.instanceId ?? randomUUID().replace(/-/g, '');
    validateInstanceId(instanceId);
    const existing = await store.getInstance(instanceId);
    if (
      existing &&
      settings.overridableExistingInstanceStates === 'NonRunningStates' &&
      !TERMINAL_STATUSES.has(existing.runtimeStatus)
    ) {
      throw new DurableApiError(
        409,
        `An Orchestration instance with the status ${existing.runtimeStatus} already exists.`,
      );
    }
    const now = clock.now();
    const executionId = randomUUID();
    const record: InstanceRecord = {
      instanceId,
      name,
      version: options.version ?? '',
      runtimeStatus: 'Pending',
      executionId,
      input: options.input,
      output: null,
      customStatus: null,
      createdTime: now,
      lastUpdatedTime: now,
      startId: executionId,
      parentInstanceId: null,
    };
    // Under NonRunningStates the write is conditional (insert-only, or If-Match on the finished instance read above),
    // so of two concurrent starts of one id exactly one wins and the other gets the 409 a running instance gets.
    const written =
      settings.overridableExistingInstanceStates === 'NonRunningStates'
        ? await store.putInstance(record, existing?.etag ? { etag: existing.etag } : { createOnly: true })
        : await store.putInstance(record);
    if (!written)
      throw new DurableApiError(
        409,
        `An Orchestration instance with the id ${instanceId} was started concurrently.`,
      );
    await store.sendControl({
      kind: 'event',
      instanceId,
      startId: executionId,
      preRegistered: true,
      event: event(EventType.ExecutionStarted, now, {
        Name: name,
        Version: options.version ?? '',
        Input: options.input,
        OrchestrationInstance: { InstanceId: instanceId, ExecutionId: executionId },
      }),
    });
    this.#ctx.wakeControl();
    return instanceId;
  }

  async #requireActive(instanceId: string): Promise<InstanceRecord> {
    const instance = await this.#ctx.store.getInstance(instanceId);
    if (!instance) throw new DurableApiError(404, `No instance with ID '${instanceId}' was found.`);
    if (TERMINAL_STATUSES.has(instance.runtimeStatus)) {
      throw new DurableApiError(
        410,
        `The instance '${instanceId}' is ${instance.runtimeStatus} and can no longer change.`,
      );
    }
    return instance;
  }

  async raiseEvent(instanceId: string, eventName: string, data: string): Promise<void> {
    await this.#requireActive(instanceId);
    await this.#ctx.store.sendControl({
      kind: 'event',
      instanceId,
      event: event(EventType.EventRaised, this.#ctx.clock.now(), { Name: eventName, Input: data }),
    });
    this.#ctx.wakeControl();
  }

  async operate(instanceId: string, kind: 'terminate' | 'suspend' | 'resume', reason: string): Promise<void> {
    await this.#requireActive(instanceId);
    await this.#ctx.store.sendControl({ kind, instanceId, reason });
    this.#ctx.wakeControl();
  }

  async getStatus(
    instanceId: string,
    options: StatusOptions = {},
  ): Promise<OrchestrationStatusJson | undefined> {
    const instance = await this.#ctx.store.getInstance(instanceId);
    if (!instance) return undefined;
    const history = options.showHistory
      ? (await this.#ctx.store.loadHistory(instanceId, instance.executionId)).events
      : undefined;
    return toStatusJson(instance, options, history);
  }

  async query(
    query: InstanceQuery,
    options: StatusOptions = {},
  ): Promise<{ statuses: OrchestrationStatusJson[]; continuationToken?: string }> {
    const page = await this.#ctx.store.queryInstances(query);
    return {
      statuses: page.instances.map((i) => toStatusJson(i, options)),
      ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
    };
  }

  async purge(instanceId: string): Promise<number> {
    return (await this.#ctx.store.deleteInstance(instanceId)) ? 1 : 0;
  }

  async purgeBy(query: InstanceQuery): Promise<number> {
    let deleted = 0;
    let token: string | undefined;
    do {
      const page = await this.#ctx.store.queryInstances({
        ...query,
        ...(token ? { continuationToken: token } : {}),
      });
      for (const instance of page.instances)
        deleted += (await this.#ctx.store.deleteInstance(instance.instanceId)) ? 1 : 0;
      token = page.continuationToken;
    } while (token);
    return deleted;
  }
}

export interface OrchestrationStatusJson {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: unknown[];
  history?: unknown[];
}

/** `yyyy-MM-ddTHH:mm:ssZ`, as the extension formats times. */
const formatTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function parse(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function toStatusJson(
  instance: InstanceRecord,
  options: StatusOptions,
  history?: HistoryEvent[],
): OrchestrationStatusJson {
  const status: OrchestrationStatusJson = {
    name: instance.name,
    instanceId: instance.instanceId,
    runtimeStatus: instance.runtimeStatus,
    input: options.showInput === false ? null : parse(instance.input),
    customStatus: parse(instance.customStatus),
    output: parse(instance.output),
    createdTime: formatTime(instance.createdTime),
    lastUpdatedTime: formatTime(instance.lastUpdatedTime),
  };
  if (history) {
    const events = history
      .filter(
        (e) =>
          e.EventType !== EventType.OrchestratorStarted && e.EventType !== EventType.OrchestratorCompleted,
      )
      .map((e) => toProductionHistoryEvent(e, options.showHistoryOutput === true));
    status.historyEvents = events;
    status.history = events; // durable-js #620: the client reads `history`, production sends `historyEvents`
  }
  return status;
}

/** Production's history entries: string EventType, FunctionName, ScheduledTime. */
function toProductionHistoryEvent(e: HistoryEvent, withOutput: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { EventType: EventType[e.EventType], Timestamp: e.Timestamp };
  if (e.EventId >= 0) out.EventId = e.EventId;
  if (e.Name) out.FunctionName = e.Name;
  if (e.FireAt) out.FireAt = e.FireAt;
  if (e.TaskScheduledId !== undefined) out.TaskScheduledId = e.TaskScheduledId;
  if (e.TimerId !== undefined) out.TimerId = e.TimerId;
  if (e.OrchestrationStatus) out.OrchestrationStatus = e.OrchestrationStatus;
  if (e.Reason) out.Reason = e.Reason;
  if (withOutput && e.Result !== undefined) out.Result = parse(e.Result ?? null);
  if (withOutput && e.EventType === EventType.ExecutionStarted) out.Input = parse(e.Input ?? null);
  return out;
}
