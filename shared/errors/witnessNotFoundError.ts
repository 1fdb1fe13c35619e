import { FailoverPlaneError } from './failoverPlaneError';

/** The cluster has no witness blob yet: no decider has ever acquired it (acquiring creates it). */
export class WitnessNotFoundError extends FailoverPlaneError {
  override readonly name = 'WitnessNotFoundError';
  readonly code = 'WitnessNotFound';
  readonly retryable = false;
}
