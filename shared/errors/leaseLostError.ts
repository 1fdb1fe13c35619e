import { FailoverPlaneError } from './failoverPlaneError';

/**
 * The caller no longer holds the lease it acted under (it expired, was broken by an operator, or another holder took
 * it). Not retryable: whatever was decided under the lost lease must be re-decided from a fresh read under a new one.
 */
export class LeaseLostError extends FailoverPlaneError {
  override readonly name = 'LeaseLostError';
  readonly code = 'LeaseLost';
  readonly retryable = false;
}
