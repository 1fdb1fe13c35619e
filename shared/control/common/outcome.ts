/**
 * What `shared/control` answers instead of HTTP: a value on success, or a refusal with a stable `code` (the name
 * callers branch on and logs show) and a `kind` (what sort of "no" it is). `functions/http/refusalToHttp.ts` is the
 * one place that turns a kind into an HTTP status; orchestrations and the CLI branch on the code.
 */
export type RefusalKind =
  /** The request itself is malformed or out of range (HTTP 400). */
  | 'invalid'
  /** Well-formed, but the content breaks a rule (HTTP 422). */
  | 'unprocessable'
  /** Credentials missing or wrong; one answer for every such case, so nothing is enumerated (HTTP 401). */
  | 'unauthenticated'
  /** Authenticated, but not allowed to do this (HTTP 403). */
  | 'forbidden'
  /** The named thing does not exist (HTTP 404). */
  | 'not-found'
  /** The state of the world disagrees (already issued, concurrent change, replayed sequence) (HTTP 409). */
  | 'conflict'
  /** Too large (HTTP 413). */
  | 'too-large'
  /** Try again later: a dependency is down or busy (HTTP 503 with Retry-After). */
  | 'unavailable';

export interface Refusal<Code extends string = string> {
  ok: false;
  kind: RefusalKind;
  code: Code;
  message: string;
  /** Extra fields for the caller (e.g. `problems`, `lastAcceptedSeq`); never secrets. */
  details?: Record<string, unknown>;
  /** For `unavailable`: how long to wait before retrying. */
  retryAfterSeconds?: number;
}

export type Outcome<T, Code extends string = string> = ({ ok: true } & T) | Refusal<Code>;

/** Builds a refusal. */
export function refuse<Code extends string>(
  kind: RefusalKind,
  code: Code,
  message: string,
  details?: Record<string, unknown>,
): Refusal<Code> {
  return details === undefined
    ? { ok: false, kind, code, message }
    : { ok: false, kind, code, message, details };
}

export function isRefusal(value: unknown): value is Refusal {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { ok?: unknown }).ok === false &&
    typeof (value as { code?: unknown }).code === 'string' &&
    typeof (value as { kind?: unknown }).kind === 'string'
  );
}
