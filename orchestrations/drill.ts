import type { OrchestrationContext, Task } from 'durable-functions';
import type { DrillEnd, DrillObservation, DrillPlan } from '../shared/control/drills/drillTypes';
import type { DrillInput } from '../shared/control/drills/drillTypes';
import { Activities, callActivity, orchestrationInput, Orchestrations, RetryPolicies } from './contracts';

/**
 * A DR drill (`drill-<clusterId>`), as the runbook reads: check every precondition of a real failover and time it
 * (validate: that is the drill); switchover: make the target active and then the original again, each through the
 * cluster's operation singleton like an operator's make-active, measured; failover: tell the active to go silent,
 * let detection, fencing, promotion and verification run for real, and wait for the old active to come back as a
 * standby. Then write the report. The drill never holds `cluster-<id>`: a real failover is never kept waiting by a
 * drill, and a failover the drill did not cause stops it (`aborted`).
 */
export function* drillOrchestrator(context: OrchestrationContext): Generator<Task, DrillEnd, unknown> {
  const input = orchestrationInput(context, Orchestrations.drill);
  const status = (step: string) => context.df.setCustomStatus({ drillId: input.drillId, step });
  status('checking');
  const begun = yield* callActivity(context, Activities.beginDrill, input, RetryPolicies.witness);
  if (!begun.ok) {
    status('ended');
    return begun.end;
  }
  const { plan, validation } = begun;
  const legOperationIds: string[] = [];
  const notes: string[] = [];
  let abort: string | undefined;

  if (begun.proceed && plan.mode === 'switchover' && plan.target && plan.originalActive) {
    const legs = [
      { leg: 'there' as const, to: plan.target },
      { leg: 'back' as const, to: plan.originalActive },
    ];
    for (const { leg, to } of legs) {
      status(`make ${to} active`);
      const started = yield* callActivity(
        context,
        Activities.startDrillLeg,
        { input, leg, to },
        RetryPolicies.witness,
      );
      if (!started.ok) {
        abort = started.reason;
        break;
      }
      legOperationIds.push(started.operationId);
      const seen = yield* watch(context, input, plan, started.operationId);
      if (seen.abort) abort = seen.abort;
      if (!seen.done) notes.push(`the make-active of ${to} did not end within ${plan.legTimeoutMs} ms`);
      if (abort || !seen.done || seen.status !== 'succeeded') break;
    }
  }

  if (begun.proceed && plan.mode === 'failover') {
    status('silencing the active');
    const silenced = yield* callActivity(
      context,
      Activities.requestDrillSilence,
      { input, plan },
      RetryPolicies.witness,
    );
    if (!silenced.requested) notes.push(silenced.reason ?? 'the active could not be asked to go silent');
    else {
      const seen = yield* watch(context, input, plan);
      if (seen.failoverOperationId) legOperationIds.push(seen.failoverOperationId);
      if (seen.abort) abort = seen.abort;
      if (!seen.done) notes.push(`the failover drill did not end within ${plan.legTimeoutMs} ms`);
    }
    yield* callActivity(context, Activities.endDrillSilence, { input, plan }, RetryPolicies.witness);
  }

  status('reporting');
  const end = yield* callActivity(
    context,
    Activities.finishDrill,
    { input, plan, validation, legOperationIds, notes, ...(abort ? { abort } : {}) },
    RetryPolicies.witness,
  );
  status('ended');
  return end;
}

/**
 * Looks at the drill every `plan.pollMs` (a durable timer, then one activity) until the leg (or the failover drill)
 * is done, something aborts it, or `plan.legTimeoutMs` passes. The figures come from the operations' own records,
 * so the polling interval does not enter them.
 */
function* watch(
  context: OrchestrationContext,
  input: DrillInput,
  plan: DrillPlan,
  operationId?: string,
): Generator<Task, DrillObservation, unknown> {
  const deadline = context.df.currentUtcDateTime.getTime() + plan.legTimeoutMs;
  let failoverOperationId: string | undefined;
  for (;;) {
    const seen = yield* callActivity(
      context,
      Activities.observeDrill,
      { input, plan, ...(operationId ? { operationId } : {}) },
      RetryPolicies.witness,
    );
    failoverOperationId = seen.failoverOperationId ?? failoverOperationId;
    context.df.setCustomStatus({ drillId: input.drillId, step: seen.waitingFor });
    if (seen.done || seen.abort) return { ...seen, ...(failoverOperationId ? { failoverOperationId } : {}) };
    const now = context.df.currentUtcDateTime.getTime();
    if (now >= deadline)
      return { ...seen, done: false, ...(failoverOperationId ? { failoverOperationId } : {}) };
    yield context.df.createTimer(new Date(Math.min(deadline, now + plan.pollMs)));
  }
}
