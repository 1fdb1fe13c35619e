import { FailoverPlaneError, type FailoverPlaneErrorOptions } from './failoverPlaneError';

/**
 * A decision carried an epoch that is not strictly greater than the recorded one. Not retryable: the decision was
 * made on stale state and must be re-made.
 */
export class StaleEpochError extends FailoverPlaneError {
  override readonly name = 'StaleEpochError';
  readonly code = 'StaleEpoch';
  readonly retryable = false;
  readonly currentEpoch: number;
  readonly proposedEpoch: number;

  constructor(
    message: string,
    options: FailoverPlaneErrorOptions & { currentEpoch: number; proposedEpoch: number },
  ) {
    super(message, options);
    this.currentEpoch = options.currentEpoch;
    this.proposedEpoch = options.proposedEpoch;
  }
}
