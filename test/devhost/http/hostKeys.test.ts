import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeys, isAuthorized, loadOrCreateKeys, type HostKeys } from '../../../devhost/http/hostKeys';

describe('isAuthorized', () => {
  const keys: HostKeys = {
    masterKey: 'master-key-000000000000000000000000000000',
    functionKeys: {
      default: 'function-key-0000000000000000000000000000',
      other: 'other-function-key-0000000000000000000000',
    },
    systemKeys: { durabletask_extension: 'system-key-000000000000000000000000000000' },
  };
  const functionKey = keys.functionKeys.default;
  const systemKey = keys.systemKeys.durabletask_extension;
  const wrongKey = 'wrong-key-0000000000000000000000000000000'; // same length as the master key

  it('lets anything through at the anonymous level', () => {
    expect(isAuthorized(keys, 'anonymous', undefined)).toBe(true);
    expect(isAuthorized(keys, 'anonymous', wrongKey)).toBe(true);
  });

  it('needs a function key (any named one) or the master key at the function level', () => {
    expect(isAuthorized(keys, 'function', undefined)).toBe(false);
    expect(isAuthorized(keys, 'function', '')).toBe(false);
    expect(isAuthorized(keys, 'function', functionKey)).toBe(true);
    expect(isAuthorized(keys, 'function', keys.functionKeys.other)).toBe(true);
    expect(isAuthorized(keys, 'function', keys.masterKey)).toBe(true);
    expect(isAuthorized(keys, 'function', systemKey)).toBe(false);
  });

  it('needs the master key at the admin level: a function or system key is not enough', () => {
    expect(isAuthorized(keys, 'admin', undefined)).toBe(false);
    expect(isAuthorized(keys, 'admin', functionKey)).toBe(false);
    expect(isAuthorized(keys, 'admin', systemKey)).toBe(false);
    expect(isAuthorized(keys, 'admin', keys.masterKey)).toBe(true);
  });

  it('needs a system key or the master key at the system level', () => {
    expect(isAuthorized(keys, 'system', undefined)).toBe(false);
    expect(isAuthorized(keys, 'system', functionKey)).toBe(false);
    expect(isAuthorized(keys, 'system', systemKey)).toBe(true);
    expect(isAuthorized(keys, 'system', keys.masterKey)).toBe(true);
  });

  it('lets the master key satisfy every level', () => {
    for (const level of ['anonymous', 'function', 'admin', 'system'] as const) {
      expect(isAuthorized(keys, level, keys.masterKey)).toBe(true);
    }
  });

  it('refuses a wrong key at every protected level, whatever its length', () => {
    for (const level of ['function', 'admin', 'system'] as const) {
      expect(isAuthorized(keys, level, wrongKey)).toBe(false);
      expect(isAuthorized(keys, level, 'short')).toBe(false);
      expect(isAuthorized(keys, level, `${keys.masterKey}x`)).toBe(false);
      expect(isAuthorized(keys, level, keys.masterKey.toUpperCase())).toBe(false);
    }
  });
});

describe('generateKeys', () => {
  it('creates distinct random master, default function and durable system keys', () => {
    const a = generateKeys();
    const b = generateKeys();
    const all = [a.masterKey, a.functionKeys.default, a.systemKeys.durabletask_extension];
    expect(all.every((k) => typeof k === 'string' && k.length >= 32)).toBe(true);
    expect(new Set(all).size).toBe(3);
    expect(b.masterKey).not.toBe(a.masterKey);
  });
});

describe('loadOrCreateKeys', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'devhost-keys-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the keys file (and its directory) with mode 0600 on first use', () => {
    const file = path.join(dir, 'nested', '.devhost', 'keys.json');
    const keys = loadOrCreateKeys(file);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(keys);
    expect(keys.functionKeys.default).toEqual(expect.any(String));
    expect(keys.systemKeys.durabletask_extension).toEqual(expect.any(String));
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('reads the same keys back instead of creating new ones', () => {
    const file = path.join(dir, 'keys.json');
    const first = loadOrCreateKeys(file);
    const contents = readFileSync(file, 'utf8');
    const second = loadOrCreateKeys(file);
    expect(second).toEqual(first);
    expect(readFileSync(file, 'utf8')).toBe(contents);
    expect(isAuthorized(second, 'admin', first.masterKey)).toBe(true);
  });

  it('uses keys from an existing file as they are', () => {
    const file = path.join(dir, 'keys.json');
    const existing: HostKeys = {
      masterKey: 'm',
      functionKeys: { default: 'f' },
      systemKeys: { durabletask_extension: 's' },
    };
    writeFileSync(file, JSON.stringify(existing));
    expect(loadOrCreateKeys(file)).toEqual(existing);
  });

  it('refuses a malformed keys file with a message saying what to do', () => {
    const file = path.join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify({ masterKey: 42 }));
    expect(() => loadOrCreateKeys(file)).toThrow(/malformed: delete it/);
  });
});
