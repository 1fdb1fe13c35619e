import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDevhost, type Devhost } from '../../../devhost/startDevhost';

const root = path.resolve(__dirname, '../../..');

/** A one-function app that answers with the principal headers it received and the library's `request.user`. */
function whoamiApp(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'host.json'), JSON.stringify({ version: '2.0' }));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'whoami', main: 'index.js' }));
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  writeFileSync(
    path.join(dir, 'index.js'),
    `const { app } = require('@azure/functions');
app.http('whoami', {
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async (request) => ({
    jsonBody: {
      principal: request.headers.get('x-ms-client-principal'),
      name: request.headers.get('x-ms-client-principal-name'),
      idp: request.headers.get('x-ms-client-principal-idp'),
      user: user(request),
    },
  }),
});
// The library reads request.user from the principal headers and throws when only some are present.
function user(request) {
  try {
    return request.user ? { username: request.user.username, type: request.user.type } : null;
  } catch {
    return 'unreadable';
  }
}
`,
  );
  return dir;
}

const forged = Buffer.from(
  JSON.stringify({
    auth_typ: 'aad',
    claims: [
      { typ: 'roles', val: 'admin' },
      { typ: 'name', val: 'mallory' },
    ],
  }),
).toString('base64');

const decode = (header: string) =>
  JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as {
    auth_typ: string;
    claims: { typ: string; val: string }[];
    name_typ: string;
    role_typ: string;
  };

describe('the emulated App Service Authentication (AUTH_TRUST_CLIENT_PRINCIPAL=true)', () => {
  let dir: string;
  let devhost: Devhost;
  const get = (p: string, headers: Record<string, string> = {}) =>
    fetch(`${devhost.url}${p}`, { headers, redirect: 'manual' });
  const signIn = (form: Record<string, string>) =>
    fetch(`${devhost.url}/.auth/login/aad`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
      redirect: 'manual',
    });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'devhost-auth-'));
    devhost = await startDevhost({
      appDir: whoamiApp(path.join(dir, 'app')),
      port: 0,
      storage: 'memory',
      env: { AUTH_TRUST_CLIENT_PRINCIPAL: 'true' },
      log: () => undefined,
    });
  });
  afterAll(async () => {
    await devhost?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a sign-in page listing the local users and their roles', async () => {
    const page = await get('/.auth/login?post_login_redirect_uri=/api/whoami');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    for (const [name, role] of [
      ['viewer@example.test', 'viewer'],
      ['operator@example.test', 'operator'],
      ['admin@example.test', 'admin'],
    ])
      expect(html).toContain(`value="${name}">${name}</button> <span>${role}</span>`);
    expect(html).toContain('name="post_login_redirect_uri" value="/api/whoami"');
    expect(devhost.signIn?.url).toBe(`${devhost.url}/.auth/login`);
  });

  it('strips a principal header a client sends: without a session the app sees none', async () => {
    const r = await get('/api/whoami', {
      'x-ms-client-principal': forged,
      'x-ms-client-principal-name': 'mallory',
    });
    expect(await r.json()).toEqual({ principal: null, name: null, idp: null, user: null });
    expect((await get('/.auth/me')).status).toBe(401);
  });

  it('signs a user in with a cookie and injects their principal as the platform does; signs them out', async () => {
    const login = await signIn({ user: 'operator@example.test', post_login_redirect_uri: '/api/whoami' });
    expect(login.status).toBe(302);
    expect(login.headers.get('location')).toBe('/api/whoami');
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^AppServiceAuthSession=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
    const cookie = setCookie.split(';')[0] as string;

    const seen = (await (await get('/api/whoami', { cookie, 'x-ms-client-principal': forged })).json()) as {
      principal: string;
      name: string;
      idp: string;
      user: { username: string; type: string };
    };
    expect(seen).toMatchObject({
      name: 'operator@example.test',
      idp: 'aad',
      user: { username: 'operator@example.test', type: 'AppService' },
    });
    const principal = decode(seen.principal);
    expect(principal).toMatchObject({ auth_typ: 'aad', name_typ: 'name', role_typ: 'roles' });
    expect(principal.claims).toEqual(
      expect.arrayContaining([
        { typ: 'name', val: 'operator@example.test' },
        { typ: 'roles', val: 'operator' },
        { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: expect.any(String) },
      ]),
    );
    expect(principal.claims.filter((c) => c.typ === 'roles')).toEqual([{ typ: 'roles', val: 'operator' }]);

    const me = await get('/.auth/me', { cookie });
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual([
      {
        provider_name: 'aad',
        user_id: 'operator@example.test',
        user_claims: expect.arrayContaining([{ typ: 'roles', val: 'operator' }]),
      },
    ]);

    const logout = await get('/.auth/logout', { cookie });
    expect(logout.status).toBe(302);
    expect(logout.headers.get('location')).toBe('/.auth/login');
    expect(logout.headers.get('set-cookie')).toMatch(/^AppServiceAuthSession=; .*Max-Age=0/);
    expect(
      ((await (await get('/api/whoami', { cookie })).json()) as { principal: unknown }).principal,
    ).toBeNull();
    expect((await get('/.auth/me', { cookie })).status).toBe(401);
  });

  it('refuses an unknown user, a made-up session, and redirects only within the host', async () => {
    const unknown = await signIn({ user: 'nobody@example.test' });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('set-cookie')).toBeNull();
    expect(await unknown.text()).toContain('Choose one of the users below.');
    const made = await get('/api/whoami', { cookie: 'AppServiceAuthSession=made-up' });
    expect(((await made.json()) as { principal: unknown }).principal).toBeNull();
    for (const target of ['https://evil.example/', '//evil.example/', '/\\evil.example']) {
      const r = await signIn({ user: 'viewer@example.test', post_login_redirect_uri: target });
      expect(r.status).toBe(302);
      expect(r.headers.get('location')).toBe('/');
    }
    expect((await get('/.auth/nothing')).status).toBe(404);
  });
});

describe('without AUTH_TRUST_CLIENT_PRINCIPAL', () => {
  it('has no sign-in endpoints and leaves headers alone (the app must not trust them)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'devhost-auth-'));
    const devhost = await startDevhost({
      appDir: whoamiApp(path.join(dir, 'app')),
      port: 0,
      storage: 'memory',
      env: {},
      log: () => undefined,
    });
    try {
      expect((await fetch(`${devhost.url}/.auth/login`)).status).toBe(404);
      const r = await fetch(`${devhost.url}/api/whoami`, { headers: { 'x-ms-client-principal': forged } });
      const text = await r.text();
      expect([r.status, text]).toEqual([200, expect.stringContaining(`"principal":"${forged}"`)]);
      expect(devhost.signIn).toBeUndefined();
    } finally {
      await devhost.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
