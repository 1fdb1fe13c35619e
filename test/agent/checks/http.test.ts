import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runHttpCheck } from '../../../agent/checks/http';

describe('http checks', () => {
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/hang') return; // never answers
      res.writeHead(req.url === '/down' ? 503 : req.url === '/moved' ? 302 : 200).end('body');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('is ok on 2xx and 3xx by default and fail otherwise, with the status in the detail', async () => {
    expect(await runHttpCheck({ name: 'status', url: `${base}/healthz`, timeoutMs: 2000 })).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(/^HTTP 200 from 127\.0\.0\.1:\d+\/healthz in \d+ ms$/),
    });
    expect((await runHttpCheck({ name: 'status', url: `${base}/moved`, timeoutMs: 2000 })).status).toBe('ok');
    expect(await runHttpCheck({ name: 'status', url: `${base}/down`, timeoutMs: 2000 })).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^HTTP 503 /),
    });
  });

  it('uses the expected statuses when given', async () => {
    expect(
      (await runHttpCheck({ name: 's', url: `${base}/down`, expectStatus: 503, timeoutMs: 2000 })).status,
    ).toBe('ok');
    expect(
      (await runHttpCheck({ name: 's', url: `${base}/moved`, expectStatus: [200], timeoutMs: 2000 })).status,
    ).toBe('fail');
  });

  it('fails when no answer comes within the timeout', async () => {
    expect(await runHttpCheck({ name: 's', url: `${base}/hang`, timeoutMs: 300 })).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^no answer from 127\.0\.0\.1:\d+ within 300 ms$/),
    });
  });
});
