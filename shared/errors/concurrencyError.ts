import { FailoverPlaneError } from './failoverPlaneError';

/**
 * A conditional write lost the race: the ETag it was based on is no longer current. Retryable after a fresh read
 * (re-read, re-decide, write again), never by repeating the same write.
 */
export class ConcurrencyError extends FailoverPlaneError {
  override readonly name = 'ConcurrencyError';
  readonly code = 'ConcurrencyConflict';
  readonly retryable = true;
}
