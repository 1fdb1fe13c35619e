import { ID_PATTERN } from '../contracts/ids';

/** The HTTP status of an Azure SDK error (RestError), read by shape so it works across SDK copies and realms. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** A storage failure worth retrying (throttling, server errors, transport): answer 503, not 500. */
export function isTransient(error: unknown): boolean {
  const status = statusOf(error);
  if (status === undefined) return true; // connection refused, reset, timeout
  return status === 408 || status === 429 || status >= 500;
}

/**
 * An id about to be placed in an OData filter. Ids are validated at the API edge already; this is the last guard
 * before a filter string, so a value that could break out of its quotes never reaches storage.
 */
export function filterId(id: string): string {
  if (!ID_PATTERN.test(id))
    throw new Error(`refusing to query with an invalid id ${JSON.stringify(id.slice(0, 80))}`);
  return id;
}
