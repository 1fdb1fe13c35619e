import type { FailoverKind, FailoverPlan, FailoverProgress } from '../../domain/failoverSteps';
import type { OperationStatus, OperationTrigger } from '../../stores/operationStore';

/**
 * The input of the per-cluster operation (`cluster-<id>`): an unplanned failover or a planned make-active. Every
 * trigger (detector, webhook, API, portal, arbitration) builds one and starts or joins the cluster's singleton.
 */
export interface ClusterOperationInput {
  clusterId: string;
  /** Unique per operation and an id (the id rule), e.g. `make-active-<requestedAt in base 36>`. */
  operationId: string;
  kind: FailoverKind;
  /** make-active: the node to make active (required). failover: a node to prefer, or null to choose. */
  targetNodeId: string | null;
  /** make-active: lift the RPO bound (never a health precondition); failover: reserved for the anti-flapping override. */
  force: boolean;
  trigger: OperationTrigger;
  actor: string;
  reason: string;
  /** Regions a failover must not choose a target in (a Service Health incident's). */
  avoidRegions: string[];
  /** Control-plane time of the request (RTO is measured from it, or from the last heartbeat for a detection). */
  requestedAt: number;
}

/** How an operation ended, as its orchestration returns it. */
export interface ClusterOperationResult {
  operationId: string;
  status: OperationStatus;
  reason: string;
  /** The refusal or roll-back code, when there is one. */
  code?: string;
  activeNodeId: string | null;
  epoch: number;
}

/** The first activity: the operation recorded, its plan made, or a refusal (the result) before anything changed. */
export type BeginOutcome =
  | { ok: true; plan: FailoverPlan; progress: FailoverProgress }
  | { ok: false; result: ClusterOperationResult };

export interface AdvanceInput {
  input: ClusterOperationInput;
  plan: FailoverPlan;
  progress: FailoverProgress;
}

/** One turn of the operation: wait (a durable timer) and come back with this progress, or the end. */
export type AdvanceOutcome =
  | { next: 'wait'; until: number; progress: FailoverProgress; waitingFor: string }
  | { next: 'end'; result: ClusterOperationResult };
