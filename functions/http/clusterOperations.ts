import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { failoverRequestSchema, makeActiveRequestSchema } from '../../shared/contracts/operationsRequests';
import { paths, routes } from '../../shared/contracts/routes';
import { HASTEN_AFTER_PLAN_MS, hastenHeartbeats } from '../../shared/control/agents/hastenHeartbeats';
import { loadMakeActivePlan } from '../../shared/control/operations/makeActivePlan';
import type { Services } from '../../shared/services/services';
import { actorOf, authorizeRoute } from '../common/authorize';
import { withServices } from '../common/withServices';
import { startClusterOperation, type StartedOperation } from '../durable/startClusterOperation';
import { idParam, jsonError, withErrorPolicy } from './httpResponses';
import { readBody } from './readBody';
import { refusalToHttp } from './refusalToHttp';

/** 202 with the operation (started, or the one already running) and where to follow it. */
function startedResponse(clusterId: string, outcome: StartedOperation): HttpResponseInit {
  if (!outcome.ok) return refusalToHttp(outcome);
  const statusUrl = paths.operation(clusterId, outcome.operationId);
  return {
    status: 202,
    headers: { location: statusUrl },
    jsonBody: { operationId: outcome.operationId, started: outcome.started, statusUrl },
  };
}

/**
 * POST /api/v1/clusters/{clusterId}/makeactive (operator) `{nodeId, confirm?, force?, reason?}`: without `confirm: true`
 * the plan (200; nothing changes); with it, 409 `PreconditionsNotMet` while a precondition fails (unless `force`),
 * else the make-active operation starts (202, or the running one with `started: false`).
 */
export async function makeActiveHandler(
  services: Services,
  request: HttpRequest,
  invocation: InvocationContext,
): Promise<HttpResponseInit> {
  const cluster = idParam(request, 'clusterId');
  if (!cluster.ok) return cluster.response;
  const body = await readBody(request, makeActiveRequestSchema);
  if (!body.ok) return body.response;
  const { nodeId, confirm = false, force = false, reason } = body.value;
  const loaded = await loadMakeActivePlan(services, cluster.value, nodeId, force);
  if (!loaded.ok) return refusalToHttp(loaded);
  const { plan } = loaded;
  if (plan.blockers.includes('target-in-cluster'))
    return jsonError(422, 'TargetNotInCluster', `${nodeId} is not a node of ${cluster.value}`, { plan });
  if (!confirm) {
    // The operator is about to confirm: have the agents heartbeat fast meanwhile, so the confirmation reaches them
    // within an urgent interval (a hint; the plan answers whether or not it could be written).
    if (plan.canRun)
      await hastenHeartbeats(
        services,
        cluster.value,
        [plan.target, ...plan.becomesPassive],
        services.now() + HASTEN_AFTER_PLAN_MS,
      );
    return { status: 200, jsonBody: { plan } };
  }
  if (!plan.canRun)
    return jsonError(
      409,
      'PreconditionsNotMet',
      `make-active of ${nodeId} is blocked by ${plan.blockers.join(', ')}; fix them (force lifts only the RPO bound)`,
      { blockers: plan.blockers, plan },
    );
  const outcome = await startClusterOperation(df.getClient(invocation), services, {
    clusterId: cluster.value,
    kind: 'make-active',
    targetNodeId: nodeId,
    force,
    trigger: { kind: 'api' },
    actor: actorOf(request),
    reason: reason ?? `make ${nodeId} active`,
    avoidRegions: [],
  });
  return startedResponse(cluster.value, outcome);
}

/**
 * POST /api/v1/clusters/{clusterId}/failover (operator) `{reason, targetNodeId?, force?}`: starts an unplanned failover
 * (202, or the running operation with `started: false`).
 */
export async function failoverHandler(
  services: Services,
  request: HttpRequest,
  invocation: InvocationContext,
): Promise<HttpResponseInit> {
  const cluster = idParam(request, 'clusterId');
  if (!cluster.ok) return cluster.response;
  const body = await readBody(request, failoverRequestSchema);
  if (!body.ok) return body.response;
  const { reason, targetNodeId, force = false } = body.value;
  const stored = await services.clusters.getDocument(cluster.value);
  if (!stored) return jsonError(404, 'ClusterNotFound', `cluster ${cluster.value} is not declared`);
  if (targetNodeId !== undefined && !stored.document.nodes.some((n) => n.id === targetNodeId))
    return jsonError(422, 'TargetNotInCluster', `${targetNodeId} is not a node of ${cluster.value}`);
  const outcome = await startClusterOperation(df.getClient(invocation), services, {
    clusterId: cluster.value,
    kind: 'failover',
    targetNodeId: targetNodeId ?? null,
    force,
    trigger: { kind: 'api' },
    actor: actorOf(request),
    reason,
    avoidRegions: [],
  });
  return startedResponse(cluster.value, outcome);
}

app.http(FunctionNames.makeActive, {
  route: routes.makeActive,
  methods: ['POST'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  extraInputs: [df.input.durableClient()],
  handler: withErrorPolicy(authorizeRoute('makeActive', 'POST', withServices(makeActiveHandler))),
});
app.http(FunctionNames.failover, {
  route: routes.failover,
  methods: ['POST'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  extraInputs: [df.input.durableClient()],
  handler: withErrorPolicy(authorizeRoute('failover', 'POST', withServices(failoverHandler))),
});
