import { app, type InvocationContext, type Timer } from '@azure/functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { detectFailures } from '../../shared/control/detection/failureDetector';
import { isRetryable } from '../../shared/errors';
import type { Services } from '../../shared/services/services';
import { withServices } from '../common/withServices';

/** Every second: record a detection for each cluster whose active went silent (once per cluster and epoch). */
export async function failureDetector(
  services: Services,
  _timer: Timer,
  context: InvocationContext,
): Promise<void> {
  for (const d of await detectFailures(services)) {
    if (d.created)
      context.warn(`failure detected: cluster ${d.clusterId}, active ${d.activeNodeId}, epoch ${d.epoch}`);
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

app.timer(FunctionNames.failureDetector, { schedule: '* * * * * *', handler: everySecond });
