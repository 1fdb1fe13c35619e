import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface TlsProxy {
  url: string;
  port: number;
  /** Requests that reached the proxy (method and path). */
  requests: string[];
  /** Stops listening and cuts every open connection. */
  stop(): Promise<void>;
}

/**
 * A TLS-terminating reverse proxy: HTTPS in front of the devhost's plain HTTP, as a load balancer would be. The
 * Host header is kept, as most proxies do.
 */
export async function startTlsProxy(options: {
  key: Buffer;
  cert: Buffer;
  target: string;
  port?: number;
}): Promise<TlsProxy> {
  const target = new URL(options.target);
  const requests: string[] = [];
  const server = https.createServer({ key: options.key, cert: options.cert }, (req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
