import { FailoverPlaneError, type FailoverPlaneErrorOptions } from './failoverPlaneError';

/**
 * The durable backend (the task hub's storage, or the Durable Task Scheduler) did not answer a client call: starting,
 * reading or signalling an orchestration. Temporary: callers answer 503 with Retry-After.
 */
export class DurableBackendUnavailableError extends FailoverPlaneError {
  override readonly name = 'DurableBackendUnavailableError';
  readonly code = 'DurableBackendUnavailable';
  readonly retryable = true;

  constructor(message: string, options: FailoverPlaneErrorOptions = {}) {
    super(message, options);
  }
}
