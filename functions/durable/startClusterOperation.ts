import type * as df from 'durable-functions';
import { InstanceIds, Orchestrations } from '../../orchestrations/contracts';
import { isId } from '../../shared/contracts/ids';
import { refuse, type Outcome } from '../../shared/control/common/outcome';
import type { ClusterOperationInput } from '../../shared/control/operations/clusterOperationTypes';
import type { Services } from '../../shared/services/services';
import { isRunning, readStatus, startOrJoin } from './singleton';

export type ClusterOperationRequest = Omit<ClusterOperationInput, 'operationId' | 'requestedAt'> & {
  /**
   * A deterministic id for triggers that can be delivered twice (a webhook's alert id and condition): the same id
   * joins the running operation or, once it ended, starts nothing (its first activity answers with how it ended).
   */
  operationId?: string;
};

export type StartedOperation = Outcome<{ operationId: string; started: boolean; instanceId: string }>;

/** The operation id of a running instance's input, if it has a valid one. */
function runningOperationId(previous: df.DurableOrchestrationStatus | undefined): string | undefined {
  const input: unknown = previous?.input;
  if (typeof input !== 'object' || input === null) return undefined;
  const id = (input as { operationId?: unknown }).operationId;
  return isId(id) ? id : undefined;
}

/**
 * Starts the cluster's operation (`cluster-<id>`, the per-cluster singleton), or joins the one running: every
 * trigger (API, portal, webhook, detector, arbitration) calls this, so concurrent triggers start one operation and
 * the others answer with it. `ClusterNotFound` for an undeclared cluster; a task hub failure throws
 * `DurableBackendUnavailableError` (503).
 */
export async function startClusterOperation(
  client: df.DurableClient,
  services: Services,
  request: ClusterOperationRequest,
): Promise<StartedOperation> {
  const stored = await services.clusters.getDocument(request.clusterId);
  if (!stored) return refuse('not-found', 'ClusterNotFound', `cluster ${request.clusterId} is not declared`);
  const requestedAt = services.now();
  const input: ClusterOperationInput = {
    ...request,
    operationId: request.operationId ?? `${request.kind}-${requestedAt.toString(36)}`,
    requestedAt,
  };
  const singleton = await startOrJoin(
    client,
    Orchestrations.clusterOperation,
    InstanceIds.clusterOperation(request.clusterId),
    input,
    'not-running',
  );
  if (singleton.started)
    return { ok: true, operationId: input.operationId, started: true, instanceId: singleton.instanceId };
  // Joined the running one, or lost the race to another starter (then `previous` is the instance before it: read
  // the winner's).
  const running = isRunning(singleton.previous)
    ? singleton.previous
    : await readStatus(client, singleton.instanceId);
  const joined = runningOperationId(running);
  if (joined) return { ok: true, operationId: joined, started: false, instanceId: singleton.instanceId };
  return {
    ...refuse(
      'unavailable',
      'OperationStarting',
      `another operation of ${request.clusterId} is starting; retry to see it`,
      { instanceId: singleton.instanceId },
    ),
    retryAfterSeconds: 1,
  };
}
