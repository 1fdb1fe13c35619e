import type { InvocationContext } from '@azure/functions';
import type * as df from 'durable-functions';
import { endDetection, orphanRetryId, type Detection } from '../../shared/control/detection/failureDetector';
import type { Services } from '../../shared/services/services';
import { startClusterOperation } from './startClusterOperation';

/**
 * Starts (or joins) the failover of a newly recorded detection, unless the cluster's `failover.mode` is `manual`
 * (the detection then waits for an operator). Shared by the detector's round and the standby heartbeat that saw the
 * silence first: whichever records the detection starts its failover.
 */
export async function startDetectedFailover(
  client: df.DurableClient,
  services: Services,
  detection: Detection,
  context: InvocationContext,
): Promise<void> {
  if (!detection.created) return;
  const d = detection;
  context.warn(`failure detected: cluster ${d.clusterId}, active ${d.activeNodeId}, epoch ${d.epoch}`);
  const document = (await services.clusters.getDocument(d.clusterId))?.document;
  if (!document || document.failover.mode === 'manual') return;
  const retry = d.operationId === orphanRetryId(d.epoch, Number(d.operationId.split('-retry-')[1]));
  const started = await startClusterOperation(client, services, {
    clusterId: d.clusterId,
    kind: 'failover',
    targetNodeId: null,
    force: false,
    trigger: { kind: 'detector', reference: d.operationId },
    actor: 'controller',
    reason: retry
      ? `epoch ${d.epoch} was revoked without a new active: trying again`
      : `${d.activeNodeId} went silent under epoch ${d.epoch}`,
    avoidRegions: [],
  });
  if (started.ok) {
    context.warn(
      `failover ${started.operationId} ${started.started ? 'started' : 'joined'} for ${d.clusterId}`,
    );
    // A retry that found the cluster's operation still running (a long lease wait) has nothing of its own to do;
    // that operation ends its own detection.
    if (retry && !started.started)
      await endDetection(services, d.clusterId, d.operationId, 'superseded', {
        reason: `the cluster's operation ${started.operationId} was already running`,
      });
  } else if (retry)
    await endDetection(services, d.clusterId, d.operationId, 'refused', { reason: started.message });
}
