import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { systemClock, type Clock } from '../clock';
import { CloudModel } from './cloudModel';
import { adminRoutes } from './adminRoutes';
import { SimBadRequest, type SimReply, type SimRequest, type SimRoute } from './simRoute';

export interface CloudSimulator {
  url: string;
  port: number;
  model: CloudModel;
  stop(): Promise<void>;
}

export interface CloudSimulatorOptions {
  port?: number;
  clock?: Clock;
  transitionMs?: number;
  /** Cloud routes (ARM, OCI); the admin routes are always there. */
  routes: SimRoute[];
  /** Called once with the empty model, to seed sizes, sites and VMs. */
  seed?: (model: CloudModel) => void;
}

/**
 * An HTTP server on loopback that speaks the subset of the Azure Resource Manager compute API and the OCI compute
 * and limits APIs the providers use, over one `CloudModel`; `/admin/*` inspects and steers it (tests, demo, drills).
 */
export async function startCloudSimulator(options: CloudSimulatorOptions): Promise<CloudSimulator> {
  const model = new CloudModel(options.clock ?? systemClock, {
    ...(options.transitionMs !== undefined ? { transitionMs: options.transitionMs } : {}),
  });
  options.seed?.(model);
  const routes = [...adminRoutes, ...options.routes];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    void handle(req, res, routes, model);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    model,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  routes: SimRoute[],
  model: CloudModel,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const request: SimRequest = {
    method: (req.method ?? 'GET').toUpperCase(),
    url,
    headers: req.headers,
    body,
    json() {
      if (body.length === 0) return undefined;
      try {
        return JSON.parse(body.toString('utf8')) as unknown;
      } catch {
        throw new SimBadRequest('the body is not JSON');
      }
    },
  };
  let reply: SimReply;
  try {
    const route = routes.find((r) => r.method === request.method && r.pattern.test(url.pathname));
    if (!route) {
      reply = {
        status: 404,
        body: {
          error: { code: 'NotFound', message: `the simulator has no ${request.method} ${url.pathname}` },
        },
      };
    } else {
      model.requestCounts[route.cloud]++;
      model.settle();
      const params = route.pattern.exec(url.pathname)?.groups ?? {};
      reply = await route.handle(request, { ...params }, model);
      if (route.cloud !== 'admin') {
        const token = req.headers['opc-retry-token'];
        model.requestLog.push({
          at: model.clock.now(),
          cloud: route.cloud,
          method: request.method,
          path: url.pathname,
          status: 'drop' in reply ? 0 : reply.status,
          ...(typeof token === 'string' ? { idempotencyKey: token } : {}),
          ...('replayed' in reply && reply.replayed ? { replayed: true } : {}),
        });
        if (model.requestLog.length > 20_000) model.requestLog.splice(0, model.requestLog.length - 20_000);
      }
    }
  } catch (error) {
    const bad = error instanceof SimBadRequest;
    reply = {
      status: bad ? 400 : 500,
      body: { error: { code: bad ? 'BadRequest' : 'InternalError', message: (error as Error).message } },
    };
  }
  if ('drop' in reply) {
    if (reply.drop === 'refuse') req.socket.destroy();
    return; // 'hang': leave the request open until the client gives up (or the simulator stops)
  }
  const payload =
    reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  res.statusCode = reply.status;
  if (reply.body !== undefined && typeof reply.body !== 'string')
    res.setHeader('content-type', 'application/json');
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  res.end(payload);
}
