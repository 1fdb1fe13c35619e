import { FailoverPlaneError, type FailoverPlaneErrorOptions } from './failoverPlaneError';

/** Storage did not answer usefully: a transport error, a timeout, throttling (429) or a server error (5xx). */
export class StorageUnavailableError extends FailoverPlaneError {
  override readonly name = 'StorageUnavailableError';
  readonly code = 'StorageUnavailable';
  readonly retryable = true;
  /** The HTTP status, when storage answered at all. */
  readonly statusCode: number | undefined;

  constructor(message: string, options: FailoverPlaneErrorOptions & { statusCode?: number } = {}) {
    super(message, options);
    this.statusCode = options.statusCode;
  }
}
