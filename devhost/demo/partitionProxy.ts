import net from 'node:net';

/**
 * A loopback TCP proxy between one demo agent and the devhost, so the demo can cut that agent off the network while
 * it keeps running. Partitioned, it drops the open connections and black-holes new ones (accepted, never answered,
 * as a cut link looks to the agent: its requests time out); healed, it forwards again.
 */
export class PartitionProxy {
  readonly #server: net.Server;
  readonly #open = new Set<net.Socket>();
  #partitioned = false;
  readonly port: number;

  private constructor(server: net.Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<PartitionProxy> {
    const ready: { proxy?: PartitionProxy } = {};
    const server = net.createServer((client) => ready.proxy?.accept(client, targetPort, targetHost));
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
    ready.proxy = new PartitionProxy(server, port);
    return ready.proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get partitioned(): boolean {
    return this.#partitioned;
  }

  private accept(client: net.Socket, targetPort: number, targetHost: string): void {
    this.#open.add(client);
    client.on('close', () => this.#open.delete(client));
    client.on('error', () => client.destroy());
    if (this.#partitioned) {
      client.pause(); // black hole: nothing goes through, nothing comes back
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    this.#open.add(upstream);
    upstream.on('close', () => {
      this.#open.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Cuts the agent off: open connections dropped, new ones left hanging. */
  partition(): void {
    this.#partitioned = true;
    this.#dropAll();
  }

  /** Forwards again (connections left hanging are dropped so the agent retries at once). */
  heal(): void {
    this.#partitioned = false;
    this.#dropAll();
  }

  #dropAll(): void {
    for (const socket of this.#open) socket.destroy();
    this.#open.clear();
  }

  async stop(): Promise<void> {
    this.#dropAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
