import { FailoverPlaneError } from './failoverPlaneError';

/** Another decider holds (or is being forced to give up) the witness lease. Retryable once it is released. */
export class WitnessBusyError extends FailoverPlaneError {
  override readonly name = 'WitnessBusyError';
  readonly code = 'WitnessBusy';
  readonly retryable = true;
}
