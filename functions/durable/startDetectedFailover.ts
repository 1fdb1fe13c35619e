import type { InvocationContext } from '@azure/functions';
import type * as df from 'durable-functions';
import type { Detection } from '../../shared/control/detection/failureDetector';
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
  const started = await startClusterOperation(client, services, {
    clusterId: d.clusterId,
    kind: 'failover',
    targetNodeId: null,
    force: false,
    trigger: { kind: 'detector', reference: d.operationId },
    actor: 'controller',
    reason: `${d.activeNodeId} went silent under epoch ${d.epoch}`,
    avoidRegions: [],
  });
  if (started.ok)
    context.warn(
      `failover ${started.operationId} ${started.started ? 'started' : 'joined'} for ${d.clusterId}`,
    );
}
