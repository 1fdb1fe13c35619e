import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { detectFailures } from '../../shared/control/detection/failureDetector';
import { isRetryable } from '../../shared/errors';
import type { Services } from '../../shared/services/services';
import { withServices } from '../common/withServices';
import { startClusterOperation } from '../durable/startClusterOperation';

/**
 * Every second: record a detection for each cluster whose active went silent (once per silence), and start the
 * cluster's failover for it (or join the operation already running) — unless the cluster's `failover.mode` is
 * `manual`, where the detection waits for an operator.
 */
export async function failureDetector(
  services: Services,
  _timer: Timer,
  context: InvocationContext,
): Promise<void> {
  const client = df.getClient(context);
  for (const d of await detectFailures(services)) {
    if (!d.created) continue;
    context.warn(`failure detected: cluster ${d.clusterId}, active ${d.activeNodeId}, epoch ${d.epoch}`);
    const document = (await services.clusters.getDocument(d.clusterId))?.document;
    if (!document || document.failover.mode === 'manual') continue;
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
}

/** A round that meets storage down (or services that cannot be built yet) is skipped; the next second tries again. */
async function everySecond(timer: Timer, context: InvocationContext): Promise<void> {
  try {
    await withServices(failureDetector)(timer, context);
  } catch (error) {
    if (!isRetryable(error)) throw error;
    context.warn(`failure detector skipped a round: ${(error as Error).message}`);
  }
}

app.timer(FunctionNames.failureDetector, {
  schedule: '* * * * * *',
  extraInputs: [df.input.durableClient()],
  handler: everySecond,
});
