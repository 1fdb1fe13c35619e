import type { HostKeys } from '../http/hostKeys';

/**
 * `AUTH_KEYS` for an app that authorizes keys itself (routes `anonymous` at the host, the app checks keys and
 * roles): the devhost's own keys, so the keys it prints keep working. The master key is `master:admin`; a function
 * key is `<name>:operator` when its name starts with `operator`, `<name>:viewer` otherwise.
 */
export function hostKeySettings(keys: HostKeys): { AUTH_KEYS: string } {
  const entries = [`master:admin:${keys.masterKey}`];
  for (const [name, key] of Object.entries(keys.functionKeys)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) || name === 'master' || key.includes(',')) continue;
    entries.push(`${name}:${name.startsWith('operator') ? 'operator' : 'viewer'}:${key}`);
  }
  return { AUTH_KEYS: entries.join(',') };
}
