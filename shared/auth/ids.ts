/**
 * Cluster and node ids follow the one id rule of `shared/contracts/ids.ts`: 1–63 lowercase letters, digits and
 * single dashes. Key derivation and request signing rely on ids containing neither `/` nor a newline, which are
 * their separators, so that no two (cluster, node) pairs share a key or a canonical string.
 */
export { assertId, isId } from '../contracts/ids';

export const isPositiveSafeInteger = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
