import net from 'node:net';

/**
 * How the link between one agent and the control plane behaves:
 * - `open`: forwarded both ways;
 * - `cut`: a two-way partition — open connections dropped, new ones accepted and never answered (black hole);
 * - `replies-lost`: a one-way partition — the agent's requests reach the control plane (a heartbeat is heard, a lease
 *   may be granted) but nothing comes back to the agent;
 * - `stall`: a stalled server (Azurite paused) — connections stay open, nothing moves either way until the link
 *   opens again, then everything held goes through.
 */
export type LinkMode = 'open' | 'cut' | 'replies-lost' | 'stall';

/**
 * A loopback TCP proxy the chaos harness owns, between one agent and the devhost (devhost/demo/partitionProxy.ts,
 * with the one-way mode). The target port stays the same across devhost restarts.
 */
export class FaultProxy {
  readonly #server: net.Server;
  readonly #open = new Set<net.Socket>();
  /** Connections held by a stall: the client, and its upstream once connected. */
  readonly #held = new Set<{ client: net.Socket; upstream?: net.Socket }>();
  #mode: LinkMode = 'open';
  readonly port: number;

  private constructor(
    server: net.Server,
    port: number,
    /** The port it forwards to. */
    readonly targetPort: number,
  ) {
    this.#server = server;
    this.port = port;
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
    const ready: { proxy?: FaultProxy } = {};
    const server = net.createServer((client) => ready.proxy?.accept(client, targetPort, targetHost));
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
    ready.proxy = new FaultProxy(server, port, targetPort);
    return ready.proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get mode(): LinkMode {
    return this.#mode;
  }

  private accept(client: net.Socket, targetPort: number, targetHost: string): void {
    this.#open.add(client);
    client.on('close', () => this.#open.delete(client));
    client.on('error', () => client.destroy());
    if (this.#mode === 'cut') {
      client.pause(); // black hole: nothing goes through, nothing comes back
      return;
    }
    if (this.#mode === 'stall') {
      client.pause(); // held until the link opens: then connected and forwarded
      this.#held.add({ client });
      return;
    }
    this.#forward(client, targetPort, targetHost);
  }

  #targetPort = 0;
  #targetHost = '127.0.0.1';

  #forward(client: net.Socket, targetPort: number, targetHost: string): void {
    this.#targetPort = targetPort;
    this.#targetHost = targetHost;
    const dropReplies = this.#mode === 'replies-lost';
    const upstream = net.connect(targetPort, targetHost);
    this.#open.add(upstream);
    upstream.on('close', () => {
      this.#open.delete(upstream);
      if (!dropReplies) client.destroy();
    });
    upstream.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    if (dropReplies)
      upstream.resume(); // read and discard: the control plane answers, the agent never hears it
    else upstream.pipe(client);
    client.resume();
  }

  /**
   * Sets the link's mode; open connections are dropped so the next request sees it at once — except for a stall,
   * which holds them (nothing read or written) and lets them go on when the link opens again.
   */
  set(mode: LinkMode): void {
    const previous = this.#mode;
    this.#mode = mode;
    if (mode === 'stall') {
      for (const socket of this.#open) socket.pause();
      return;
    }
    if (previous === 'stall' && mode === 'open') {
      for (const socket of this.#open) socket.resume();
      for (const { client } of this.#held)
        if (!client.destroyed) this.#forward(client, this.#targetPort || this.targetPort, this.#targetHost);
      this.#held.clear();
      return;
    }
    for (const socket of this.#open) socket.destroy();
    this.#open.clear();
    this.#held.clear();
  }

  async stop(): Promise<void> {
    this.set('open');
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
