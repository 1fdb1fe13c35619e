import type { OrchestrationContext, Task } from 'durable-functions';
import type {
  ProvisionOutcome,
  ReleaseOutcome,
  SpilloverResult,
} from '../shared/control/pools/spilloverTypes';
import {
  Activities,
  callActivity,
  orchestrationInput,
  Orchestrations,
  RetryPolicies,
  toRetryOptions,
} from './contracts';

/**
 * A capacity pool's spillover run (`pool-<cluster>-<pool>`, one per pool at a time), as the runbook reads: read the
 * headroom of every site not cooling down (one call per site), plan, then provision all the sites of the plan at
 * once (one scale-out per site) and remove from the least preferred sites when the demand dropped. A site that
 * fails for capacity, quota or a size not offered is cooled down and the rest is planned again elsewhere, without
 * reading the headroom again; a throttled site is waited out (Retry-After, on a durable timer) and tried again.
 * Stop when a plan has nothing left to do — the demand met, or no site with room: the shortfall — then, with the
 * demand met, move a bounded batch of idle nodes back from spilled sites to preferred sites that have room again,
 * each replacement started and verified before its node is removed. Every plan reads the current demand, so a
 * demand changed mid-run is planned for in the next round.
 */
export function* spilloverOrchestrator(
  context: OrchestrationContext,
): Generator<Task, SpilloverResult, unknown> {
  const input = orchestrationInput(context, Orchestrations.spillover);
  const status = (step: string) => context.df.setCustomStatus({ operationId: input.operationId, step });
  status('starting');
  const begun = yield* callActivity(context, Activities.beginSpillover, input, RetryPolicies.witness);
  if (!begun.ok) return begun.result;

  let round = 0;
  let read: 'all' | string[] = 'all';
  let note: string | undefined;
  let spilledBack = false;
  while (round < begun.maxRounds) {
    round++;
    if (read === 'all' || read.length > 0) {
      status(`round ${round}: reading headroom`);
      yield* callActivity(
        context,
        Activities.refreshHeadroom,
        { input, round, sites: read },
        RetryPolicies.witness,
      );
    }
    status(`round ${round}: planning`);
    const plan = yield* callActivity(
      context,
      Activities.planSpillover,
      { input, round },
      RetryPolicies.witness,
    );
    if (plan.add.length === 0 && plan.remove.length === 0) {
      if (plan.shortfall > 0 || spilledBack || begun.spillBackBatch === 0) break;
      spilledBack = true;
      const back = yield* callActivity(
        context,
        Activities.planSpillBack,
        { input, round },
        RetryPolicies.witness,
      );
      if (back.moves.length === 0) break;
      status(`round ${round}: spilling back`);
      // Replacements first, all sites at once; then, for each one verified, the node it replaces.
      const started = (yield context.df.Task.all(
        back.moves.map((m) =>
          context.df.callActivityWithRetry(Activities.provisionSite, retry(), {
            input,
            round,
            siteId: m.to,
            count: m.nodeIds.length,
            purpose: 'spill-back',
          }),
        ),
      )) as ProvisionOutcome[];
      const removals = back.moves.flatMap((m, i) => {
        const outcome = started[i];
        if (outcome?.outcome !== 'placed') return [];
        const nodeIds = m.nodeIds.slice(0, outcome.nodeIds.length);
        return [{ siteId: m.from, nodeIds, reason: `spilled back to ${m.to}` }];
      });
      if (removals.length > 0)
        yield context.df.Task.all(
          removals.map((r) =>
            context.df.callActivityWithRetry(Activities.releaseSite, retry(), { input, round, ...r }),
          ),
        );
      read = [];
      continue;
    }
    status(
      `round ${round}: ${plan.add.map((a) => `+${a.count} ${a.siteId}`).join(' ')} ${plan.remove.map((r) => `-${r.count} ${r.siteId}`).join(' ')}`.trim(),
    );
    const provisions = plan.add.map((a) =>
      context.df.callActivityWithRetry(Activities.provisionSite, retry(), {
        input,
        round,
        siteId: a.siteId,
        count: a.count,
        purpose: 'demand',
      }),
    );
    const releases = plan.remove.map((r) =>
      context.df.callActivityWithRetry(Activities.releaseSite, retry(), {
        input,
        round,
        siteId: r.siteId,
        count: r.count,
        reason: `scale-in: the demand dropped to ${plan.demand}`,
      }),
    );
    const outcomes = (yield context.df.Task.all([...provisions, ...releases])) as (
      ProvisionOutcome | ReleaseOutcome
    )[];
    const throttled = outcomes.filter((o) => o.outcome === 'throttled');
    const failed = outcomes.filter(
      (o): o is Extract<ReleaseOutcome, { outcome: 'failed' }> => o.outcome === 'failed',
    );
    if (failed.length > 0) {
      // A removal the cloud refused for good (not a throttle, not a transient): stop and say so.
      note = failed.map((o) => `${o.siteId}: ${o.message}`).join('; ');
      break;
    }
    // Cooled sites are out of the next plan; the others' headroom is known (less what was placed): nothing to read.
    read = [];
    if (throttled.length > 0) {
      const waitMs = Math.max(...throttled.map((o) => ('retryAfterMs' in o ? o.retryAfterMs : 0)));
      note = `throttled by ${throttled.map((o) => o.siteId).join(', ')}`;
      status(`round ${round}: throttled, waiting ${waitMs} ms`);
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + waitMs));
    }
  }
  if (round >= begun.maxRounds) note ??= `stopped after ${round} rounds`;
  status('finishing');
  return yield* callActivity(
    context,
    Activities.finishSpillover,
    { input, rounds: round, ...(note ? { note } : {}) },
    RetryPolicies.witness,
  );
}

const retry = () => toRetryOptions(RetryPolicies.cloud);
