import net from 'node:net';
import { FaultProxy } from '../../chaos/faultProxy';
import { waitFor } from '../helpers/waitFor';

/** A TCP echo server that records what it received. */
async function echoServer(): Promise<{ port: number; received: string[]; close: () => Promise<void> }> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (d: Buffer) => {
      received.push(d.toString());
      socket.write(`echo ${d.toString()}`);
    });
    socket.on('error', () => socket.destroy());
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
  return {
    port,
    received,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Sends `text` through the proxy; resolves with what came back within `ms` (the test's own bound, no sleep). */
function exchange(port: number, text: string, ms = 300): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    socket.on('data', (d: Buffer) => (got += d.toString()));
    socket.on('error', () => undefined);
    const done = () => {
      socket.destroy();
      resolve(got);
    };
    socket.setTimeout(ms, done);
    socket.on('close', done);
  });
}

describe('FaultProxy', () => {
  it('forwards when open, black-holes when cut, and delivers requests but loses replies one-way', async () => {
    const server = await echoServer();
    const proxy = await FaultProxy.start(server.port);
    try {
      expect(await exchange(proxy.port, 'a')).toBe('echo a');
      proxy.set('cut');
      expect(await exchange(proxy.port, 'b')).toBe('');
      expect(server.received).toEqual(['a']);
      proxy.set('replies-lost');
      expect(await exchange(proxy.port, 'c')).toBe('');
      await waitFor(() => (server.received.includes('c') ? true : undefined), {
        timeoutMs: 2000,
        description: 'the request to reach the server',
      });
      proxy.set('open');
      expect(await exchange(proxy.port, 'd')).toBe('echo d');
    } finally {
      await proxy.stop();
      await server.close();
    }
  });
});
