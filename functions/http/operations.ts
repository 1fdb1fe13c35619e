import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { pageQuerySchema, type PageQuery } from '../../shared/contracts/operationsApi';
import { routes } from '../../shared/contracts/routes';
import { getOperation, listAudit, listOperations } from '../../shared/control/operations/history';
import type { Services } from '../../shared/services/services';
import { authorizeRoute, queryWithoutKey } from '../common/authorize';
import { withServices } from '../common/withServices';
import { idParam, jsonError, withErrorPolicy } from './httpResponses';
import { refusalToHttp } from './refusalToHttp';

/** `?limit=&continuation=`; a 400 names each problem (an unknown parameter too). */
function pageQuery(
  request: HttpRequest,
): { ok: true; value: PageQuery } | { ok: false; response: HttpResponseInit } {
  const parsed = pageQuerySchema.safeParse(queryWithoutKey(request));
  if (parsed.success) return { ok: true, value: parsed.data };
  const problems = parsed.error.issues.map((i) => ({
    path: i.path.join('.') || '(query)',
    message: i.message,
  }));
  return { ok: false, response: jsonError(400, 'InvalidQuery', 'the query string is invalid', { problems }) };
}

/** GET /api/v1/clusters/{clusterId}/operations?limit=&continuation= : the history, newest first, paged. */
export async function listOperationsHandler(
  services: Services,
  request: HttpRequest,
): Promise<HttpResponseInit> {
  const cluster = idParam(request, 'clusterId');
  if (!cluster.ok) return cluster.response;
  const query = pageQuery(request);
  if (!query.ok) return query.response;
  const outcome = await listOperations(services, cluster.value, query.value);
  if (!outcome.ok) return refusalToHttp(outcome);
  const { ok: _ok, ...page } = outcome;
  return { jsonBody: page };
}

/** GET /api/v1/clusters/{clusterId}/operations/{operationId}: one operation with its steps and timings. */
export async function getOperationHandler(
  services: Services,
  request: HttpRequest,
): Promise<HttpResponseInit> {
  const cluster = idParam(request, 'clusterId');
  if (!cluster.ok) return cluster.response;
  const operation = idParam(request, 'operationId');
  if (!operation.ok) return operation.response;
  const outcome = await getOperation(services, cluster.value, operation.value);
  if (!outcome.ok) return refusalToHttp(outcome);
  return { jsonBody: { operation: outcome.operation } };
}

/** GET /api/v1/clusters/{clusterId}/audit?limit=&continuation= : every state change with its actor, newest first. */
export async function listAuditHandler(services: Services, request: HttpRequest): Promise<HttpResponseInit> {
  const cluster = idParam(request, 'clusterId');
  if (!cluster.ok) return cluster.response;
  const query = pageQuery(request);
  if (!query.ok) return query.response;
  const outcome = await listAudit(services, cluster.value, query.value);
  if (!outcome.ok) return refusalToHttp(outcome);
  const { ok: _ok, ...page } = outcome;
  return { jsonBody: page };
}

app.http(FunctionNames.listOperations, {
  route: routes.operations,
  methods: ['GET'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('operations', 'GET', withServices(listOperationsHandler))),
});
app.http(FunctionNames.getOperation, {
  route: routes.operation,
  methods: ['GET'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('operation', 'GET', withServices(getOperationHandler))),
});
app.http(FunctionNames.listAudit, {
  route: routes.audit,
  methods: ['GET'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('audit', 'GET', withServices(listAuditHandler))),
});
