import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { routes } from '../../shared/contracts/routes';
import { breakWitness, issueNodeKey } from '../../shared/control/clusters/clusterAdmin';
import type { Services } from '../../shared/services/services';
import { actorOf, authorizeRoute } from '../common/authorize';
import { withServices } from '../common/withServices';
import { idParam, jsonError, withErrorPolicy } from './httpResponses';
import { refusalToHttp } from './refusalToHttp';

/**
 * POST /api/v1/clusters/{clusterId}/nodes/{nodeId}/key[?rotate=true] (admin): the node's key and the cluster's peer
 * key, shown once (`no-store`, never logged).
 */
export async function issueNodeKeyHandler(
  services: Services,
  request: HttpRequest,
): Promise<HttpResponseInit> {
  const cluster = idParam(request, 'clusterId');
  if (!cluster.ok) return cluster.response;
  const node = idParam(request, 'nodeId');
  if (!node.ok) return node.response;
  const outcome = await issueNodeKey(
    services,
    cluster.value,
    node.value,
    request.query.get('rotate') === 'true',
    { actor: actorOf(request) },
  );
  if (!outcome.ok) return refusalToHttp(outcome);
  return {
    status: 201,
    jsonBody: {
      clusterId: cluster.value,
      nodeId: outcome.nodeId,
      keyVersion: outcome.keyVersion,
      key: outcome.key,
      // The cluster's peer key (peer promises): the agent keeps it beside its node key (`peerListener.keyFile`).
      peerKey: outcome.peerKey,
    },
    headers: { 'cache-control': 'no-store' },
  };
}

/** POST /api/v1/clusters/{clusterId}/witness/break (admin): forced recovery of a stuck witness lease. */
export async function breakWitnessHandler(
  services: Services,
  request: HttpRequest,
): Promise<HttpResponseInit> {
  const cluster = idParam(request, 'clusterId');
  if (!cluster.ok) return cluster.response;
  const reason = (request.query.get('reason') ?? '').slice(0, 200);
  if (!reason) return jsonError(400, 'ReasonRequired', 'say why: ?reason=... (it goes to the audit log)');
  const done = await breakWitness(services, cluster.value, reason, { actor: actorOf(request) });
  if (!done) return jsonError(404, 'ClusterNotFound', `cluster ${cluster.value} is not declared`);
  return { status: 202, jsonBody: { clusterId: cluster.value, broken: true } };
}

app.http(FunctionNames.issueNodeKey, {
  route: routes.nodeKey,
  methods: ['POST'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('nodeKey', 'POST', withServices(issueNodeKeyHandler))),
});
app.http(FunctionNames.breakWitness, {
  route: routes.witnessBreak,
  methods: ['POST'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('witnessBreak', 'POST', withServices(breakWitnessHandler))),
});
