import { FailoverPlaneError } from './failoverPlaneError';

/** The witness blob does not hold a valid witness record (hand-edited or written by something else). */
export class WitnessRecordCorruptError extends FailoverPlaneError {
  override readonly name = 'WitnessRecordCorruptError';
  readonly code = 'WitnessRecordCorrupt';
  readonly retryable = false;
}
