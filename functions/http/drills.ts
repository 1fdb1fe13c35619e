import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { pageQuerySchema } from '../../shared/contracts/operationsApi';
import { drillRequestSchema } from '../../shared/contracts/operationsRequests';
import { paths, routes } from '../../shared/contracts/routes';
import type { Services } from '../../shared/services/services';
import { actorOf, authorizeRoute, queryWithoutKey } from '../common/authorize';
import { withServices } from '../common/withServices';
import { startDrill } from '../durable/startDrill';
import { idParam, jsonError, withErrorPolicy } from './httpResponses';
import { readBody } from './readBody';
import { refusalToHttp } from './refusalToHttp';

/**
 * POST /api/v1/clusters/{clusterId}/drills (operator) `{mode?, targetNodeId?, confirm?}`: starts a drill now. 202
 * `{drillId, started, statusUrl, operationUrl}`; 409 `OperationRunning` when another operation or drill was running
 * (the drill is recorded as skipped, with why); 422 `FailoverDrillNotAllowed` / `ConfirmationRequired` /
 * `TargetNotInCluster`; 404 for an undeclared cluster.
 */
export async function startDrillHandler(
  services: Services,
  request: HttpRequest,
  invocation: InvocationContext,
): Promise<HttpResponseInit> {
  const cluster = idParam(request, 'clusterId');
  if (!cluster.ok) return cluster.response;
  const body = await readBody(request, drillRequestSchema);
  if (!body.ok) return body.response;
  const { mode, targetNodeId, confirm } = body.value;
  const outcome = await startDrill(df.getClient(invocation), services, {
    clusterId: cluster.value,
    ...(mode ? { mode } : {}),
    ...(targetNodeId ? { targetNodeId } : {}),
    ...(confirm !== undefined ? { confirm } : {}),
    trigger: { kind: 'api' },
    actor: actorOf(request),
  });
  if (!outcome.ok) return refusalToHttp(outcome);
  const statusUrl = paths.drill(cluster.value, outcome.drillId);
  if (outcome.skipped)
    return jsonError(409, 'OperationRunning', `the drill was skipped: ${outcome.skipped}`, {
      drillId: outcome.drillId,
      statusUrl,
    });
  return {
    status: 202,
    headers: { location: statusUrl },
    jsonBody: {
      drillId: outcome.drillId,
      started: outcome.started,
      statusUrl,
      operationUrl: paths.operation(cluster.value, outcome.drillId),
    },
  };
}

/** GET /api/v1/clusters/{clusterId}/drills?limit=&continuation= : the drill reports, newest first, paged. */
export async function listDrillsHandler(services: Services, request: HttpRequest): Promise<HttpResponseInit> {
  const cluster = idParam(request, 'clusterId');
  if (!cluster.ok) return cluster.response;
  const parsed = pageQuerySchema.safeParse(queryWithoutKey(request));
  if (!parsed.success)
    return jsonError(400, 'InvalidQuery', 'the query string is invalid', {
      problems: parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(query)', message: i.message })),
    });
  if (!(await services.clusters.getDocument(cluster.value)))
    return jsonError(404, 'ClusterNotFound', `cluster ${cluster.value} is not declared`);
  const { limit, continuation } = parsed.data;
  let page;
  try {
    page = await services.drills.list(cluster.value, {
      ...(limit !== undefined ? { limit } : {}),
      ...(continuation !== undefined ? { continuation } : {}),
    });
  } catch (error) {
    if (error instanceof RangeError)
      return jsonError(400, 'InvalidQuery', 'continuation is not a token this list handed out');
    throw error;
  }
  return { jsonBody: page };
}

/** Whether the client asked for HTML (a browser) rather than JSON. */
function wantsHtml(request: HttpRequest): boolean {
  const accept = request.headers.get('accept') ?? '';
  const html = accept.indexOf('text/html');
  const json = accept.indexOf('application/json');
  return html >= 0 && (json < 0 || html < json);
}

/**
 * GET /api/v1/clusters/{clusterId}/drills/{drillId}: the report as JSON `{drill}`, or the self-contained HTML page
 * with `Accept: text/html`. While the drill runs: `{drill: null, running: {drillId, step, operationUrl}}`.
 */
export async function getDrillHandler(services: Services, request: HttpRequest): Promise<HttpResponseInit> {
  const cluster = idParam(request, 'clusterId');
  if (!cluster.ok) return cluster.response;
  const drill = idParam(request, 'drillId');
  if (!drill.ok) return drill.response;
  const html = wantsHtml(request);
  if (html) {
    const page = await services.drills.getHtml(cluster.value, drill.value);
    if (page !== undefined)
      return {
        status: 200,
        headers: {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
          'x-content-type-options': 'nosniff',
        },
        body: page,
      };
  } else {
    const report = await services.drills.get(cluster.value, drill.value);
    if (report) return { jsonBody: { drill: report } };
  }
  const operation = await services.operations.get(cluster.value, drill.value);
  if (operation?.kind === 'drill' && operation.endedAt === undefined) {
    const running = [...(operation.steps ?? [])].reverse().find((s) => s.outcome === 'running');
    return {
      status: 200,
      headers: { 'retry-after': '2' },
      jsonBody: {
        drill: null,
        running: {
          drillId: drill.value,
          startedAt: operation.createdAt,
          step: running?.name ?? 'checking',
          operationUrl: paths.operation(cluster.value, drill.value),
        },
      },
    };
  }
  return jsonError(404, 'DrillNotFound', `no drill ${drill.value} of ${cluster.value}`);
}

app.http(FunctionNames.startDrill, {
  route: routes.drills,
  methods: ['POST'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  extraInputs: [df.input.durableClient()],
  handler: withErrorPolicy(authorizeRoute('drills', 'POST', withServices(startDrillHandler))),
});
app.http(FunctionNames.listDrills, {
  route: routes.drills,
  methods: ['GET'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('drills', 'GET', withServices(listDrillsHandler))),
});
app.http(FunctionNames.getDrill, {
  route: routes.drill,
  methods: ['GET'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('drill', 'GET', withServices(getDrillHandler))),
});
