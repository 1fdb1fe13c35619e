import type { FunctionsLibrary } from '../app/loadFunctionsApp';
import { toInvocationContext } from '../converters/toInvocationContext';
import { errorMessage } from '../errorLike';
import type { RegisteredFunction } from '../app/registeredFunction';
import { formatTimeSpan } from '../app/hostJson';
import type { OrchestratorStateJson } from './action';
import type { HistoryEvent } from './historyEvent';
import type { TimerPolicy } from './planTurn';
import type { LogFn } from './engineContext';

export interface OrchestratorInvocation {
  instanceId: string;
  parentInstanceId: string | null;
  /** Parsed orchestration input. */
  input: unknown;
  /** Committed events (replayed) followed by this turn's new events. */
  history: readonly HistoryEvent[];
  newEventCount: number;
  policy: TimerPolicy;
  invocationId: string;
  log: LogFn;
}

export type OrchestratorOutcome =
  { ok: true; state: OrchestratorStateJson } | { ok: false; error: string; state?: OrchestratorStateJson };

const OUT_OF_PROC_MARKER = '$OutOfProcData$:';

/**
 * Runs one replay of an orchestrator through the real durable-functions library: builds the trigger payload the
 * extension builds (request schema V3), then normalises the reply through JSON as the worker's wire would.
 */
export async function invokeOrchestrator(
  fn: RegisteredFunction,
  library: FunctionsLibrary,
  call: OrchestratorInvocation,
): Promise<OrchestratorOutcome> {
  const oldCount = call.history.length - call.newEventCount;
  const history = call.history.map((e, i) => ({ ...e, IsPlayed: i < oldCount }));
  const payload = {
    history: JSON.parse(JSON.stringify(history)) as unknown,
    input: call.input,
    instanceId: call.instanceId,
    parentInstanceId: call.parentInstanceId,
    isReplaying: oldCount > 0,
    upperSchemaVersion: 1,
    upperSchemaVersionNew: 2,
    maximumShortTimerDuration: formatTimeSpan(call.policy.maximumShortTimerMs),
    longRunningTimerIntervalDuration: formatTimeSpan(call.policy.longTimerIntervalMs),
    defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
  };
  const context = toInvocationContext(library, fn, call.log, {
    invocationId: call.invocationId,
    fields: { instanceId: call.instanceId },
  });
  try {
    const state = await fn.callback(payload, context);
    return { ok: true, state: JSON.parse(JSON.stringify(state)) as OrchestratorStateJson };
  } catch (error) {
    const message = errorMessage(error);
    const at = message.indexOf(OUT_OF_PROC_MARKER);
    if (at >= 0) {
      try {
        const state = JSON.parse(message.slice(at + OUT_OF_PROC_MARKER.length)) as OrchestratorStateJson;
        return { ok: false, error: state.error ?? message, state };
      } catch {
        // fall through to the raw message
      }
    }
    return { ok: false, error: message };
  }
}
