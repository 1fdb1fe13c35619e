import { RetryOptions, type OrchestrationContext, type Task } from 'durable-functions';
import { EventNames, FunctionNames } from '../shared/constants/functionNames';
import type { ArbitrationDecision, ArbitrationInput, ArbitrationVote } from '../shared/control/arbitration';

export interface ArbitrationOrchestrationInput {
  clusterId: string;
  epoch: number;
  /** How long to gather the votes of both sides of the partition. */
  windowMs: number;
}

/** Retry for witness contention and lost races: the activities are idempotent and re-read before deciding. */
function retryOptions(): RetryOptions {
  const options = new RetryOptions(250, 8);
  options.backoffCoefficient = 2;
  options.maxRetryIntervalInMilliseconds = 4000;
  return options;
}

/**
 * Witness arbitration for one (cluster, epoch): gathers votes for `windowMs`, then decides (witness first, then
 * state) and, when the winner is not the active, waits for the old lease to end before promoting it (rule 3).
 * Deterministic: only context.df.* and pure code; one new timer per wait, the previous one cancelled.
 */
export function* arbitrationOrchestrator(
  context: OrchestrationContext,
): Generator<Task, ArbitrationDecision, unknown> {
  const input = context.df.getInput<ArbitrationOrchestrationInput>();
  const votes = new Map<string, ArbitrationVote>();
  const deadline = new Date(context.df.currentUtcDateTime.getTime() + input.windowMs);
  for (;;) {
    const vote = context.df.waitForExternalEvent(EventNames.arbitrationVote);
    const windowEnds = context.df.createTimer(deadline);
    const first = yield context.df.Task.any([vote, windowEnds]);
    if (first !== vote) break;
    windowEnds.cancel();
    const cast = vote.result as ArbitrationVote;
    votes.set(cast.nodeId, cast);
    context.df.setCustomStatus({ votes: [...votes.keys()] });
  }
  const request: ArbitrationInput = {
    clusterId: input.clusterId,
    epoch: input.epoch,
    votes: [...votes.values()],
    decider: context.df.instanceId,
  };
  let decision = (yield context.df.callActivityWithRetry(
    FunctionNames.decideArbitrationActivity,
    retryOptions(),
    request,
  )) as ArbitrationDecision;
  while (decision.outcome === 'waiting') {
    yield context.df.createTimer(new Date(decision.retryAt));
    decision = (yield context.df.callActivityWithRetry(
      FunctionNames.completeArbitrationActivity,
      retryOptions(),
      {
        ...request,
        winner: decision.winner,
        losers: decision.losers,
      },
    )) as ArbitrationDecision;
  }
  context.df.setCustomStatus({ votes: [...votes.keys()], decision });
  return decision;
}
