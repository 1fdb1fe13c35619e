import { toInvocationContext } from '../converters/toInvocationContext';
import { writeOutputBindings } from '../bindings/outputBindings';
import { randomUUID } from 'node:crypto';
import { errorStack } from '../errorLike';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LoadedApp } from '../app/loadFunctionsApp';
import { triggerKindOf, type RegisteredFunction } from '../app/registeredFunction';
import { isManualClock, type Clock } from '../clock';
import { fromHttpResponse } from '../converters/fromHttpResponse';
import { toHttpRequest } from '../converters/toHttpRequest';
import type { DurableEngine } from '../durable/durableEngine';
import { handleDurableApi, type ManagementUrls } from './durableHttpApi';
import { isAuthorized, type AuthLevel, type HostKeys } from './hostKeys';
import { compileRoute, type CompiledRoute } from './routeTemplate';
import { parseRequestTarget } from './requestTarget';
import {
  answerEarly,
  BodyTooLargeError,
  json,
  jsonError,
  readBody,
  send,
  type WireReply,
  type WireRequest,
} from './wire';
import type { LogFn } from '../durable/engineContext';
import type { EasyAuth } from '../auth/easyAuth';

export interface HttpRoute {
  fn: RegisteredFunction;
  route: CompiledRoute;
  methods: string[];
  authLevel: AuthLevel;
}

export interface FunctionsHttpDeps {
  app: LoadedApp;
  keys: HostKeys;
  engine: DurableEngine | undefined;
  routePrefix: string;
  maxRequestBodyBytes: number;
  functionTimeoutMs: number;
  clock: Clock;
  log: LogFn;
  /** Binding data for `durableClient` inputs (`df.getClient(context)`), for a request arriving at `origin`. */
  durableClientData(origin: string): unknown;
  managementUrls: ManagementUrls;
  onClockAdvanced(): void;
  /** App Service Authentication, emulated (`/.auth/*`, the principal headers); when the app trusts the header. */
  easyAuth?: EasyAuth | undefined;
}

export function buildHttpRoutes(app: LoadedApp, routePrefix: string): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const fn of app.functions.values()) {
    if (triggerKindOf(fn) !== 'http') continue;
    const template = typeof fn.trigger.route === 'string' ? fn.trigger.route : fn.name;
    const methods = (
      Array.isArray(fn.trigger.methods) ? (fn.trigger.methods as string[]) : ['GET', 'POST']
    ).map((m) => m.toUpperCase());
    const authLevel = (
      typeof fn.trigger.authLevel === 'string' ? fn.trigger.authLevel : 'anonymous'
    ).toLowerCase() as AuthLevel;
    routes.push({
      fn,
      route: compileRoute(`${routePrefix ? `${routePrefix}/` : ''}${template}`),
      methods,
      authLevel,
    });
  }
  // Literal routes before parameterised ones, as ASP.NET routing orders them.
  return routes.sort((a, b) => paramCount(a.route.template) - paramCount(b.route.template));
}

const paramCount = (template: string) => (template.match(/\{/g) ?? []).length;

const presentedKey = (headers: IncomingMessage['headers'], url: URL) => {
  const header = headers['x-functions-key'];
  return (typeof header === 'string' ? header : undefined) ?? url.searchParams.get('code') ?? undefined;
};

/** The request handler of the devhost's public port: function routes, the durable webhooks and admin APIs. */
export function createFunctionsHttpHandler(
  deps: FunctionsHttpDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  const routes = buildHttpRoutes(deps.app, deps.routePrefix);
  return (req, res) => {
    // No request, however malformed, may end the process: anything escaping `handle` becomes a 500 here.
    const fail = (error: unknown) => {
      const errorId = randomUUID();
      deps.log('error', 'request handling failed', { errorId, error: errorStack(error) });
      if (res.headersSent) res.destroy();
      else
        answerEarly(
          req,
          res,
          jsonError(500, 'InternalServerError', 'The host failed; see the host log.', { errorId }),
        );
    };
    try {
      handle(deps, routes, req, res).catch(fail);
    } catch (error) {
      fail(error);
    }
  };
}

/** What a request resolved to before its body is read: an answer, or the work to run on the body. */
type Resolution = { reply: WireReply } | { run(wire: WireRequest): Promise<WireReply> | WireReply };

async function handle(
  deps: FunctionsHttpDeps,
  routes: HttpRoute[],
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const target = parseRequestTarget(req);
  if ('error' in target) {
    answerEarly(req, res, target.error);
    return;
  }
  const { url } = target;
  const method = (req.method ?? 'GET').toUpperCase();
  // As the platform's front end: sign-in endpoints, and principal headers from a client replaced by the session's.
  if (deps.easyAuth) {
    const reply = await deps.easyAuth.handle(req, url, method);
    if (reply) {
      answerEarly(req, res, reply);
      return;
    }
  }
  // Route, method and key are checked before a byte of the body is read: an unknown route or a missing key costs
  // nothing however large the body the client sends.
  const resolution = resolve(deps, routes, req, method, url);
  if ('reply' in resolution) {
    answerEarly(req, res, resolution.reply);
    return;
  }
  // `Expect: 100-continue` (the server's checkContinue listener): the client is told to send its body only now.
  if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
  let body: Buffer;
  try {
    body = await readBody(req, deps.maxRequestBodyBytes);
  } catch (error) {
    answerEarly(
      req,
      res,
      error instanceof BodyTooLargeError
        ? jsonError(
            413,
            'PayloadTooLarge',
            `The request body is larger than ${deps.maxRequestBodyBytes} bytes.`,
          )
        : jsonError(400, 'BadRequest', 'The request body could not be read.'),
    );
    return;
  }
  const wire: WireRequest = { method, url, headers: req.headers, body };
  try {
    send(res, await resolution.run(wire));
  } catch (error) {
    const errorId = randomUUID();
    deps.log('error', `request ${wire.method} ${url.pathname} failed`, {
      errorId,
      error: errorStack(error),
    });
    if (!res.headersSent)
      send(res, jsonError(500, 'InternalServerError', 'The function failed; see the host log.', { errorId }));
  }
}

function resolve(
  deps: FunctionsHttpDeps,
  routes: HttpRoute[],
  req: IncomingMessage,
  method: string,
  url: URL,
): Resolution {
  const path = url.pathname;
  const origin = url.origin;
  const key = presentedKey(req.headers, url);
  const durablePrefix = '/runtime/webhooks/durabletask/';
  if (path.startsWith(durablePrefix) || path === durablePrefix.slice(0, -1)) {
    const engine = deps.engine;
    if (!engine) return { reply: jsonError(404, 'NotFound', 'This app has no Durable Functions.') };
    if (!isAuthorized(deps.keys, 'system', key)) {
      return {
        reply: jsonError(
          401,
          'Unauthorized',
          'The durable task API needs the durabletask_extension system key or the master key.',
        ),
      };
    }
    return {
      run: (wire) =>
        handleDurableApi(engine, deps.managementUrls, path.slice(durablePrefix.length), wire, origin),
    };
  }
  if (path.startsWith('/admin/')) {
    if (!isAuthorized(deps.keys, 'admin', key))
      return { reply: jsonError(401, 'Unauthorized', 'Admin APIs need the master key.') };
    return { run: (wire) => admin(deps, routes, wire) };
  }

  const candidates = routes
    .map((r) => ({ r, params: r.route.match(path) }))
    .filter((c): c is { r: HttpRoute; params: Record<string, string> } => c.params !== undefined);
  if (candidates.length === 0)
    return { reply: jsonError(404, 'NotFound', `No function is registered for ${path}`) };
  const match = candidates.find((c) => c.r.methods.includes(method));
  if (!match) {
    const allowed = [...new Set(candidates.flatMap((c) => c.r.methods))];
    return {
      reply: {
        ...jsonError(405, 'MethodNotAllowed', `${method} is not allowed; use ${allowed.join(', ')}`),
        headers: { allow: allowed.join(', '), 'content-type': 'application/json; charset=utf-8' },
      },
    };
  }
  if (!isAuthorized(deps.keys, match.r.authLevel, key)) {
    return {
      reply: jsonError(
        401,
        'Unauthorized',
        `This function needs ${match.r.authLevel === 'admin' ? 'an' : 'a'} ${match.r.authLevel} key (x-functions-key header or code query parameter).`,
      ),
    };
  }
  return { run: (wire) => invokeHttpFunction(deps, match.r.fn, req, wire, match.params, origin) };
}

async function invokeHttpFunction(
  deps: FunctionsHttpDeps,
  fn: RegisteredFunction,
  req: IncomingMessage,
  wire: WireRequest,
  params: Record<string, string>,
  origin: string,
): Promise<WireReply> {
  const { library } = deps.app;
  const invocationId = randomUUID();
  const context = toInvocationContext(library, fn, deps.log, { invocationId }) as {
    extraInputs: { set(binding: unknown, value: unknown): void };
  };
  for (const input of fn.extraInputs) {
    if (input.type === 'durableClient' || input.type === 'orchestrationClient') {
      context.extraInputs.set(input, deps.durableClientData(origin));
    }
  }
  const request = toHttpRequest(library, req, wire.url, wire.body, params);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`Timeout value of ${deps.functionTimeoutMs} ms exceeded by function ${fn.name}`)),
      deps.functionTimeoutMs,
    );
  });
  try {
    const result = await Promise.race([Promise.resolve(fn.callback(request, context)), timeout]);
    const bindingData: Record<string, string> = {};
    wire.url.searchParams.forEach((value, name) => (bindingData[name] = value));
    await writeOutputBindings({
      fn,
      context,
      returnValue: result,
      bindingData: { ...bindingData, ...params },
      env: deps.app.env,
      now: deps.clock.now(),
    });
    const response = await fromHttpResponse(library, result);
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of response.headers) {
      const previous = headers[name];
      if (previous === undefined) headers[name] = value;
      else if (name === 'set-cookie')
        headers[name] = [previous, value].flat(); // one header per cookie
      else headers[name] = `${String(previous)}, ${value}`;
    }
    return { status: response.status, headers, body: response.body };
  } finally {
    clearTimeout(timer);
  }
}

/** The admin APIs; the caller has checked the master key. */
function admin(deps: FunctionsHttpDeps, routes: HttpRoute[], wire: WireRequest): WireReply {
  const path = wire.url.pathname;
  if (path === '/admin/host/status' && wire.method === 'GET')
    return json(200, { state: 'Running', processUptime: process.uptime() });
  if (path === '/admin/functions' && wire.method === 'GET') {
    return json(
      200,
      [...deps.app.functions.values()].map((f) => ({
        name: f.name,
        trigger: f.trigger.type,
        ...(triggerKindOf(f) === 'http' ? { route: routes.find((r) => r.fn === f)?.route.template } : {}),
      })),
    );
  }
  if (path === '/admin/devhost/clock') {
    const clock = deps.clock;
    if (wire.method === 'GET')
      return json(200, { now: new Date(clock.now()).toISOString(), manual: isManualClock(clock) });
    if (wire.method !== 'POST') return jsonError(405, 'MethodNotAllowed', 'GET or POST');
    if (!isManualClock(clock))
      return jsonError(409, 'ClockNotManual', 'Start the devhost with --clock manual to move time.');
    let request: { advanceMs?: unknown };
    try {
      request = JSON.parse(wire.body.toString('utf8') || '{}') as { advanceMs?: unknown };
    } catch {
      return jsonError(400, 'InvalidJson', 'The body must be JSON: {"advanceMs": <milliseconds>}');
    }
    if (
      typeof request.advanceMs !== 'number' ||
      !Number.isFinite(request.advanceMs) ||
      request.advanceMs < 0
    ) {
      return jsonError(400, 'InvalidAdvance', 'advanceMs must be a non-negative number of milliseconds');
    }
    clock.advance(request.advanceMs);
    deps.onClockAdvanced();
    return json(200, { now: new Date(clock.now()).toISOString() });
  }
  return jsonError(404, 'NotFound', `No admin API at ${path}`);
}
