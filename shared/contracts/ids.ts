import { z } from 'zod';

/**
 * The one id rule, for cluster and node ids: 1–63 lowercase letters, digits and single dashes, starting and ending
 * with a letter or digit. Ids are table keys, blob names, URL path segments and fields of the signed canonical
 * string, so the rule is stricter than all of them: no escaping anywhere, and never a `/`, `~` or newline (the
 * separators of key derivation, table partitions and signatures).
 */
export const ID_PATTERN = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,62}$/;

/** The rule in words, for error messages. */
export const ID_RULE =
  '1-63 lowercase letters, digits or single dashes, starting and ending with a letter or digit';

export const idSchema = z.string().regex(ID_PATTERN, `must be ${ID_RULE}`);

export const isId = (value: unknown): value is string => typeof value === 'string' && ID_PATTERN.test(value);

export function assertId(value: unknown, what: string): asserts value is string {
  if (!isId(value)) throw new RangeError(`${what} must be ${ID_RULE}`);
}
