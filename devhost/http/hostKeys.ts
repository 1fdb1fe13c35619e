import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The keys the devhost enforces, like the Functions host: a master (admin) key, function keys, system keys. */
export interface HostKeys {
  masterKey: string;
  functionKeys: Record<string, string>;
  systemKeys: Record<string, string>;
}

export type AuthLevel = 'anonymous' | 'function' | 'admin' | 'system';

const newKey = () => randomBytes(32).toString('base64url');

export function generateKeys(): HostKeys {
  return {
    masterKey: newKey(),
    functionKeys: { default: newKey() },
    systemKeys: { durabletask_extension: newKey() },
  };
}

/** Reads the keys file, creating it (mode 0600) on first use. */
export function loadOrCreateKeys(file: string): HostKeys {
  if (existsSync(file)) {
    const keys = JSON.parse(readFileSync(file, 'utf8')) as Partial<HostKeys>;
    if (typeof keys.masterKey !== 'string' || !keys.functionKeys || !keys.systemKeys) {
      throw new Error(`The keys file ${file} is malformed: delete it to have new keys generated`);
    }
    return keys as HostKeys;
  }
  const keys = generateKeys();
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether `presented` (from `x-functions-key` or `code`) satisfies `level`. The master key satisfies every level. */
export function isAuthorized(keys: HostKeys, level: AuthLevel, presented: string | undefined): boolean {
  if (level === 'anonymous') return true;
  if (!presented) return false;
  if (same(presented, keys.masterKey)) return true;
  if (level === 'function') return Object.values(keys.functionKeys).some((k) => same(presented, k));
  if (level === 'system') return Object.values(keys.systemKeys).some((k) => same(presented, k));
  return false;
}
