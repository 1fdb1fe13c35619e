import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { poolDemandRequestSchema, poolPlanRequestSchema } from '../../shared/contracts/operationsRequests';
import { routes } from '../../shared/contracts/routes';
import { planPool } from '../../shared/control/pools/planPool';
import { poolView } from '../../shared/control/pools/poolView';
import { setPoolDemand } from '../../shared/control/pools/setPoolDemand';
import type { Services } from '../../shared/services/services';
import { actorOf, authorizeRoute } from '../common/authorize';
import { withServices } from '../common/withServices';
import { idParam, withErrorPolicy } from './httpResponses';
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

/** PUT /api/v1/clusters/{clusterId}/pools/{poolId}/demand (operator) `{desired}`: the pool's new desired count. */
export async function setPoolDemandHandler(
  services: Services,
  request: HttpRequest,
): Promise<HttpResponseInit> {
  const ids = poolParams(request);
  if (!ids.ok) return ids.response;
  const body = await readBody(request, poolDemandRequestSchema);
  if (!body.ok) return body.response;
  const outcome = await setPoolDemand(
    services,
    ids.clusterId,
    ids.poolId,
    body.value.desired,
    actorOf(request),
  );
  if (!outcome.ok) return refusalToHttp(outcome);
  return { jsonBody: { pool: outcome.view, previous: outcome.previous } };
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
  handler: withErrorPolicy(authorizeRoute('poolDemand', 'PUT', withServices(setPoolDemandHandler))),
});
app.http(FunctionNames.planPool, {
  route: routes.poolPlan,
  methods: ['POST'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('poolPlan', 'POST', withServices(planPoolHandler))),
});
