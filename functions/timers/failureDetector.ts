import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { detectFailures } from '../../shared/control/detection/failureDetector';
import { isRetryable } from '../../shared/errors';
import type { Services } from '../../shared/services/services';
import { withServices } from '../common/withServices';
import { startDetectedFailover } from '../durable/startDetectedFailover';

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
  for (const detection of await detectFailures(services))
    await startDetectedFailover(client, services, detection, context);
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
