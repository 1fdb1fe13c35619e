import { createHash, timingSafeEqual } from 'node:crypto';
import { isRole, type Role } from './roles';

/** A key for automation (`AUTH_KEYS`): its name goes to the audit log as `key:<name>`; the key itself never. */
export interface ApiKey {
  readonly name: string;
  readonly role: Role;
  /** SHA-256 of the key: compared in constant time, the key text itself is not kept. */
  readonly digest: Buffer;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MIN_KEY_CHARS = 16;

const digestOf = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/**
 * Parses `AUTH_KEYS`: comma-separated `<name>:<role>:<key>` (role viewer, operator or admin; the key at least 16
 * characters, no comma). A problem names the entry's position or name, never the key.
 */
export function parseApiKeys(text: string | undefined, problems: string[]): readonly ApiKey[] {
  const keys: ApiKey[] = [];
  const entries = (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  entries.forEach((entry, index) => {
    const first = entry.indexOf(':');
    const second = first < 0 ? -1 : entry.indexOf(':', first + 1);
    const where = `AUTH_KEYS entry ${index + 1}`;
    if (second < 0) {
      problems.push(`${where} must be <name>:<role>:<key>`);
      return;
    }
    const name = entry.slice(0, first);
    const role = entry.slice(first + 1, second);
    const key = entry.slice(second + 1);
    if (!NAME.test(name)) problems.push(`${where}: the name must be 1-64 letters, digits, '.', '_' or '-'`);
    else if (keys.some((k) => k.name === name)) problems.push(`${where}: the name ${name} is used twice`);
    else if (!isRole(role)) problems.push(`${where} (${name}): the role must be viewer, operator or admin`);
    else if (key.length < MIN_KEY_CHARS)
      problems.push(`${where} (${name}): the key must be at least ${MIN_KEY_CHARS} characters`);
    else keys.push(Object.freeze({ name, role, digest: digestOf(key) }));
  });
  return Object.freeze(keys);
}

/** The key `presented` is, or undefined (every key is compared, in constant time). */
export function matchApiKey(keys: readonly ApiKey[], presented: string): ApiKey | undefined {
  const digest = digestOf(presented);
  let found: ApiKey | undefined;
  for (const key of keys) if (timingSafeEqual(key.digest, digest) && !found) found = key;
  return found;
}
