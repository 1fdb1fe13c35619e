import { DurableApiError, type DurableEngine, type StatusOptions } from '../durable/durableEngine';
import type { InstanceQuery, RuntimeStatus } from '../durable/taskHubStore';
import { json, jsonError, type WireReply, type WireRequest } from './wire';

const RUNTIME_STATUSES: ReadonlySet<string> = new Set([
  'Pending',
  'Running',
  'Completed',
  'ContinuedAsNew',
  'Failed',
  'Canceled',
  'Terminated',
  'Suspended',
]);

export interface ManagementUrls {
  /** Builds the management payload (`statusQueryGetUri`, ...) for an instance, relative to `origin`. */
  payload(instanceId: string, origin: string): Record<string, string>;
}

const truthy = (v: string | null) => v !== null && v.toLowerCase() === 'true';

/**
 * The Durable Functions HTTP API (the subset `DurableClient` and the management URLs use), served both under
 * `/runtime/webhooks/durabletask/` (key-protected) and on the loopback `rpcBaseUrl`.
 * `path` is relative to the API root, e.g. `instances/abc/raiseEvent/Approval`.
 */
export async function handleDurableApi(
  engine: DurableEngine,
  urls: ManagementUrls,
  path: string,
  req: WireRequest,
  origin: string,
): Promise<WireReply> {
  try {
    return await route(engine, urls, path, req, origin);
  } catch (error) {
    if (error instanceof DurableApiError) return jsonError(error.status, 'DurableApiError', error.message);
    throw error;
  }
}

async function route(
  ...[engine, urls, path, req, origin]: Parameters<typeof handleDurableApi>
): Promise<WireReply> {
  const parts: string[] = [];
  for (const segment of path.split('/').filter((p) => p.length > 0)) {
    try {
      parts.push(decodeURIComponent(segment));
    } catch {
      return jsonError(400, 'InvalidPercentEncoding', 'The request path has a malformed percent-encoding.');
    }
  }
  const q = req.url.searchParams;
  const method = req.method.toUpperCase();

  if (parts[0] === 'orchestrators' && method === 'POST' && (parts.length === 2 || parts.length === 3)) {
    const text = req.body.toString('utf8');
    // No input arrives as an empty body (axios sends ""), which the extension turns into the input "".
    const input = text.length === 0 ? '""' : text;
    try {
      JSON.parse(input);
    } catch {
      return jsonError(400, 'InvalidInput', 'The request body must be JSON (the orchestration input).');
    }
    const name = parts[1] as string;
    const version = q.get('version');
    const instanceId = await engine.startNew(name, {
      ...(parts[2] !== undefined ? { instanceId: parts[2] } : {}),
      input,
      ...(version ? { version } : {}),
    });
    const payload = urls.payload(instanceId, origin);
    return json(202, payload, { location: payload.statusQueryGetUri as string, 'retry-after': '10' });
  }

  if (parts[0] === 'entities') {
    return jsonError(501, 'NotSupported', 'Durable entities are not supported by the devhost.');
  }

  if (parts[0] !== 'instances') return jsonError(404, 'NotFound', `No durable API at ${path}`);
  const instanceId = parts[1];

  if (instanceId === undefined) {
    const query = parseQuery(q, req);
    if (query instanceof Object && 'error' in query) return query.error;
    if (method === 'GET') {
      const options: StatusOptions = { showInput: truthy(q.get('showInput')) };
      const page = await engine.query(query, options);
      return json(
        200,
        page.statuses,
        page.continuationToken ? { 'x-ms-continuation-token': page.continuationToken } : {},
      );
    }
    if (method === 'DELETE') return json(200, { instancesDeleted: await engine.purgeBy(query) });
    return jsonError(405, 'MethodNotAllowed', `${method} is not allowed on instances/`);
  }

  const operation = parts[2];
  if (operation === undefined) {
    if (method === 'GET') {
      const status = await engine.getStatus(instanceId, {
        showHistory: truthy(q.get('showHistory')),
        showHistoryOutput: truthy(q.get('showHistoryOutput')),
        showInput: q.get('showInput') === null ? true : truthy(q.get('showInput')),
      });
      if (!status) return jsonError(404, 'NotFound', `No instance with ID '${instanceId}' was found.`);
      if (status.runtimeStatus === 'Failed' && truthy(q.get('returnInternalServerErrorOnFailure')))
        return json(500, status);
      if (['Completed', 'Failed', 'Terminated', 'Canceled'].includes(status.runtimeStatus))
        return json(200, status);
      const location = urls.payload(instanceId, origin).statusQueryGetUri as string;
      return json(202, status, { location, 'retry-after': '5' });
    }
    if (method === 'DELETE') {
      const deleted = await engine.purge(instanceId);
      return deleted
        ? json(200, { instancesDeleted: 1 })
        : jsonError(404, 'NotFound', `No instance with ID '${instanceId}' was found.`);
    }
    return jsonError(405, 'MethodNotAllowed', `${method} is not allowed on an instance`);
  }

  if (method !== 'POST') return jsonError(405, 'MethodNotAllowed', `${operation} needs POST`);
  const reason = q.get('reason') ?? '';
  switch (operation) {
    case 'raiseEvent': {
      const eventName = parts[3];
      if (!eventName)
        return jsonError(
          400,
          'InvalidRequest',
          'raiseEvent needs an event name: instances/{id}/raiseEvent/{name}',
        );
      if (!(req.headers['content-type'] ?? '').toLowerCase().includes('application/json')) {
        return jsonError(400, 'InvalidContentType', 'raiseEvent needs Content-Type: application/json');
      }
      const text = req.body.toString('utf8') || 'null';
      try {
        JSON.parse(text);
      } catch {
        return jsonError(400, 'InvalidInput', 'The event data must be JSON.');
      }
      await engine.raiseEvent(instanceId, eventName, text);
      return { status: 202 };
    }
    case 'terminate':
    case 'suspend':
    case 'resume':
      await engine.operate(instanceId, operation, reason);
      return { status: 202 };
    case 'rewind':
      return jsonError(501, 'NotSupported', 'Rewind is not supported by the devhost.');
    default:
      return jsonError(404, 'NotFound', `Unknown instance operation '${operation}'`);
  }
}

function parseQuery(q: URLSearchParams, req: WireRequest): InstanceQuery | { error: WireReply } {
  const query: InstanceQuery = {};
  for (const key of ['createdTimeFrom', 'createdTimeTo'] as const) {
    const value = q.get(key);
    if (value) {
      const ms = Date.parse(value);
      if (Number.isNaN(ms))
        return { error: jsonError(400, 'InvalidQuery', `${key} is not a date: ${value}`) };
      query[key] = ms;
    }
  }
  const statuses = q.get('runtimeStatus');
  if (statuses) {
    const list = statuses
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const bad = list.find((s) => !RUNTIME_STATUSES.has(s));
    if (bad) return { error: jsonError(400, 'InvalidQuery', `Unknown runtimeStatus '${bad}'`) };
    query.runtimeStatus = list as RuntimeStatus[];
  }
  const top = q.get('top');
  if (top) {
    const n = Number(top);
    if (!Number.isInteger(n) || n < 1 || n > 1000)
      return { error: jsonError(400, 'InvalidQuery', 'top must be an integer 1-1000') };
    query.top = n;
  }
  const prefix = q.get('instanceIdPrefix');
  if (prefix) query.instanceIdPrefix = prefix;
  const token = req.headers['x-ms-continuation-token'];
  if (typeof token === 'string' && token.length > 0) query.continuationToken = token;
  return query;
}
