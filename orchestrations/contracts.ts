import { RetryOptions, type OrchestrationContext, type Task } from 'durable-functions';
import type {
  ArbitrationDecision,
  ArbitrationInput,
  ArbitrationVote,
  CompleteArbitrationInput,
} from '../shared/control/arbitration/arbitration';
import type {
  AdvanceInput,
  AdvanceOutcome,
  BeginOutcome,
  ClusterOperationInput,
  ClusterOperationResult,
} from '../shared/control/operations/clusterOperationTypes';
import type { CommandAckEvent } from '../shared/contracts/agentApi';
import type {
  BeginDrillOutcome,
  DrillEnd,
  DrillInput,
  DrillObservation,
  FinishDrillInput,
  ObserveDrillInput,
} from '../shared/control/drills/drillTypes';
import type { DrillLegInput, DrillLegStart } from '../shared/control/drills/drillTypes';
import type {
  BeginSpilloverOutcome,
  FinishSpilloverInput,
  ProvisionInput,
  ProvisionOutcome,
  RefreshInput,
  RefreshOutcome,
  ReleaseInput,
  ReleaseOutcome,
  RoundInput,
  RoundPlan,
  SpillBackPlan,
  SpilloverInput,
  SpilloverResult,
} from '../shared/control/pools/spilloverTypes';

/**
 * The durable contract of the app: every orchestration, activity and external event by name, with its input and
 * output types; instance-id builders; retry policies; and typed call helpers, so that an orchestrator cannot pass
 * the wrong input to an activity or misread its result. Registrations (functions/durable) and callers (triggers,
 * orchestrators, tests) use these names, never string literals.
 */

export interface ArbitrationOrchestrationInput {
  clusterId: string;
  epoch: number;
  /** How long to gather the votes of both sides of the partition. */
  windowMs: number;
}

/** Orchestrations: name → input and output. */
export interface OrchestrationContracts {
  arbitrationOrchestrator: { input: ArbitrationOrchestrationInput; output: ArbitrationDecision };
  clusterOperationOrchestrator: { input: ClusterOperationInput; output: ClusterOperationResult };
  drillOrchestrator: { input: DrillInput; output: DrillEnd };
  spilloverOrchestrator: { input: SpilloverInput; output: SpilloverResult };
}

/**
 * Activities: name → input and output. An activity returns a typed outcome for everything an orchestrator branches
 * on, and throws only faults worth retrying: across the activity boundary of durable-functions v3 an error keeps
 * only its message (as `Error`, with the activity's name and stack folded in), never its class, `code` or fields.
 */
export interface ActivityContracts {
  decideArbitration: { input: ArbitrationInput; output: ArbitrationDecision };
  completeArbitration: { input: CompleteArbitrationInput; output: ArbitrationDecision };
  beginClusterOperation: { input: ClusterOperationInput; output: BeginOutcome };
  advanceClusterOperation: { input: AdvanceInput; output: AdvanceOutcome };
  beginDrill: { input: DrillInput; output: BeginDrillOutcome };
  /** Starts a switchover leg through the cluster's operation singleton (it binds a durable client). */
  startDrillLeg: { input: DrillLegInput; output: DrillLegStart };
  observeDrill: { input: ObserveDrillInput; output: DrillObservation };
  /** failover mode: asks the active to go silent (`state.drillSilence`). */
  requestDrillSilence: { input: ObserveDrillInput; output: { requested: boolean; reason?: string } };
  /** Clears the drill's silence request, whatever happened. */
  endDrillSilence: { input: ObserveDrillInput; output: null };
  finishDrill: { input: FinishDrillInput; output: DrillEnd };
  beginSpillover: { input: SpilloverInput; output: BeginSpilloverOutcome };
  /** One provider call per site named (or per site not cooling down), kept as the pool's headroom. */
  refreshHeadroom: { input: RefreshInput; output: RefreshOutcome };
  planSpillover: { input: RoundInput; output: RoundPlan };
  /** One site's batch: one scale-out, placement records, or a cool-down / a throttle to wait out. */
  provisionSite: { input: ProvisionInput; output: ProvisionOutcome };
  releaseSite: { input: ReleaseInput; output: ReleaseOutcome };
  planSpillBack: { input: RoundInput; output: SpillBackPlan };
  finishSpillover: { input: FinishSpilloverInput; output: SpilloverResult };
}

/** External events: name → payload. */
export interface EventContracts {
  vote: ArbitrationVote;
  /** A command acknowledgement, raised to `cluster-<id>` while it runs; count it only if `ackCounts` says so. */
  ack: CommandAckEvent;
  /**
   * The heartbeat path heard the new active's `verifyHeartbeats`-th healthy heartbeat as the active under `epoch`:
   * raised to `cluster-<id>` so the operation verifies it at once instead of at its next poll.
   */
  heard: { clusterId: string; nodeId: string; epoch: number };
}

export type OrchestrationName = keyof OrchestrationContracts;
export type ActivityName = keyof ActivityContracts;
export type EventName = keyof EventContracts;
export type ActivityInput<N extends ActivityName> = ActivityContracts[N]['input'];
export type ActivityOutput<N extends ActivityName> = ActivityContracts[N]['output'];
export type OrchestrationInput<N extends OrchestrationName> = OrchestrationContracts[N]['input'];
export type OrchestrationOutput<N extends OrchestrationName> = OrchestrationContracts[N]['output'];

/** The names as values, checked against the contracts above. */
export const Orchestrations = {
  arbitration: 'arbitrationOrchestrator',
  clusterOperation: 'clusterOperationOrchestrator',
  drill: 'drillOrchestrator',
  spillover: 'spilloverOrchestrator',
} as const satisfies Record<string, OrchestrationName>;

export const Activities = {
  decideArbitration: 'decideArbitration',
  completeArbitration: 'completeArbitration',
  beginClusterOperation: 'beginClusterOperation',
  advanceClusterOperation: 'advanceClusterOperation',
  beginDrill: 'beginDrill',
  startDrillLeg: 'startDrillLeg',
  observeDrill: 'observeDrill',
  requestDrillSilence: 'requestDrillSilence',
  endDrillSilence: 'endDrillSilence',
  finishDrill: 'finishDrill',
  beginSpillover: 'beginSpillover',
  refreshHeadroom: 'refreshHeadroom',
  planSpillover: 'planSpillover',
  provisionSite: 'provisionSite',
  releaseSite: 'releaseSite',
  planSpillBack: 'planSpillBack',
  finishSpillover: 'finishSpillover',
} as const satisfies { [K in ActivityName]: K };

export const Events = {
  arbitrationVote: 'vote',
  commandAck: 'ack',
  activeHeard: 'heard',
} as const satisfies Record<string, EventName>;

/**
 * Deterministic instance ids. One arbitration per (cluster, epoch), so concurrent requests join one decision; the
 * failover-type flows of a cluster share one id (the per-cluster singleton), so duplicate triggers start one.
 */
export const InstanceIds = {
  arbitration: (clusterId: string, epoch: number) => `arbitrate-${clusterId}-${epoch}`,
  clusterOperation: (clusterId: string) => `cluster-${clusterId}`,
  /** One drill per cluster at a time; its role changes go through `cluster-<id>` like any other. */
  drill: (clusterId: string) => `drill-${clusterId}`,
  /** One spillover run per pool at a time (a pool's runs never hold `cluster-<id>`: they move workers, not roles). */
  poolOperation: (clusterId: string, poolId: string) => `pool-${clusterId}-${poolId}`,
} as const;

/** A retry policy as data (durable-functions' RetryOptions is built from it at each call). */
export interface RetryPolicy {
  firstRetryIntervalMs: number;
  maxNumberOfAttempts: number;
  backoffCoefficient: number;
  maxRetryIntervalMs: number;
}

export const RetryPolicies = {
  /** Witness contention and lost If-Match races: the activities are idempotent and re-read before deciding. */
  witness: {
    firstRetryIntervalMs: 250,
    maxNumberOfAttempts: 8,
    backoffCoefficient: 2,
    maxRetryIntervalMs: 4000,
  },
  /** Cloud calls: transient failures, timeouts and conflicts are retried with backoff (throttling is waited out). */
  cloud: {
    firstRetryIntervalMs: 2000,
    maxNumberOfAttempts: 5,
    backoffCoefficient: 2,
    maxRetryIntervalMs: 30_000,
  },
} as const satisfies Record<string, RetryPolicy>;

export function toRetryOptions(policy: RetryPolicy): RetryOptions {
  const options = new RetryOptions(policy.firstRetryIntervalMs, policy.maxNumberOfAttempts);
  options.backoffCoefficient = policy.backoffCoefficient;
  options.maxRetryIntervalInMilliseconds = policy.maxRetryIntervalMs;
  return options;
}

/**
 * Calls an activity and returns its typed result: `const decision = yield* callActivity(context, 'decide…', input)`.
 * With a retry policy the durable engine retries thrown faults; without one a fault fails the orchestration.
 */
export function* callActivity<N extends ActivityName>(
  context: OrchestrationContext,
  name: N,
  input: ActivityInput<N>,
  retry?: RetryPolicy,
): Generator<Task, ActivityOutput<N>, unknown> {
  const task = retry
    ? context.df.callActivityWithRetry(name, toRetryOptions(retry), input)
    : context.df.callActivity(name, input);
  return (yield task) as ActivityOutput<N>;
}

/** A task that completes when the named event arrives; read its payload with `eventPayload`. */
export function waitForEvent<E extends EventName>(context: OrchestrationContext, name: E): EventTask<E> {
  return context.df.waitForExternalEvent(name);
}

export type EventTask<E extends EventName> = Task & { readonly __event?: E };

/** The payload of a completed event task. */
export function eventPayload<E extends EventName>(task: EventTask<E>): EventContracts[E] {
  return task.result as EventContracts[E];
}

/** The typed input of an orchestration. */
export function orchestrationInput<N extends OrchestrationName>(
  context: OrchestrationContext,
  _name: N,
): OrchestrationInput<N> {
  return context.df.getInput<OrchestrationInput<N>>();
}
