import { StorageUnavailableError } from '../errors';
import { isTransient, statusOf } from './tableErrors';

/**
 * Runs one storage call, turning transient failures into `StorageUnavailableError` (callers answer 503) and leaving
 * the rest (409, 412, 404 — outcomes each adapter maps itself) as they are. `what` names the resource, never a key.
 */
export async function storageCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isTransient(error)) {
      const statusCode = statusOf(error);
      throw new StorageUnavailableError(
        `storage did not answer for ${what}${statusCode ? ` (HTTP ${statusCode})` : ''}`,
        {
          cause: error,
          ...(statusCode ? { statusCode } : {}),
        },
      );
    }
    throw error;
  }
}
