import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { runDrillSchedule } from '../../shared/control/drills/drillSchedule';
import { isRetryable } from '../../shared/errors';
import type { Services } from '../../shared/services/services';
import { withServices } from '../common/withServices';
import { startDrill } from '../durable/startDrill';

/**
 * Each minute at second 0: start the drill of every cluster whose `drill.schedule` has a slot due, once per slot
 * however many host instances run this timer (each slot is claimed in the `drillSlots` table; only the claim's
 * winner starts it), and one drill for the latest slot after downtime. Switched off with the app setting
 * `AzureWebJobs.drillScheduler.Disabled=true`, as the Functions host (and the devhost) honour it for any timer.
 */
export async function drillScheduler(
  services: Services,
  _timer: Timer,
  context: InvocationContext,
): Promise<void> {
  const client = df.getClient(context);
  const round = await runDrillSchedule(services, (request) => startDrill(client, services, request), {
    log: (level, message) => context[level](message),
  });
  if (round.slots.length > 0) {
    const { started, skipped, refused, claimedElsewhere, failed } = round;
    context.info(
      `drill schedule: ${JSON.stringify({ started, skipped, refused, claimedElsewhere, failed })}`,
    );
  }
}

/** A round that meets storage down (or services that cannot be built yet) is skipped; the next minute tries again. */
async function everyMinute(timer: Timer, context: InvocationContext): Promise<void> {
  try {
    await withServices(drillScheduler)(timer, context);
  } catch (error) {
    if (!isRetryable(error)) throw error;
    context.warn(`drill scheduler skipped a round: ${(error as Error).message}`);
  }
}

app.timer(FunctionNames.drillScheduler, {
  schedule: '0 * * * * *',
  extraInputs: [df.input.durableClient()],
  handler: everyMinute,
});
