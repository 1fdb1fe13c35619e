import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { routes } from '../../shared/contracts/routes';
import {
  clusterStatus,
  declareCluster,
  documentFormat,
  JSON_CONTENT_TYPES,
  parseDocumentText,
  YAML_CONTENT_TYPES,
} from '../../shared/control/clusters/clusterAdmin';
import {
  deleteClusterRequestSchema,
  OPERATION_REQUEST_MAX_BYTES,
} from '../../shared/contracts/operationsRequests';
import { parseStrictJson } from '../../shared/contracts/json';
import { deleteCluster } from '../../shared/control/clusters/deleteCluster';
import { renderClusterStatusText } from '../../shared/domain/clusterStatus';
import type { Services } from '../../shared/services/services';
import { actorOf, authorizeRoute } from '../common/authorize';
import { withServices } from '../common/withServices';
import { idParam, jsonError, limitedBody, withErrorPolicy } from './httpResponses';
import { refusalToHttp } from './refusalToHttp';

const MAX_DOCUMENT_BYTES = 256 * 1024;

/** PUT /api/v1/clusters/{clusterId} (admin): declare or update a cluster from JSON or YAML. */
export async function declareClusterHandler(
  services: Services,
  request: HttpRequest,
): Promise<HttpResponseInit> {
  const id = idParam(request, 'clusterId');
  if (!id.ok) return id.response;
  const format = documentFormat(request.headers.get('content-type') ?? undefined);
  if (!format)
    return jsonError(
      415,
      'UnsupportedMediaType',
      `a cluster document is JSON (${JSON_CONTENT_TYPES.join(', ')}, or no content type) or YAML (${YAML_CONTENT_TYPES.join(', ')})`,
      { accepted: [...JSON_CONTENT_TYPES, ...YAML_CONTENT_TYPES] },
    );
  const body = await limitedBody(request, MAX_DOCUMENT_BYTES);
  if (!body.ok) return body.response;
  const parsed = parseDocumentText(body.body.toString('utf8'), format);
  if (!parsed.ok) return jsonError(400, 'InvalidDocumentSyntax', parsed.message);
  const outcome = await declareCluster(services, id.value, parsed.value, actorOf(request));
  if (!outcome.ok) return refusalToHttp(outcome);
  const status = await clusterStatus(services, id.value);
  return {
    status: outcome.created ? 201 : 200,
    jsonBody: { cluster: outcome.document, changed: outcome.changed, warnings: outcome.warnings, status },
  };
}

/** GET /api/v1/clusters/{clusterId}: the document with live status. */
export async function getClusterHandler(services: Services, request: HttpRequest): Promise<HttpResponseInit> {
  const id = idParam(request, 'clusterId');
  if (!id.ok) return id.response;
  const stored = await services.clusters.getDocument(id.value);
  if (!stored) return jsonError(404, 'ClusterNotFound', `cluster ${id.value} is not declared`);
  return { jsonBody: { cluster: stored.document, status: await clusterStatus(services, id.value) } };
}

/** GET /api/v1/clusters: every cluster with its epoch and active node. */
export async function listClustersHandler(services: Services): Promise<HttpResponseInit> {
  const documents = await services.clusters.listDocuments();
  const clusters = await Promise.all(
    documents.map(async ({ document }) => {
      const state = await services.clusters.getState(document.id);
      return {
        id: document.id,
        kind: document.kind,
        nodes: document.nodes.length,
        epoch: state?.state.epoch ?? 0,
        activeNodeId: state?.state.revoked ? null : (state?.state.activeNodeId ?? null),
      };
    }),
  );
  return { jsonBody: { clusters } };
}

/** GET /api/v1/clusters/{clusterId}/status[?format=text]: `cmha status` for a cluster. */
export async function clusterStatusHandler(
  services: Services,
  request: HttpRequest,
): Promise<HttpResponseInit> {
  const id = idParam(request, 'clusterId');
  if (!id.ok) return id.response;
  const format = request.query.get('format') ?? 'json';
  if (format !== 'json' && format !== 'text')
    return jsonError(400, 'InvalidFormat', 'format must be json or text');
  const status = await clusterStatus(services, id.value);
  if (!status) return jsonError(404, 'ClusterNotFound', `cluster ${id.value} is not declared`);
  if (format === 'text')
    return {
      body: renderClusterStatusText(status),
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    };
  return { jsonBody: status };
}

/**
 * DELETE /api/v1/clusters/{clusterId} (admin): `{confirm?, force?}` (body, or `?confirm=true&force=true`). Without
 * `confirm` the plan (200, nothing changes); confirmed, 200 `{deleted: true, plan}`; 409 `OperationRunning` or
 * `NodesHeartbeating` with the plan; 404 `ClusterNotFound`.
 */
export async function deleteClusterHandler(
  services: Services,
  request: HttpRequest,
): Promise<HttpResponseInit> {
  const id = idParam(request, 'clusterId');
  if (!id.ok) return id.response;
  const body = await limitedBody(request, OPERATION_REQUEST_MAX_BYTES);
  if (!body.ok) return body.response;
  const text = body.body.toString('utf8');
  let value: unknown = {};
  if (text.trim() !== '') {
    const json = parseStrictJson(text);
    if (!json.ok) return jsonError(400, 'InvalidJson', `the body is not valid JSON: ${json.message}`);
    value = json.value;
  }
  const flags: Record<string, boolean> = {};
  for (const name of ['confirm', 'force'] as const) {
    const query = request.query.get(name);
    if (query === null) continue;
    if (query !== 'true' && query !== 'false')
      return jsonError(400, 'InvalidQuery', `${name} must be true or false`);
    flags[name] = query === 'true';
  }
  const parsed = deleteClusterRequestSchema.safeParse(value);
  if (!parsed.success)
    return jsonError(422, 'InvalidRequest', 'the request body is invalid', {
      problems: parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })),
    });
  const options = { ...flags, ...parsed.data, actor: actorOf(request) };
  const outcome = await deleteCluster(services, id.value, options);
  if (!outcome.ok) return refusalToHttp(outcome);
  return { status: 200, jsonBody: { deleted: outcome.deleted, plan: outcome.plan } };
}

app.http(FunctionNames.declareCluster, {
  route: routes.cluster,
  methods: ['PUT'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('cluster', 'PUT', withServices(declareClusterHandler))),
});
app.http(FunctionNames.getCluster, {
  route: routes.cluster,
  methods: ['GET'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('cluster', 'GET', withServices(getClusterHandler))),
});
app.http(FunctionNames.listClusters, {
  route: routes.clusters,
  methods: ['GET'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('clusters', 'GET', withServices(listClustersHandler))),
});
app.http(FunctionNames.clusterStatus, {
  route: routes.clusterStatus,
  methods: ['GET'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('clusterStatus', 'GET', withServices(clusterStatusHandler))),
});
app.http(FunctionNames.deleteCluster, {
  route: routes.cluster,
  methods: ['DELETE'],
  authLevel: 'anonymous', // the app authorizes: ROUTE_ACCESS, functions/common/authorize.ts
  handler: withErrorPolicy(authorizeRoute('cluster', 'DELETE', withServices(deleteClusterHandler))),
});
