export interface FailoverPlaneErrorOptions {
  /** The error this one classifies (an SDK error, a transport error); never shown in `message`. */
  cause?: unknown;
}

/**
 * Base of the failure kinds the control plane distinguishes (durabletask-js style): a stable `code` to branch on and
 * to log, and `retryable`, which says whether the same call may succeed if simply tried again later. Messages name
 * the resource concerned and never carry keys, lease ids, signatures or connection strings.
 */
export abstract class FailoverPlaneError extends Error {
  abstract readonly code: string;
  abstract readonly retryable: boolean;

  constructor(message: string, options: FailoverPlaneErrorOptions = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
  }
}

/**
 * True for an error that says "try the same call again later". Read by shape, not `instanceof`, so it also works on
 * an error that crossed a realm or was rebuilt from JSON.
 */
export function isRetryable(error: unknown): boolean {
  return (error as { retryable?: unknown } | null | undefined)?.retryable === true;
}
