import type { OrchestrationContext, Task } from 'durable-functions';
import type { ArbitrationDecision, ArbitrationVote } from '../shared/control/arbitration/arbitration';
import {
  Activities,
  callActivity,
  eventPayload,
  Events,
  orchestrationInput,
  Orchestrations,
  RetryPolicies,
  waitForEvent,
} from './contracts';

export type { ArbitrationOrchestrationInput } from './contracts';

/**
 * Witness arbitration for one (cluster, epoch), as the runbook reads: gather the votes of both sides for the
 * window; decide (witness first, then state); when the winner is not the active, wait out the old active's lease
 * (rule 3) and promote it. Deterministic: only context.df.* and pure code; one new timer per wait, the previous one
 * cancelled.
 */
export function* arbitrationOrchestrator(
  context: OrchestrationContext,
): Generator<Task, ArbitrationDecision, unknown> {
  const input = orchestrationInput(context, Orchestrations.arbitration);
  const votes = new Map<string, ArbitrationVote>();
  const deadline = new Date(context.df.currentUtcDateTime.getTime() + input.windowMs);
  for (;;) {
    const vote = waitForEvent(context, Events.arbitrationVote);
    const windowEnds = context.df.createTimer(deadline);
    const first = yield context.df.Task.any([vote, windowEnds]);
    if (first !== vote) break;
    windowEnds.cancel();
    const cast = eventPayload(vote);
    votes.set(cast.nodeId, cast);
    context.df.setCustomStatus({ votes: [...votes.keys()] });
  }
  const request = {
    clusterId: input.clusterId,
    epoch: input.epoch,
    votes: [...votes.values()],
    decider: context.df.instanceId,
  };
  let decision = yield* callActivity(context, Activities.decideArbitration, request, RetryPolicies.witness);
  while (decision.outcome === 'waiting') {
    yield context.df.createTimer(new Date(decision.retryAt));
    decision = yield* callActivity(
      context,
      Activities.completeArbitration,
      { ...request, winner: decision.winner, losers: decision.losers },
      RetryPolicies.witness,
    );
  }
  context.df.setCustomStatus({ votes: [...votes.keys()], decision });
  return decision;
}
