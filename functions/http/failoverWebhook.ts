import { createHash } from 'node:crypto';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { verifyStandardWebhook, webhookIdExpiry } from '../../shared/auth/standardWebhooks';
import { FunctionNames } from '../../shared/constants/functionNames';
import {
  FAILOVER_WEBHOOK_MAX_BYTES,
  type FailoverWebhookAnswer,
} from '../../shared/contracts/failoverWebhook';
import { paths, routes } from '../../shared/contracts/routes';
import type { Services } from '../../shared/services/services';
import type { WebhookDelivery } from '../../shared/stores/webhookReplayStore';
import { checkFailoverTarget, parseFailoverRequest } from '../../shared/webhooks/failoverRequest';
import { withServices } from '../common/withServices';
import { startClusterOperation } from '../durable/startClusterOperation';
import { jsonError, limitedBody, withErrorPolicy } from './httpResponses';
import { refusalToHttp } from './refusalToHttp';

/**
 * One operation per (webhook id, cluster): two concurrent deliveries of one message start-or-join the same one, and
 * a delivery after it ended starts nothing again (its first activity answers how it ended).
 */
export const failoverWebhookOperationId = (webhookId: string, clusterId: string): string =>
  `failover-wh-${createHash('sha256').update(`standard-webhook\n${webhookId}\n${clusterId}`).digest('hex').slice(0, 24)}`;

const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');

function answer(status: number, delivery: WebhookDelivery, started: boolean): HttpResponseInit {
  const statusUrl = paths.operation(delivery.clusterId, delivery.operationId);
  const jsonBody: FailoverWebhookAnswer = {
    operationId: delivery.operationId,
    clusterId: delivery.clusterId,
    statusUrl,
    started,
    duplicate: status === 200,
  };
  return { status, headers: { location: statusUrl }, jsonBody };
}

/** A delivery of an id already acted on: the same body is a redelivery (200, its operation); another body is 409. */
function redelivery(known: WebhookDelivery, bodySha256: string): HttpResponseInit {
  if (known.bodySha256 !== bodySha256)
    return jsonError(
      409,
      'WebhookIdReused',
      'this webhook-id was already delivered with another body; send each request under a new webhook-id',
      { operationId: known.operationId },
    );
  return answer(200, known, false);
}

/**
 * POST /api/v1/webhooks/failover (anonymous; authenticated by its Standard Webhooks signature under one of
 * `FAILOVER_WEBHOOK_SECRETS`): `{ clusterId, reason, targetNodeId? }` starts the cluster's unplanned failover — or
 * joins the one running — as an automatic trigger (`failover.mode` and anti-flapping apply; a refusal is recorded on
 * the operation). Answers 202 `{ operationId, clusterId, statusUrl, started, duplicate: false }` at once, never
 * waiting for the failover; a redelivered `webhook-id` starts nothing and answers 200 with the same operation
 * (`duplicate: true`). Refusals, with nothing started: 501 not configured, 413 body > 16 KiB, 401 headers missing or
 * malformed, timestamp more than 5 minutes from the host clock, or no matching signature; 400 not JSON; 422 not the
 * body's shape or a target that is not a node of the cluster; 404 unknown cluster; 409 a webhook-id reused for
 * another body. A temporary failure is 503 with Retry-After.
 */
export async function failoverWebhookHandler(
  services: Services,
  request: HttpRequest,
  invocation: InvocationContext,
): Promise<HttpResponseInit> {
  const secrets = services.config.failoverWebhookSecrets;
  if (secrets.length === 0)
    return jsonError(
      501,
      'WebhookNotConfigured',
      'the signed failover webhook is not enabled on this control plane: set FAILOVER_WEBHOOK_SECRETS to one or more whsec_ secrets',
    );
  const body = await limitedBody(request, FAILOVER_WEBHOOK_MAX_BYTES);
  if (!body.ok) return body.response;
  const verified = verifyStandardWebhook({
    headers: Object.fromEntries(request.headers.entries()),
    body: body.body,
    secrets,
    now: services.now(),
  });
  if (!verified.ok) {
    invocation.warn(`failover webhook refused: ${verified.code}`);
    return refusalToHttp(verified);
  }
  const webhookId = verified.id;
  const parsed = parseFailoverRequest(body.body.toString('utf8'));
  if (!parsed.ok) return refusalToHttp(parsed);
  const { clusterId, reason, targetNodeId } = parsed.request;
  const bodySha256 = sha256(body.body);

  const known = await services.webhookReplay.get(webhookId);
  if (known) {
    invocation.log(`failover webhook ${webhookId} redelivered: operation ${known.operationId}`);
    return redelivery(known, bodySha256);
  }
  const stored = await services.clusters.getDocument(clusterId);
  if (!stored) return jsonError(404, 'ClusterNotFound', `cluster ${clusterId} is not declared`);
  const target = checkFailoverTarget(
    parsed.request,
    stored.document.nodes.map((n) => n.id),
  );
  if (!target.ok) return refusalToHttp(target);

  const actor = `webhook:${webhookId.slice(0, 8)}`;
  const started = await startClusterOperation(df.getClient(invocation), services, {
    clusterId,
    operationId: failoverWebhookOperationId(webhookId, clusterId),
    kind: 'failover',
    targetNodeId: targetNodeId ?? null,
    force: false,
    trigger: { kind: 'webhook', reference: webhookId },
    actor,
    reason,
    avoidRegions: [],
  });
  if (!started.ok) return refusalToHttp(started);

  // Remembered once the operation has durably started: a delivery that failed before this point is retried by its
  // sender under the same id and acted on then (and joins, by the deterministic operation id, if it got that far).
  const now = services.now();
  const delivery: WebhookDelivery = {
    webhookId,
    clusterId,
    operationId: started.operationId,
    bodySha256,
    timestampSeconds: verified.timestampSeconds,
    receivedAt: now,
    expiresAt: webhookIdExpiry(verified.timestampSeconds),
  };
  const remembered = await services.webhookReplay.insertIfAbsent(delivery);
  if (!remembered.inserted) {
    // A concurrent copy of this delivery remembered it first. Having started or joined the same operation, this
    // one answers as it acted (so exactly one copy says `started: true`); otherwise the first record stands.
    const first = remembered.existing;
    return first.bodySha256 === bodySha256 && first.operationId === started.operationId
      ? answer(202, delivery, started.started)
      : redelivery(first, bodySha256);
  }
  await services.audit.append({
    clusterId,
    at: now,
    actor,
    action: 'failover-requested',
    detail: {
      webhookId,
      reason,
      targetNodeId: targetNodeId ?? null,
      operationId: started.operationId,
      started: started.started,
    },
  });
  invocation.log(
    `failover webhook ${webhookId} for ${clusterId}: operation ${started.operationId} ${started.started ? 'started' : 'joined'}`,
  );
  return answer(202, delivery, started.started);
}

app.http(FunctionNames.failoverWebhook, {
  route: routes.webhookFailover,
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: withErrorPolicy(withServices(failoverWebhookHandler)),
});
