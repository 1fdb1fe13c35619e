import { ID_PATTERN as ID } from '../domain/tableKeys';

/**
 * Cluster and node ids as `shared/domain/tableKeys.ts` defines them: 1–63 lowercase letters, digits and single
 * dashes. Key derivation and request signing rely on ids containing neither `/` nor a newline, which are their
 * separators, so that no two (cluster, node) pairs share a key or a canonical string.
 */

export const isId = (value: unknown): value is string => typeof value === 'string' && ID.test(value);

export function assertId(value: unknown, what: string): asserts value is string {
  if (!isId(value)) {
    throw new RangeError(
      `${what} must be 1-63 lowercase letters, digits or single dashes, starting and ending with a letter or digit`,
    );
  }
}

export const isPositiveSafeInteger = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
