import { failoverWebhookBodySchema, type FailoverWebhookBody } from '../contracts/failoverWebhook';
import { parseStrictJson } from '../contracts/json';
import { refuse, type Outcome } from '../control/common/outcome';

export type FailoverRequestRefusalCode =
  /** Not JSON, a duplicate key or an out-of-range number (HTTP 400). */
  | 'InvalidJson'
  /** JSON, but not `{ clusterId, reason, targetNodeId? }` (HTTP 422, each problem with its path). */
  | 'InvalidRequest'
  /** `targetNodeId` names no node of the cluster (HTTP 422). */
  | 'TargetNotInCluster';

/**
 * Reads the body of a verified failover webhook (the raw text whose signature was checked): strict JSON, then the
 * strict schema. Pure; never throws.
 */
export function parseFailoverRequest(
  text: string,
): Outcome<{ request: FailoverWebhookBody }, FailoverRequestRefusalCode> {
  const json = parseStrictJson(text);
  if (!json.ok)
    return refuse(
      'invalid',
      'InvalidJson',
      json.reason === 'syntax' ? 'the body is not JSON' : `the body is not valid JSON: ${json.message}`,
      json.path ? { path: json.path } : undefined,
    );
  const parsed = failoverWebhookBodySchema.safeParse(json.value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => ({
      path: i.path.join('.') || '(body)',
      message: i.message,
    }));
    return refuse(
      'unprocessable',
      'InvalidRequest',
      `the body must be { clusterId, reason, targetNodeId? }: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`,
      { problems },
    );
  }
  return { ok: true, request: parsed.data };
}

/** `targetNodeId`, when given, must be a node of the cluster (the cluster's declared node ids). */
export function checkFailoverTarget(
  request: FailoverWebhookBody,
  nodeIds: readonly string[],
): Outcome<Record<never, never>, FailoverRequestRefusalCode> {
  if (request.targetNodeId === undefined || nodeIds.includes(request.targetNodeId)) return { ok: true };
  return refuse(
    'unprocessable',
    'TargetNotInCluster',
    `targetNodeId ${request.targetNodeId} is not a node of cluster ${request.clusterId}`,
    { targetNodeId: request.targetNodeId, nodeIds: [...nodeIds] },
  );
}
