import net, { type AddressInfo } from 'node:net';
import { runTcpCheck } from '../../../agent/checks/tcp';

describe('tcp checks', () => {
  it('is ok when the port accepts a connection, fail when it refuses', async () => {
    const server = net.createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    expect(
      await runTcpCheck({ name: 'failoverping', host: '127.0.0.1', port, timeoutMs: 2000 }),
    ).toMatchObject({
      status: 'ok',
      detail: expect.stringMatching(new RegExp(`^connected to 127\\.0\\.0\\.1:${port} in \\d+ ms$`)),
    });
    await new Promise((resolve) => server.close(resolve));
    expect(
      await runTcpCheck({ name: 'failoverping', host: '127.0.0.1', port, timeoutMs: 2000 }),
    ).toMatchObject({
      status: 'fail',
      detail: `cannot connect to 127.0.0.1:${port}: ECONNREFUSED`,
    });
  });
});
