import { writeOutputBindings } from '../bindings/outputBindings';
import { toInvocationContext } from '../converters/toInvocationContext';
import { errorMessage, errorStack } from '../errorLike';
import { triggerKindOf } from '../app/registeredFunction';
import { event, EventType, type HistoryEvent } from './historyEvent';
import type { EngineContext } from './engineContext';
import { Semaphore } from './pollLoop';
import type { HttpRequestJson } from './action';
import type { ReceivedMessage, WorkItemMessage } from './taskHubStore';
import { CrashPoint } from './crashPoint';

/**
 * Runs activities from the work-item queue: invokes the registered handler, sends TaskCompleted or TaskFailed to the
 * orchestration, then deletes the message. At-least-once: a crash before the delete re-runs the activity, and the
 * orchestration drops the duplicate completion by TaskScheduledId.
 */
export class ActivityDispatcher {
  readonly #slots: Semaphore;
  readonly #running = new Set<Promise<void>>();
  /** Tests only (`DEVHOST_CRASH_AT` / `--crash-at`): off unless set. */
  readonly #crash = CrashPoint.fromEnv();

  constructor(
    private readonly ctx: EngineContext,
    private readonly onSlotFreed: () => void,
  ) {
    this.#slots = new Semaphore(ctx.settings.maxConcurrentActivities);
  }

  async poll(): Promise<boolean> {
    const free = this.#slots.available;
    if (free === 0) return false;
    const { store, settings } = this.ctx;
    const messages = await store.receive<WorkItemMessage>(
      store.workItemQueue,
      free,
      settings.workItemVisibilityMs,
    );
    for (const message of messages) {
      await this.#slots.acquire();
      const run = this.#run(message).finally(() => {
        this.#slots.release();
        this.#running.delete(run);
        this.onSlotFreed();
      });
      this.#running.add(run);
    }
    return messages.length > 0;
  }

  /** Waits for running activities (used on graceful shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#running]);
  }

  async #run(message: ReceivedMessage<WorkItemMessage>): Promise<void> {
    const { store, settings, clock, log } = this.ctx;
    const item = message.body;
    let receipt = { messageId: message.messageId, popReceipt: message.popReceipt };
    const renew = setInterval(
      () => {
        void store
          .extendMessage(store.workItemQueue, receipt, settings.workItemVisibilityMs)
          .then((pop) => {
            if (pop) receipt = { ...receipt, popReceipt: pop };
          })
          .catch((error: unknown) =>
            log('warn', 'renewing an activity message failed', { error: String(error) }),
          );
      },
      Math.max(1000, settings.workItemVisibilityMs / 2),
    );
    let result: HistoryEvent;
    try {
      const value = item.http
        ? await this.#callHttp(JSON.parse(item.input) as HttpRequestJson)
        : await this.#invoke(item);
      result = event(EventType.TaskCompleted, clock.now(), {
        TaskScheduledId: item.taskId,
        Result: JSON.stringify(value ?? null) ?? 'null',
      });
    } catch (error) {
      const message = errorMessage(error);
      log('warn', `activity ${item.name} failed`, {
        instanceId: item.instanceId,
        taskId: item.taskId,
        error: message,
      });
      result = event(EventType.TaskFailed, clock.now(), {
        TaskScheduledId: item.taskId,
        Reason: `Activity function '${item.name}' failed: ${message}`,
        Details: errorStack(error),
      });
    } finally {
      clearInterval(renew);
    }
    const execution = this.#crash.activityReturned();
    const what = `${item.name} of ${item.instanceId}, task ${item.taskId}`;
    this.#crash.reached(execution, 'after-side-effect', what);
    await store.sendControl({
      kind: 'event',
      instanceId: item.instanceId,
      executionId: item.executionId,
      event: result,
    });
    await store.deleteMessage(store.workItemQueue, receipt);
    // Before the wake-up, so the orchestrator's next turn has not started when a test crash point is reached.
    this.#crash.reached(execution, 'after-recorded', what);
    this.ctx.wakeControl();
  }

  async #invoke(item: WorkItemMessage): Promise<unknown> {
    const fn =
      this.ctx.app.functions.get(item.name) ??
      [...this.ctx.app.functions.values()].find((f) => f.name.toLowerCase() === item.name.toLowerCase());
    if (!fn || triggerKindOf(fn) !== 'activity') {
      throw new Error(
        `The function '${item.name}' doesn't exist, is disabled, or is not an activity function.`,
      );
    }
    const context = toInvocationContext(this.ctx.app.library, fn, this.ctx.log, {
      triggerMetadata: { instanceId: item.instanceId },
    });
    const clientData = this.ctx.durableClientData;
    if (clientData) {
      const inputs = (context as { extraInputs: { set(binding: unknown, value: unknown): void } })
        .extraInputs;
      for (const input of fn.extraInputs)
        if (input.type === 'durableClient' || input.type === 'orchestrationClient')
          inputs.set(input, clientData());
    }
    const result = await fn.callback(JSON.parse(item.input), context);
    await writeOutputBindings({
      fn,
      context,
      returnValue: undefined, // an activity's return is its result, not a binding
      bindingData: { instanceId: item.instanceId },
      env: this.ctx.app.env,
      now: this.ctx.clock.now(),
    });
    return result;
  }

  /** The built-in activity behind `callHttp`: under schema V3 the library itself drives any 202 polling. */
  async #callHttp(request: HttpRequestJson): Promise<unknown> {
    if (request.tokenSource)
      throw new Error('callHttp with a managed identity token source is not supported by the devhost');
    const response = await fetch(request.uri, {
      method: request.method,
      headers: request.headers ?? {},
      ...(request.content !== undefined && !['GET', 'HEAD'].includes(request.method.toUpperCase())
        ? { body: request.content }
        : {}),
      signal: AbortSignal.timeout(100_000),
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => (headers[key] = value));
    return { statusCode: response.status, content: await response.text(), headers };
  }
}
