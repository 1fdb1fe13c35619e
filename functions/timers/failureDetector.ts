import { app, type InvocationContext, type Timer } from '@azure/functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { detectFailures } from '../../shared/control/failureDetector';
import { isRetryable } from '../../shared/errors';
import { getServices } from '../../shared/services/services';

/** Every second: record a detection for each cluster whose active went silent (once per cluster and epoch). */
export async function failureDetector(_timer: Timer, context: InvocationContext): Promise<void> {
  try {
    for (const d of await detectFailures(await getServices())) {
      if (d.created)
        context.warn(`failure detected: cluster ${d.clusterId}, active ${d.activeNodeId}, epoch ${d.epoch}`);
    }
  } catch (error) {
    if (!isRetryable(error)) throw error;
    context.warn(`failure detector skipped a round: ${(error as Error).message}`);
  }
}

app.timer(FunctionNames.failureDetector, { schedule: '* * * * * *', handler: failureDetector });
