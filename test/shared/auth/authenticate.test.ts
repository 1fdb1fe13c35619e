import { parseApiKeys } from '../../../shared/auth/apiKeys';
import { authenticate, authorizeCaller, type AuthSettings } from '../../../shared/auth/authenticate';
import { encodeClientPrincipal } from '../../../shared/auth/clientPrincipal';
import { roleIncludes, ROLES } from '../../../shared/auth/roles';

const ADMIN_KEY = 'a'.repeat(32);
const CI_KEY = 'c'.repeat(32);
const READ_KEY = 'r'.repeat(32);

function settings(trustClientPrincipal: boolean): AuthSettings {
  const problems: string[] = [];
  const keys = parseApiKeys(
    `master:admin:${ADMIN_KEY}, ci-deploy:operator:${CI_KEY},default:viewer:${READ_KEY}`,
    problems,
  );
  expect(problems).toEqual([]);
  return { trustClientPrincipal, keys };
}

const request = (headers: Record<string, string> = {}, query: Record<string, string> = {}) => ({
  header: (name: string) => headers[name],
  query: (name: string) => query[name],
});

const principal = (roles: string[]) =>
  encodeClientPrincipal({ name: 'ada@contoso.com', objectId: 'oid-1', roles });

describe('roles', () => {
  it('orders admin ⊇ operator ⊇ viewer', () => {
    expect(ROLES.map((r) => ROLES.filter((n) => roleIncludes(r, n)))).toEqual([
      ['viewer'],
      ['viewer', 'operator'],
      ['viewer', 'operator', 'admin'],
    ]);
  });
});

describe('parseApiKeys', () => {
  it('names each bad entry by position and name, never showing the key', () => {
    const problems: string[] = [];
    const keys = parseApiKeys(
      `nokey, bad name:viewer:${'k'.repeat(20)}, x:root:${'s'.repeat(20)}, short:viewer:tiny, ok:viewer:${'o'.repeat(20)}, ok:admin:${'p'.repeat(20)}`,
      problems,
    );
    expect(keys.map((k) => k.name)).toEqual(['ok']);
    expect(problems).toEqual([
      'AUTH_KEYS entry 1 must be <name>:<role>:<key>',
      "AUTH_KEYS entry 2: the name must be 1-64 letters, digits, '.', '_' or '-'",
      'AUTH_KEYS entry 3 (x): the role must be viewer, operator or admin',
      'AUTH_KEYS entry 4 (short): the key must be at least 16 characters',
      'AUTH_KEYS entry 6: the name ok is used twice',
    ]);
    expect(problems.join(' ')).not.toMatch(/kkkk|ssss|tiny|pppp/);
  });
});

describe('authenticate', () => {
  it('maps a key to its role and its name to the actor (header or code parameter)', () => {
    const s = settings(false);
    expect(authenticate(request({ 'x-functions-key': ADMIN_KEY }), s)).toEqual({
      ok: true,
      caller: { kind: 'key', name: 'master', roles: ['admin'], actor: 'key:master' },
    });
    expect(authenticate(request({}, { code: CI_KEY }), s)).toMatchObject({
      ok: true,
      caller: { roles: ['operator'], actor: 'key:ci-deploy' },
    });
  });

  it('refuses a wrong key with 401 even when a principal is present', () => {
    const outcome = authenticate(
      request({ 'x-functions-key': 'not-a-key-at-all', 'x-ms-client-principal': principal(['admin']) }),
      settings(true),
    );
    expect(outcome).toMatchObject({ ok: false, status: 401, code: 'InvalidKey' });
  });

  it('trusts the principal only when configured to', () => {
    const headers = { 'x-ms-client-principal': principal(['admin']) };
    expect(authenticate(request(headers), settings(true))).toEqual({
      ok: true,
      caller: {
        kind: 'user',
        name: 'ada@contoso.com',
        objectId: 'oid-1',
        roles: ['admin'],
        actor: 'user:ada@contoso.com (oid-1)',
      },
    });
    expect(authenticate(request(headers), settings(false))).toMatchObject({
      ok: false,
      status: 401,
      code: 'Unauthenticated',
    });
  });

  it('answers 401 for no identity and for a malformed principal', () => {
    expect(authenticate(request(), settings(true))).toMatchObject({ status: 401, code: 'Unauthenticated' });
    expect(authenticate(request({ 'x-ms-client-principal': 'e30=' }), settings(true))).toMatchObject({
      status: 401,
      code: 'InvalidClientPrincipal',
    });
  });
});

describe('authorizeCaller', () => {
  it('lets a stronger role through and refuses a weaker one with 403 naming the role', () => {
    const user = authenticate(request({ 'x-ms-client-principal': principal(['viewer']) }), settings(true));
    if (!user.ok) throw new Error('expected a user');
    expect(authorizeCaller(user.caller, 'viewer').ok).toBe(true);
    expect(authorizeCaller(user.caller, 'operator')).toMatchObject({
      ok: false,
      status: 403,
      code: 'MissingRole',
      requiredRole: 'operator',
      message: 'this needs the operator role; user:ada@contoso.com (oid-1) has only viewer',
    });
    const none = authenticate(request({ 'x-ms-client-principal': principal([]) }), settings(true));
    if (!none.ok) throw new Error('expected a user');
    expect(authorizeCaller(none.caller, 'viewer')).toMatchObject({ status: 403, requiredRole: 'viewer' });
    const admin = authenticate(request({ 'x-functions-key': ADMIN_KEY }), settings(false));
    if (!admin.ok) throw new Error('expected a key');
    expect(ROLES.every((r) => authorizeCaller(admin.caller, r).ok)).toBe(true);
  });
});
