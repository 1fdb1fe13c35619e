import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseApiKeys } from '../../../shared/auth/apiKeys';
import { hostKeySettings } from '../../../devhost/auth/hostKeySettings';
import {
  DEFAULT_USERS_YAML,
  loadOrCreateLocalUsers,
  LocalUsersError,
  objectIdFor,
  parseLocalUsers,
} from '../../../devhost/auth/localUsers';

describe('local users (users.yaml)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'devhost-users-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the file with a viewer, an operator and an admin on first use (mode 0600)', () => {
    const file = path.join(dir, 'sub', 'users.yaml');
    const users = loadOrCreateLocalUsers(file);
    expect(users.map((u) => [u.name, u.roles])).toEqual([
      ['viewer@example.test', ['viewer']],
      ['operator@example.test', ['operator']],
      ['admin@example.test', ['admin']],
    ]);
    expect(readFileSync(file, 'utf8')).toBe(DEFAULT_USERS_YAML);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(users[0]?.objectId).toBe(objectIdFor('viewer@example.test'));
    expect(users[0]?.objectId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('keeps what the developer wrote', () => {
    const file = path.join(dir, 'users.yaml');
    writeFileSync(file, 'users:\n  - { name: grace@lab.test, roles: [operator, admin], objectId: oid-7 }\n');
    expect(loadOrCreateLocalUsers(file)).toEqual([
      { name: 'grace@lab.test', roles: ['operator', 'admin'], objectId: 'oid-7' },
    ]);
  });

  it.each([
    ['not YAML', 'users: [', /is not valid YAML/],
    ['no users', 'people: []', /non-empty "users" list/],
    ['a name with markup', 'users: [{ name: "<b>x</b>", roles: [viewer] }]', /users\[0\]: name/],
    ['roles not a list', 'users: [{ name: a, roles: viewer }]', /users\[0\]: roles/],
    ['a bad object id', 'users: [{ name: a, roles: [], objectId: "a b" }]', /users\[0\]: objectId/],
  ])('names the problem of a file with %s', (_what, text, message) => {
    expect(() => parseLocalUsers(text)).toThrow(LocalUsersError);
    expect(() => parseLocalUsers(text)).toThrow(message);
  });
});

describe('hostKeySettings', () => {
  it('gives the app the host keys with roles: master admin, operator* operator, others viewer', () => {
    const keys = {
      masterKey: 'm'.repeat(43),
      functionKeys: { default: 'd'.repeat(43), 'operator-ci': 'o'.repeat(43) },
      systemKeys: { durabletask_extension: 's'.repeat(43) },
    };
    const problems: string[] = [];
    const parsed = parseApiKeys(hostKeySettings(keys).AUTH_KEYS, problems);
    expect(problems).toEqual([]);
    expect(parsed.map((k) => [k.name, k.role])).toEqual([
      ['master', 'admin'],
      ['default', 'viewer'],
      ['operator-ci', 'operator'],
    ]);
    expect(hostKeySettings(keys).AUTH_KEYS).not.toContain('s'.repeat(43)); // system keys are the host's own
  });
});
