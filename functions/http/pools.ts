import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import {
  poolDemandRequestSchema,
  poolNodeIdleRequestSchema,
  poolPlanRequestSchema,
  poolSpilloverRequestSchema,
} from '../../shared/contracts/operationsRequests';
import { paths, routes } from '../../shared/contracts/routes';
import { findPool } from '../../shared/control/pools/findPool';
import { listPoolNodes, setPoolNodeIdle } from '../../shared/control/pools/poolNodes';
import { planPool } from '../../shared/control/pools/planPool';
import { poolView } from '../../shared/control/pools/poolView';
import { setPoolDemand } from '../../shared/control/pools/setPoolDemand';
import type { Services } from '../../shared/services/services';
import { actorOf, authorizeRoute } from '../common/authorize';
import { withServices } from '../common/withServices';
import { startSpillover } from '../durable/startSpillover';
import { idParam, jsonError, withErrorPolicy } from './httpResponses';
import { readBody } from './readBody';
import { refusalToHttp } from './refusalToHttp';

/** The cluster and pool ids of the route (400 `InvalidId` naming the one that is not an id). */
function poolParams(
  request: HttpRequest,
): { ok: true; clusterId: string; poolId: string } | { ok: false; response: HttpResponseInit } {
  const cluster = idParam(request, 'clusterId');
  if (!cluster.ok) return cluster;
  const pool = idParam(request, 'poolId');
  if (!pool.ok) return pool;
  return { ok: true, clusterId: cluster.value, poolId: pool.value };
}

/** GET /api/v1/clusters/{clusterId}/pools/{poolId}: demand, placements, headroom as last read, cool-downs, shortfall. */
export async function getPoolHandler(services: Services, request: HttpRequest): Promise<HttpResponseInit> {
  const ids = poolParams(request);
  if (!ids.ok) return ids.response;
  const outcome = await poolView(services, ids.clusterId, ids.poolId);
  if (!outcome.ok) return refusalToHttp(outcome);
  return { jsonBody: { pool: outcome.view } };
}

/**
 * PUT /api/v1/clusters/{clusterId}/pools/{poolId}/demand (operator) `{desired}`: the pool's new desired count, then the
 * spillover run that places it (started, or the running one joined: it re-plans every round). 202 with the pool, the
 * `previous` count and `spillover: {operationId, started, operationUrl}`.
 */
export async function setPoolDemandHandler(
  services: Services,
  request: HttpRequest,
  invocation: InvocationContext,
): Promise<HttpResponseInit> {
  const ids = poolParams(request);
  if (!ids.ok) return ids.response;
  const body = await readBody(request, poolDemandRequestSchema);
  if (!body.ok) return body.response;
  const outcome = await setPoolDemand(services, ids.clusterId, ids.poolId, body.value, actorOf(request));
  if (!outcome.ok) return refusalToHttp(outcome);
  const run = await startSpillover(df.getClient(invocation), services, {
    clusterId: ids.clusterId,
    poolId: ids.poolId,
    trigger: { kind: 'api' },
    actor: actorOf(request),
    reason: `demand set to ${outcome.demand} (was ${outcome.previous})`,
  });
  const operationUrl = paths.operation(ids.clusterId, run.operationId);
  return {
    status: 202,
    headers: { location: operationUrl },
    jsonBody: { pool: outcome.view, previous: outcome.previous, spillover: { ...run, operationUrl } },
  };
}

/**
 * POST /api/v1/clusters/{clusterId}/pools/{poolId}/spillover (operator) `{reason?}`: runs the spillover now with the
 * demand as it is (after a quota increase, say). 202 `{operationId, started, operationUrl}`.
 */
export async function startSpilloverHandler(
  services: Services,
  request: HttpRequest,
  invocation: InvocationContext,
): Promise<HttpResponseInit> {
  const ids = poolParams(request);
  if (!ids.ok) return ids.response;
  const body = await readBody(request, poolSpilloverRequestSchema);
  if (!body.ok) return body.response;
  const found = await findPool(services, ids.clusterId, ids.poolId);
  if (!found.ok) return refusalToHttp(found);
  const run = await startSpillover(df.getClient(invocation), services, {
    clusterId: ids.clusterId,
    poolId: ids.poolId,
    trigger: { kind: 'api' },
    actor: actorOf(request),
    reason: body.value.reason ?? 'run on request',
  });
  const operationUrl = paths.operation(ids.clusterId, run.operationId);
  return { status: 202, headers: { location: operationUrl }, jsonBody: { ...run, operationUrl } };
}

/** GET /api/v1/clusters/{clusterId}/pools/{poolId}/nodes[?all=true]: the placement records (removed ones with all). */
export async function listPoolNodesHandler(
  services: Services,
  request: HttpRequest,
): Promise<HttpResponseInit> {
  const ids = poolParams(request);
  if (!ids.ok) return ids.response;
  const all = request.query.get('all');
  if (all !== null && all !== 'true' && all !== 'false')
    return jsonError(400, 'InvalidQuery', `all must be true or false, got ${JSON.stringify(all)}`);
  const outcome = await listPoolNodes(services, ids.clusterId, ids.poolId, {
    includeRemoved: all === 'true',
  });
  if (!outcome.ok) return refusalToHttp(outcome);
  return { jsonBody: { nodes: outcome.nodes } };
}

/** PUT /api/v1/clusters/{clusterId}/pools/{poolId}/nodes/{nodeId}/idle (operator) `{idle}`: idle or busy again. */
export async function setPoolNodeIdleHandler(
  services: Services,
  request: HttpRequest,
): Promise<HttpResponseInit> {
  const ids = poolParams(request);
  if (!ids.ok) return ids.response;
  const node = idParam(request, 'nodeId');
  if (!node.ok) return node.response;
  const body = await readBody(request, poolNodeIdleRequestSchema);
  if (!body.ok) return body.response;
  const outcome = await setPoolNodeIdle(
    services,
    ids.clusterId,
    ids.poolId,
    node.value,
    body.value.idle,
    actorOf(request),
  );
  if (!outcome.ok) return refusalToHttp(outcome);
  return { jsonBody: { node: outcome.node } };
}

/**
 * POST /api/v1/clusters/{clusterId}/pools/{poolId}/plan (operator) `{desired?}`: the dry run — headroom read now, the
 * planner's plan (nodes per site, and why each unused site is not used), nothing provisioned.
 */
export async function planPoolHandler(services: Services, request: HttpRequest): Promise<HttpResponseInit> {
  const ids = poolParams(request);
  if (!ids.ok) return ids.response;
  const body = await readBody(request, poolPlanRequestSchema);
  if (!body.ok) return body.response;
  const outcome = await planPool(
    services,
    ids.clusterId,
    ids.poolId,
    body.value.desired !== undefined ? { demand: body.value.desired } : {},
  );
  if (!outcome.ok) return refusalToHttp(outcome);
  const { ok: _ok, ...answer } = outcome;
  return { jsonBody: answer };
}

app.http(FunctionNames.getPool, {
  route: routes.pool,
  methods: ['GET'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('pool', 'GET', withServices(getPoolHandler))),
});
app.http(FunctionNames.setPoolDemand, {
  route: routes.poolDemand,
  methods: ['PUT'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  extraInputs: [df.input.durableClient()],
  handler: withErrorPolicy(authorizeRoute('poolDemand', 'PUT', withServices(setPoolDemandHandler))),
});
app.http(FunctionNames.startSpillover, {
  route: routes.poolSpillover,
  methods: ['POST'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  extraInputs: [df.input.durableClient()],
  handler: withErrorPolicy(authorizeRoute('poolSpillover', 'POST', withServices(startSpilloverHandler))),
});
app.http(FunctionNames.listPoolNodes, {
  route: routes.poolNodes,
  methods: ['GET'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('poolNodes', 'GET', withServices(listPoolNodesHandler))),
});
app.http(FunctionNames.setPoolNodeIdle, {
  route: routes.poolNodeIdle,
  methods: ['PUT'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('poolNodeIdle', 'PUT', withServices(setPoolNodeIdleHandler))),
});
app.http(FunctionNames.planPool, {
  route: routes.poolPlan,
  methods: ['POST'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('poolPlan', 'POST', withServices(planPoolHandler))),
});
