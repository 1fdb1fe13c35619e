import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PeerSwitch } from '../../../devhost/demo/peerSwitch';

/** The demo's peer network: forwards a node's peer requests unless either end is cut off (a demo partition). */
let listener: http.Server;
let peerSwitch: PeerSwitch;
const cut = new Set<string>();

beforeAll(async () => {
  listener = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url, from: req.headers['x-fp-node'], body }));
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as AddressInfo).port;
  peerSwitch = await PeerSwitch.start(
    'head-b',
    port,
    (from, to) => from === undefined || cut.has(from) || cut.has(to),
  );
});
afterAll(async () => {
  await peerSwitch.stop();
  await new Promise<void>((resolve) => listener.close(() => resolve()));
});

const send = (from?: string) =>
  fetch(`${peerSwitch.url}/peer/v1/promise`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(from ? { 'x-fp-node': from } : {}) },
    body: '{"epoch":3}',
  });

it('forwards a peer request with its path, headers and body, and the answer back', async () => {
  const answer = await send('head-a');
  expect(answer.status).toBe(200);
  expect(await answer.json()).toEqual({ path: '/peer/v1/promise', from: 'head-a', body: '{"epoch":3}' });
});

it('drops requests from or to a node that is cut off, and from an unnamed sender; forwards again once healed', async () => {
  cut.add('head-a');
  await expect(send('head-a')).rejects.toThrow();
  cut.clear();
  cut.add('head-b');
  await expect(send('head-a')).rejects.toThrow();
  cut.clear();
  await expect(send()).rejects.toThrow();
  expect((await send('head-a')).status).toBe(200);
});
