import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HttpsTransport, TransportError, type TlsPolicy } from '../../agent/transport';
import { makeCertificates, type TestCertificates } from './helpers/tls';

let dir: string;
let certs: TestCertificates;
const servers: https.Server[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fp-agent-tls-'));
  certs = makeCertificates(dir);
});
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  rmSync(dir, { recursive: true, force: true });
});

/** An HTTPS server that answers with what it got; `requests` counts the HTTP requests that reached it. */
async function server(key: Buffer, cert: Buffer, answer = true) {
  const seen = { requests: 0 };
  const s = https.createServer({ key, cert }, (req, res) => {
    seen.requests++;
    if (!answer) return;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () =>
      res.writeHead(200, { 'content-type': 'application/json', 'retry-after': '2' }).end(
        JSON.stringify({
          method: req.method,
          url: req.url,
          host: req.headers.host,
          body: Buffer.concat(chunks).toString(),
        }),
      ),
    );
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  servers.push(s);
  return { url: new URL(`https://127.0.0.1:${(s.address() as AddressInfo).port}/`), seen };
}

const post = (transport: HttpsTransport, timeoutMs = 3000) =>
  transport.request({
    method: 'POST',
    path: '/api/v1/agent/heartbeat',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from('{"role":"standby"}'),
    timeoutMs,
  });

async function failure(promise: Promise<unknown>): Promise<TransportError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TransportError) return error;
    throw error;
  }
  throw new Error('expected the request to fail');
}

describe('HttpsTransport', () => {
  it('talks to a server whose certificate the CA bundle vouches for', async () => {
    const { url } = await server(certs.key, certs.cert);
    const response = await post(new HttpsTransport(url, { ca: certs.ca, pins: [] }));
    expect(response.status).toBe(200);
    expect(response.headers['retry-after']).toBe('2');
    expect(JSON.parse(response.body.toString())).toEqual({
      method: 'POST',
      url: '/api/v1/agent/heartbeat',
      host: url.host,
      body: '{"role":"standby"}',
    });
  });

  it('refuses a certificate the CA bundle does not vouch for, before sending anything', async () => {
    const { url, seen } = await server(certs.otherKey, certs.otherCert);
    const error = await failure(post(new HttpsTransport(url, { ca: certs.ca, pins: [] })));
    expect(error.kind).toBe('tls');
    expect(error.message).toMatch(
      new RegExp(`^TLS verification of ${url.host.replace(/\./g, '\\.')} failed \\(`),
    );
    expect(seen.requests).toBe(0);
  });

  it('with a pin, trusts exactly the pinned certificate, self-signed or not', async () => {
    const { url } = await server(certs.otherKey, certs.otherCert);
    const response = await post(new HttpsTransport(url, { pins: [certs.otherFingerprint] }));
    expect(response.status).toBe(200);
  });

  it('refuses a certificate that does not match the pin, even one the CA vouches for, before sending anything', async () => {
    const { url, seen } = await server(certs.key, certs.cert);
    const policies: TlsPolicy[] = [
      { pins: [certs.otherFingerprint] },
      { ca: certs.ca, pins: [certs.otherFingerprint] },
    ];
    for (const policy of policies) {
      const error = await failure(post(new HttpsTransport(url, policy)));
      expect(error.kind).toBe('pin');
      expect(error.message).toBe(
        `the certificate of 127.0.0.1:${url.port} does not match the pinned fingerprint ` +
          `(it is sha256 ${certs.fingerprint.toUpperCase().replace(/(..)(?!$)/g, '$1:')}; ` +
          `pinned: ${certs.otherFingerprint.toUpperCase().replace(/(..)(?!$)/g, '$1:')}): nothing was sent`,
      );
    }
    expect(seen.requests).toBe(0);
  });

  it('bounds the whole request by its timeout', async () => {
    const { url } = await server(certs.key, certs.cert, false);
    const error = await failure(post(new HttpsTransport(url, { ca: certs.ca, pins: [] }), 300));
    expect(error).toMatchObject({ kind: 'timeout', message: `no answer from ${url.host} within 300 ms` });
  });

  it('says plainly when nothing listens', async () => {
    const { url } = await server(certs.key, certs.cert);
    const closed = servers.pop() as https.Server;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(post(new HttpsTransport(url, { ca: certs.ca, pins: [] })));
    expect(error).toMatchObject({ kind: 'network', message: `cannot reach ${url.host}: ECONNREFUSED` });
  });
});
