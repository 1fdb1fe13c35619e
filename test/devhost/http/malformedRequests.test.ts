import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { handleDurableApi } from '../../../devhost/http/durableHttpApi';
import type { DurableEngine } from '../../../devhost/durable/durableEngine';
import { realRequire } from '../../../devhost/realRequire';
import { startDevhost, type Devhost } from '../../../devhost/startDevhost';

const appDir = path.join(__dirname, '..', '..', 'fixtures', 'apps', 'http-app');
const realEnv = (realRequire(__filename)('node:process') as NodeJS.Process).env;

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Polls `condition` until it holds or `deadlineMs` passes. */
async function until(condition: () => boolean, deadlineMs: number, what: string): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A raw connection that collects what the server sends and parses the first response once it is complete. */
class RawClient {
  readonly socket: Socket;
  private received = Buffer.alloc(0);
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => (this.received = Buffer.concat([this.received, chunk])));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined); // a reset after the answer is expected in some tests
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  text(): string {
    return this.received.toString('latin1');
  }

  response(): RawResponse | undefined {
    const text = this.received.toString('latin1');
    const headEnd = text.indexOf('\r\n\r\n');
    if (headEnd < 0) return undefined;
    const [statusLine = '', ...lines] = text.slice(0, headEnd).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const body = text.slice(headEnd + 4);
    const status = Number(statusLine.split(' ')[1]);
    if (status < 200) return { status, headers, body: '' }; // an interim response has no body
    const length = Number(headers['content-length'] ?? NaN);
    if (Number.isFinite(length) ? body.length < length : !this.closed) return undefined;
    return { status, headers, body };
  }

  async awaitResponse(deadlineMs = 5000): Promise<RawResponse> {
    await until(() => this.response() !== undefined, deadlineMs, 'the response');
    return this.response() as RawResponse;
  }
}

async function rawRequest(port: number, request: string): Promise<RawResponse> {
  const client = await RawClient.open(port);
  client.socket.write(request);
  const response = await client.awaitResponse();
  client.socket.destroy();
  return response;
}

describe('malformed and unauthenticated requests', () => {
  let devhost: Devhost;
  const envBefore = { ...realEnv };

  beforeAll(async () => {
    devhost = await startDevhost({
      appDir,
      port: 0,
      storage: 'memory',
      maxRequestBodyBytes: 4096,
      env: realEnv,
      log: () => undefined,
    });
  });

  afterAll(async () => {
    await devhost?.stop();
    for (const key of Object.keys(realEnv)) if (!(key in envBefore)) delete realEnv[key];
    Object.assign(realEnv, envBefore);
  });

  it.each([
    [
      'an out-of-range port in Host',
      'GET /api/items/1 HTTP/1.1\r\nHost: a:99999\r\nConnection: close\r\n\r\n',
    ],
    ['an empty Host', 'GET /api/items/1 HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n'],
    ['a Host with a path in it', 'GET /api/items/1 HTTP/1.1\r\nHost: evil/x\r\nConnection: close\r\n\r\n'],
    ['no Host (HTTP/1.0)', 'GET /api/items/1 HTTP/1.0\r\n\r\n'],
    ['an empty Host (HTTP/1.0)', 'GET /api/items/1 HTTP/1.0\r\nHost:\r\n\r\n'],
    ['a target that is not a path', 'GET * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'],
  ])('answers 400 JSON to %s, and keeps serving', async (_, request) => {
    const res = await rawRequest(devhost.port, request);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res.body)).toEqual({ error: expect.objectContaining({ code: 'BadRequest' }) });
    const ok = await rawRequest(
      devhost.port,
      'GET /api/items/7 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ id: '7', q: null });
  });

  it('routes a protocol-relative target as a path (404), never as another origin', async () => {
    const res = await rawRequest(
      devhost.port,
      'GET //evil.test/api/items/1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    expect(res.status).toBe(404);
  });

  it('answers 400 JSON to a request line Node cannot parse', async () => {
    const res = await rawRequest(devhost.port, 'NOT AN HTTP REQUEST\r\n\r\n');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: expect.objectContaining({ code: 'BadRequest' }) });
  });

  it('answers 400 to a bad percent-encoding on every route, the durable API included', async () => {
    for (const target of [
      '/api/items/%ZZ',
      '/admin/%E0',
      '/runtime/webhooks/durabletask/instances/%ZZ',
      '/x%',
    ]) {
      const res = await rawRequest(
        devhost.port,
        `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
      );
      expect([target, res.status]).toEqual([target, 400]);
      expect(JSON.parse(res.body)).toEqual({
        error: expect.objectContaining({ code: 'InvalidPercentEncoding' }),
      });
    }
  });

  it('the durable API answers 400 (not a throw) to a bad percent-encoding reaching it directly', async () => {
    const engine = {} as DurableEngine; // never reached: the path is refused first
    const reply = await handleDurableApi(
      engine,
      { payload: () => ({}) },
      'instances/%ZZ',
      { method: 'GET', url: new URL('http://localhost/x'), headers: {}, body: Buffer.alloc(0) },
      'http://localhost',
    );
    expect(reply.status).toBe(400);
  });

  it('refuses a missing key with 401 before reading the body (the client has not finished sending)', async () => {
    const client = await RawClient.open(devhost.port);
    // 4000 bytes declared (under the 4096 limit), 10 sent: a host reading the body first would wait forever.
    client.socket.write(
      'POST /api/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4000\r\n\r\n0123456789',
    );
    const res = await client.awaitResponse();
    expect(res.status).toBe(401);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.body)).toEqual({
      error: expect.objectContaining({
        code: 'Unauthorized',
        message: expect.stringContaining('needs a function key'),
      }),
    });
    // The server stops listening to a client that keeps sending after the answer.
    const chunk = Buffer.alloc(64 * 1024, 120);
    const writer = setInterval(() => {
      if (!client.closed && client.socket.writable) client.socket.write(chunk);
    }, 5);
    try {
      await until(() => client.closed, 5000, 'the server to close the connection');
    } finally {
      clearInterval(writer);
      client.socket.destroy();
    }
  });

  it('refuses a chunked unauthenticated body and an unknown route before reading either', async () => {
    for (const [target, status] of [
      ['/api/upload', 401],
      ['/api/no-such-function', 404],
      ['/admin/functions', 401],
    ] as const) {
      const client = await RawClient.open(devhost.port);
      client.socket.write(
        `POST ${target} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n`,
      );
      const res = await client.awaitResponse();
      client.socket.destroy();
      expect([target, res.status]).toEqual([target, status]);
    }
  });

  it('refuses a declared Content-Length over the limit with 413 before reading the body', async () => {
    const key = devhost.keys.functionKeys.default as string;
    const client = await RawClient.open(devhost.port);
    client.socket.write(
      `POST /api/upload HTTP/1.1\r\nHost: localhost\r\nx-functions-key: ${key}\r\nContent-Length: 100000000\r\n\r\nabc`,
    );
    const res = await client.awaitResponse();
    client.socket.destroy();
    expect(res.status).toBe(413);
  });

  it('answers Expect: 100-continue with 401 (no 100 Continue) without a key, and with 100 Continue with one', async () => {
    const refused = await RawClient.open(devhost.port);
    refused.socket.write(
      'POST /api/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n',
    );
    const res = await refused.awaitResponse();
    refused.socket.destroy();
    expect(res.status).toBe(401);

    const key = devhost.keys.functionKeys.default as string;
    const accepted = await RawClient.open(devhost.port);
    accepted.socket.write(
      `POST /api/upload HTTP/1.1\r\nHost: localhost\r\nx-functions-key: ${key}\r\nContent-Length: 10\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
    );
    const interim = await accepted.awaitResponse();
    expect(interim.status).toBe(100);
    accepted.socket.write('0123456789');
    await until(() => accepted.closed, 5000, 'the final response');
    const text = accepted.text();
    accepted.socket.destroy();
    expect(text).toContain('HTTP/1.1 200 OK');
    expect(text).toContain('{"received":10}');
  });

  it('reads an authorised body under the limit and passes it to the function', async () => {
    const key = devhost.keys.functionKeys.default as string;
    const body = 'z'.repeat(4096);
    const res = await rawRequest(
      devhost.port,
      `POST /api/upload HTTP/1.1\r\nHost: localhost\r\nx-functions-key: ${key}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ received: 4096 });
  });

  it('says "an admin key" for an admin-level function', async () => {
    const res = await rawRequest(
      devhost.port,
      'GET /api/adminOnly HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    expect(res.status).toBe(401);
    expect(res.body).toContain('This function needs an admin key');
  });
});
