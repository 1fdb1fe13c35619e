import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { runCapacityMonitor } from '../../shared/control/pools/capacityMonitor';
import { isRetryable } from '../../shared/errors';
import type { Services } from '../../shared/services/services';
import { withServices } from '../common/withServices';
import { startSpillover } from '../durable/startSpillover';

/**
 * Every two minutes: re-read the headroom of pools with a shortfall (and of the preferred sites of pools with idle
 * spilled nodes), within a read budget and never for a site cooling down, and start the pool's spillover run when
 * room appeared. Switched off with `AzureWebJobs.capacityMonitor.Disabled=true`.
 */
export async function capacityMonitor(
  services: Services,
  _timer: Timer,
  context: InvocationContext,
): Promise<void> {
  const client = df.getClient(context);
  const round = await runCapacityMonitor(services, (request) =>
    startSpillover(client, services, {
      ...request,
      trigger: { kind: 'schedule', reference: 'capacity-monitor' },
      actor: 'capacity-monitor',
    }),
  );
  if (round.checked > 0 || round.failed.length > 0)
    context.info(
      `capacity monitor: ${JSON.stringify({ checked: round.checked, reads: round.reads, started: round.started.length, deferred: round.deferred, failed: round.failed })}`,
    );
}

/** A round that meets storage down is skipped; the next one tries again. */
async function everyTwoMinutes(timer: Timer, context: InvocationContext): Promise<void> {
  try {
    await withServices(capacityMonitor)(timer, context);
  } catch (error) {
    if (!isRetryable(error)) throw error;
    context.warn(`capacity monitor skipped a round: ${(error as Error).message}`);
  }
}

app.timer(FunctionNames.capacityMonitor, {
  schedule: '30 */2 * * * *',
  extraInputs: [df.input.durableClient()],
  handler: everyTwoMinutes,
});
