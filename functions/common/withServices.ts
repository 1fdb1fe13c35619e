import { getServices, type Services } from '../../shared/services/services';

/**
 * Hands a handler the process's services (the composition root): `withServices((services, request, context) => …)`.
 * A failure to build them (storage unreachable) is a retryable error, which the HTTP error policy answers with 503.
 */
export function withServices<Args extends unknown[], R>(
  handler: (services: Services, ...args: Args) => Promise<R>,
): (...args: Args) => Promise<R> {
  return async (...args: Args) => handler(await getServices(), ...args);
}
