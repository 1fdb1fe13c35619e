import path from 'node:path';
import { Readable } from 'node:stream';
import { realRequire } from '../../../devhost/realRequire';
import { startDevhost, type Devhost } from '../../../devhost/startDevhost';

type LogLine = { level: string; message: string; fields: Record<string, unknown> | undefined };

const appDir = path.join(__dirname, '..', '..', 'fixtures', 'apps', 'http-app');
// The fixture app runs on Node's real require and reads the real process.env; jest hands tests a copy.
const realEnv = (realRequire(__filename)('node:process') as NodeJS.Process).env;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('HTTP triggers of a JavaScript app', () => {
  let devhost: Devhost;
  const logs: LogLine[] = [];
  const envBefore = { ...realEnv };
  const get = (pathAndQuery: string, init: RequestInit = {}) => fetch(`${devhost.url}${pathAndQuery}`, init);
  const echoInvocations = () =>
    logs.filter((l) => l.fields?.function === 'echo' && l.message.startsWith('echo invoked'));

  beforeAll(async () => {
    delete realEnv.GREETING; // local.settings.json never overrides a value the environment already has
    devhost = await startDevhost({
      appDir,
      port: 0,
      storage: 'memory',
      maxRequestBodyBytes: 1024,
      env: realEnv,
      log: (level, message, fields) => logs.push({ level, message, fields }),
    });
  });

  afterAll(async () => {
    await devhost?.stop();
    // Leave the worker's real environment as found (local.settings Values, AzureWebJobsStorage).
    for (const key of Object.keys(realEnv)) if (!(key in envBefore)) delete realEnv[key];
    Object.assign(realEnv, envBefore);
  });

  it('loads every function file matched by the package.json main glob', () => {
    expect([...devhost.app.functions.keys()].sort()).toEqual(
      ['adminOnly', 'crash', 'echo', 'greeting', 'hang', 'items', 'itemsOptional', 'secret', 'upload'].sort(),
    );
    expect(devhost.app.files.map((f) => path.basename(f))).toEqual([
      'auth.js',
      'echo.js',
      'failures.js',
      'greeting.js',
      'items.js',
      'upload.js',
    ]);
  });

  it('passes route parameters and the query string to the handler', async () => {
    const res = await get('/api/items/42?q=blue%20box');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ id: '42', q: 'blue box' });
  });

  it('serves a route under the host.json routePrefix only', async () => {
    expect((await get('/items/42')).status).toBe(404);
  });

  it('matches an optional parameter when present and when absent', async () => {
    const present = await get('/api/things/box');
    expect(present.status).toBe(200);
    expect(await present.json()).toEqual({ name: 'box' });
    const absent = await get('/api/things');
    expect(absent.status).toBe(200);
    expect(await absent.json()).toEqual({ name: null });
  });

  it('answers 404 when an {id:int} constraint rejects the value', async () => {
    const res = await get('/api/items/abc');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: expect.objectContaining({ code: 'NotFound' }) });
  });

  it('answers 405 with an Allow header and a JSON error for a method the function does not accept', async () => {
    const res = await get('/api/items/42', { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ error: expect.objectContaining({ code: 'MethodNotAllowed' }) });

    const echo = await get('/api/echo');
    expect(echo.status).toBe(405);
    expect(echo.headers.get('allow')).toBe('POST');
  });

  describe('a function-level function', () => {
    it('refuses a request without a key with 401 and a JSON error', async () => {
      const res = await get('/api/secret');
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: expect.objectContaining({ code: 'Unauthorized' }) });
    });

    it('refuses a wrong key', async () => {
      expect((await get('/api/secret', { headers: { 'x-functions-key': 'not-a-key' } })).status).toBe(401);
      expect((await get('/api/secret?code=not-a-key')).status).toBe(401);
    });

    it('accepts the function key in the x-functions-key header', async () => {
      const res = await get('/api/secret', {
        headers: { 'x-functions-key': devhost.keys.functionKeys.default! },
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('the secret');
    });

    it('accepts the function key in the code query parameter', async () => {
      const res = await get(`/api/secret?code=${encodeURIComponent(devhost.keys.functionKeys.default!)}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('the secret');
    });

    it('accepts the master key', async () => {
      expect(
        (await get('/api/secret', { headers: { 'x-functions-key': devhost.keys.masterKey } })).status,
      ).toBe(200);
    });
  });

  describe('an admin-level function', () => {
    it('refuses the function key with 401', async () => {
      const res = await get('/api/adminOnly', {
        headers: { 'x-functions-key': devhost.keys.functionKeys.default! },
      });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: expect.objectContaining({ code: 'Unauthorized' }) });
    });

    it('accepts the master key', async () => {
      const res = await get('/api/adminonly', { headers: { 'x-functions-key': devhost.keys.masterKey } });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('admin only');
    });
  });

  it('returns the echo response with its status, headers, body and one set-cookie per cookie', async () => {
    const before = echoInvocations().length;
    const res = await get('/api/echo', {
      method: 'POST',
      body: 'ping body',
      headers: { 'content-type': 'text/plain' },
    });
    expect(res.status).toBe(201);
    expect(await res.text()).toBe('ping body');
    expect(res.headers.get('x-echo')).toBe('echoed');
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const cookies = res.headers.getSetCookie();
    expect(cookies).toHaveLength(2);
    expect(cookies[0]).toMatch(/^session=abc123;/);
    expect(cookies[0]).toContain('Path=/');
    expect(cookies[0]).toContain('Max-Age=60');
    expect(cookies[0]).toContain('HttpOnly');
    expect(cookies[1]).toMatch(/^theme=dark;/);
    expect(cookies[1]).toContain('Domain=example.test');
    expect(cookies[1]).toContain('Expires=Wed, 01 Jan 2031 00:00:00 GMT');
    expect(cookies[1]).toContain('SameSite=Lax');
    expect(echoInvocations()).toHaveLength(before + 1);
  });

  it('accepts a body of exactly maxRequestBodyBytes', async () => {
    const body = 'y'.repeat(1024);
    const res = await get('/api/echo', { method: 'POST', body });
    expect(res.status).toBe(201);
    expect(await res.text()).toBe(body);
  });

  it('answers 413 with a JSON error for a body over maxRequestBodyBytes, without invoking the handler', async () => {
    const before = echoInvocations().length;
    const res = await get('/api/echo', { method: 'POST', body: 'x'.repeat(1025) });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: expect.objectContaining({ code: 'PayloadTooLarge' }) });
    expect(echoInvocations()).toHaveLength(before);
  });

  it('answers 413 for a chunked body (no content-length) that grows past the limit', async () => {
    const before = echoInvocations().length;
    const stream = Readable.toWeb(Readable.from([Buffer.alloc(700, 97), Buffer.alloc(700, 98)]));
    const res = await get('/api/echo', { method: 'POST', body: stream, duplex: 'half' });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: expect.objectContaining({ code: 'PayloadTooLarge' }) });
    expect(echoInvocations()).toHaveLength(before);
  });

  it('turns a throwing handler into a 500 JSON error whose errorId is in the host log', async () => {
    const res = await get('/api/crash');
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; errorId: string } };
    expect(body.error.code).toBe('InternalServerError');
    expect(body.error.errorId).toMatch(UUID);
    expect(JSON.stringify(body)).not.toContain('failed on purpose'); // the error itself stays in the log
    const line = logs.find((l) => l.level === 'error' && l.fields?.errorId === body.error.errorId);
    expect(line).toBeDefined();
    expect(line!.message).toContain('/api/crash');
    expect(String(line!.fields?.error)).toContain('crash function failed on purpose');
  });

  it('applies local.settings.json Values to the environment the app sees', async () => {
    const res = await get('/api/greeting');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello-from-settings');
  });

  it('answers 404 with a JSON error for a path no function serves', async () => {
    for (const unknown of ['/api/nothing-here', '/nothing-here', '/api/items/42/extra']) {
      const res = await get(unknown);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({ error: expect.objectContaining({ code: 'NotFound' }) });
    }
  });

  it('answers 400, not 500, for a path with a malformed percent-encoding', async () => {
    for (const bad of ['/api/things/%ZZ', '/api/items/%E0', '/runtime/webhooks/durabletask/instances/%ZZ']) {
      const res = await get(bad);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: expect.objectContaining({ code: 'InvalidPercentEncoding' }),
      });
    }
  });

  it('lists the functions at GET /admin/functions for the master key only', async () => {
    expect((await get('/admin/functions')).status).toBe(401);
    expect(
      (await get('/admin/functions', { headers: { 'x-functions-key': devhost.keys.functionKeys.default! } }))
        .status,
    ).toBe(401);

    const res = await get('/admin/functions', { headers: { 'x-functions-key': devhost.keys.masterKey } });
    expect(res.status).toBe(200);
    const list = (await res.json()) as { name: string; trigger: string; route?: string }[];
    expect(list.map((f) => f.name).sort()).toEqual(
      ['adminOnly', 'crash', 'echo', 'greeting', 'hang', 'items', 'itemsOptional', 'secret', 'upload'].sort(),
    );
    expect(list.find((f) => f.name === 'items')).toEqual({
      name: 'items',
      trigger: 'httpTrigger',
      route: 'api/items/{id:int}',
    });
    expect(list.find((f) => f.name === 'secret')?.route).toBe('api/secret');
  });

  it('ends a never-settling handler with a 500 after host.json functionTimeout (00:00:01)', async () => {
    const started = Date.now();
    // The signal turns a hang into a test failure well before jest's own timeout.
    const res = await get('/api/hang', { signal: AbortSignal.timeout(15_000) });
    const elapsed = Date.now() - started;
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; errorId: string } };
    expect(body.error.code).toBe('InternalServerError');
    expect(elapsed).toBeGreaterThanOrEqual(950); // it waited for the timeout rather than failing at once
    expect(elapsed).toBeLessThan(15_000);
    const line = logs.find((l) => l.level === 'error' && l.fields?.errorId === body.error.errorId);
    expect(String(line?.fields?.error)).toMatch(/Timeout value of 1000 ms exceeded by function hang/);
  });
});
