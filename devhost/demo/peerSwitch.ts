import http from 'node:http';
import type { Socket } from 'node:net';

/**
 * The demo's peer network (peer promises, issue 15): an HTTP forwarder in front of one demo agent's peer listener,
 * whose URL the agent advertises, so that a demo `partition` cuts a node off its peers as well as off the control
 * plane — a real network cut does both. A request from a node that is cut, or to a node that is cut, is dropped
 * (its connection destroyed: the sender counts no promise); any other is forwarded as it is. The sender is the
 * signed request's `x-fp-node` (every peer request is signed; the listener verifies it, not this forwarder).
 */
export class PeerSwitch {
  readonly #server: http.Server;
  readonly #sockets: Set<Socket>;
  readonly port: number;

  private constructor(server: http.Server, sockets: Set<Socket>, port: number) {
    this.#server = server;
    this.#sockets = sockets;
    this.port = port;
  }

  /**
   * Forwards to `127.0.0.1:targetPort` (the listener of `target`) unless `cut(from, target)` says the link is down.
   */
  static async start(
    target: string,
    targetPort: number,
    cut: (from: string | undefined, to: string) => boolean,
  ): Promise<PeerSwitch> {
    const server = http.createServer((req, res) => {
      const from = req.headers['x-fp-node'];
      if (cut(typeof from === 'string' ? from : undefined, target)) {
        req.socket.destroy();
        return;
      }
      const upstream = http.request(
        { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => req.socket.destroy());
      req.pipe(upstream);
    });
    const sockets = new Set<Socket>();
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
    return new PeerSwitch(server, sockets, port);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
