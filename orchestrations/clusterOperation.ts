import type { OrchestrationContext, Task } from 'durable-functions';
import type { ClusterOperationResult } from '../shared/control/operations/clusterOperationTypes';
import {
  Activities,
  callActivity,
  Events,
  orchestrationInput,
  Orchestrations,
  RetryPolicies,
  waitForEvent,
} from './contracts';

/**
 * The cluster's one operation at a time (`cluster-<id>`): an unplanned failover or a planned make-active. The
 * runbook itself — revoke the old active's lease, fence or demote it (or wait out its lease plus the drift margin),
 * choose and promote the target under the next epoch, verify it took its lease, roll back a failed make-active — is
 * the step rules of `shared/domain/failoverSteps.ts`, which the simulation proves; each `advanceClusterOperation`
 * gathers fresh evidence, takes one or more of those steps and records them on the operation. This orchestrator
 * only carries the progress between turns and waits where the rules say to wait: a durable timer raced against the
 * next agent acknowledgement (`ack`, raised by `POST /api/v1/agent/ack`) and the new active's verifying heartbeat
 * (`heard`, raised by the heartbeat path), the losing timer cancelled, so a demotion, fence-peer or promote
 * acknowledgement, or the new active's heartbeats, move the operation on at once rather than at the next poll.
 */
export function* clusterOperationOrchestrator(
  context: OrchestrationContext,
): Generator<Task, ClusterOperationResult, unknown> {
  const input = orchestrationInput(context, Orchestrations.clusterOperation);
  context.df.setCustomStatus({ operationId: input.operationId, step: 'starting' });
  const begun = yield* callActivity(context, Activities.beginClusterOperation, input, RetryPolicies.witness);
  if (!begun.ok) {
    context.df.setCustomStatus({ operationId: input.operationId, step: 'ended', result: begun.result });
    return begun.result;
  }
  let progress = begun.progress;
  for (;;) {
    const outcome = yield* callActivity(
      context,
      Activities.advanceClusterOperation,
      { input, plan: begun.plan, progress },
      RetryPolicies.witness,
    );
    if (outcome.next === 'end') {
      context.df.setCustomStatus({ operationId: input.operationId, step: 'ended', result: outcome.result });
      return outcome.result;
    }
    progress = outcome.progress;
    context.df.setCustomStatus({
      operationId: input.operationId,
      step: outcome.waitingFor,
      until: new Date(outcome.until).toISOString(),
    });
    const acknowledged = waitForEvent(context, Events.commandAck);
    const heard = waitForEvent(context, Events.activeHeard);
    const timer = context.df.createTimer(new Date(outcome.until));
    const first = yield context.df.Task.any([acknowledged, heard, timer]);
    if (first !== timer) timer.cancel();
  }
}
