import { randomUUID } from 'node:crypto';
import type { FunctionsLibrary } from '../app/loadFunctionsApp';
import type { RegisteredFunction } from '../app/registeredFunction';
import type { LogFn } from '../durable/engineContext';

/** Maps the library's log levels (`trace`, `debug`, `information`, `warning`, `error`) to the devhost's. */
function toLogLevel(level: string): Parameters<LogFn>[0] {
  if (level === 'error' || level === 'critical') return 'error';
  if (level === 'warning') return 'warn';
  if (level === 'trace' || level === 'debug') return 'debug';
  return 'info';
}

/**
 * A fresh `InvocationContext` of the app's own library for one invocation of `fn`, with the binding objects the
 * function was registered with and its `context.log` routed to the devhost log.
 */
export function toInvocationContext(
  library: FunctionsLibrary,
  fn: RegisteredFunction,
  log: LogFn,
  options: {
    invocationId?: string;
    triggerMetadata?: Record<string, unknown>;
    fields?: Record<string, unknown>;
  } = {},
): unknown {
  const invocationId = options.invocationId ?? randomUUID();
  return new library.InvocationContext({
    invocationId,
    functionName: fn.name,
    logHandler: (level: string, ...args: unknown[]) =>
      log(toLogLevel(level), args.map(String).join(' '), {
        function: fn.name,
        invocationId,
        ...options.fields,
      }),
    triggerMetadata: options.triggerMetadata ?? {},
    options: {
      trigger: fn.trigger,
      extraInputs: fn.extraInputs,
      extraOutputs: fn.extraOutputs,
      return: fn.returnBinding,
    },
  });
}
