import * as df from 'durable-functions';
import type { OrchestrationInput, OrchestrationName } from '../../orchestrations/contracts';
import { DurableBackendUnavailableError } from '../../shared/errors';

const { OrchestrationRuntimeStatus: Status } = df;

/** When a trigger starts a new instance instead of joining the one with its id. */
export type StartPolicy =
  /** Only when no instance has this id, or the last one failed or was terminated without a result (arbitration). */
  | 'absent-or-failed'
  /** Whenever no instance with this id is running (the per-cluster operation: a finished one is history). */
  | 'not-running';

export interface SingletonStart {
  instanceId: string;
  /** True when this call started the instance; false when it joined one (or lost the race to another starter). */
  started: boolean;
  /** The instance's status before this call, if it had one. */
  previous: df.DurableOrchestrationStatus | undefined;
}

const RUNNING = new Set<string>([Status.Running, Status.Pending, Status.ContinuedAsNew, Status.Suspended]);
const FAILED = new Set<string>([Status.Failed, Status.Terminated, Status.Canceled]);

export function isRunning(status: df.DurableOrchestrationStatus | undefined): boolean {
  return status !== undefined && RUNNING.has(status.runtimeStatus);
}

/**
 * The status of an instance, `undefined` when there is none. Anything but "not found" — the task hub unreachable,
 * a 500 — is a `DurableBackendUnavailableError` (503 to HTTP callers), never mistaken for "not found".
 */
export async function readStatus(
  client: df.DurableClient,
  instanceId: string,
): Promise<df.DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(instanceId);
  } catch (error) {
    if (error instanceof Error && /replied with HTTP 404/.test(error.message)) return undefined;
    throw new DurableBackendUnavailableError(`the status of ${instanceId} could not be read`, {
      cause: error,
    });
  }
}

/**
 * Start-or-join the one instance of a singleton (a cluster's operation, an arbitration of one epoch): concurrent
 * triggers with the same id end up on one instance. Relies on the extension's default
 * `overridableExistingInstanceStates = NonRunningStates`: of two racing starts, the loser's `startNew` fails while
 * the winner's instance runs, and the loser joins it.
 */
export async function startOrJoin<N extends OrchestrationName>(
  client: df.DurableClient,
  name: N,
  instanceId: string,
  input: OrchestrationInput<N>,
  policy: StartPolicy,
): Promise<SingletonStart> {
  const previous = await readStatus(client, instanceId);
  const mayStart =
    previous === undefined ||
    (policy === 'absent-or-failed' ? FAILED.has(previous.runtimeStatus) : !isRunning(previous));
  if (!mayStart) return { instanceId, started: false, previous };
  try {
    await client.startNew(name, { instanceId, input });
    return { instanceId, started: true, previous };
  } catch (error) {
    // Lost the race (the instance now runs: join it) or the backend failed (503).
    const now = await readStatus(client, instanceId);
    if (now && now.createdTime.getTime() !== previous?.createdTime.getTime())
      return { instanceId, started: false, previous };
    throw new DurableBackendUnavailableError(`${name} ${instanceId} could not be started`, { cause: error });
  }
}

/** Raises an event to an instance; a backend failure is a `DurableBackendUnavailableError`. */
export async function raiseEvent(
  client: df.DurableClient,
  instanceId: string,
  eventName: string,
  payload: unknown,
): Promise<void> {
  try {
    await client.raiseEvent(instanceId, eventName, payload);
  } catch (error) {
    throw new DurableBackendUnavailableError(`event ${eventName} could not be raised to ${instanceId}`, {
      cause: error,
    });
  }
}

export type InstanceOutcome<T> =
  | { state: 'completed'; output: T }
  | { state: 'failed'; status: df.DurableOrchestrationStatus }
  | { state: 'running' }
  | { state: 'absent' };

/**
 * Waits up to `waitMs` of real time (the caller's patience, not domain time) for an instance to finish, polling its
 * status every `pollMs`. `running` when it did not finish in time.
 */
export async function waitForInstance<T>(
  client: df.DurableClient,
  instanceId: string,
  waitMs: number,
  pollMs = 100,
): Promise<InstanceOutcome<T>> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    const status = await readStatus(client, instanceId);
    if (!status) return { state: 'absent' };
    if (status.runtimeStatus === Status.Completed) return { state: 'completed', output: status.output as T };
    if (FAILED.has(status.runtimeStatus)) return { state: 'failed', status };
    if (performance.now() >= deadline) return { state: 'running' };
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
