import type { DrillCheck, DrillMode, DrillTrigger } from '../../domain/drills';
import type { Outcome } from '../common/outcome';

/** A request to run a drill now (API, portal, schedule). Unset fields come from the cluster document's `drill`. */
export interface DrillRequest {
  clusterId: string;
  mode?: DrillMode;
  targetNodeId?: string;
  /** Required (true) for a `failover` drill started by hand: it takes the active down for real. */
  confirm?: boolean;
  trigger: DrillTrigger;
  /** `admin`, `schedule`, an operator's name. */
  actor: string;
  /** Deterministic for a schedule slot (`drill-<slot>`), so a slot starts at most one drill; else derived. */
  drillId?: string;
}

/**
 * Started (`started: true`), or recorded as skipped (`started: false` with `skipped`: why, e.g. another operation
 * was running), or joined (`started: false`, same drill id already running or recorded). Refusals: the cluster is
 * not declared (not-found), a failover drill without `allowFailover` or without `confirm` (invalid).
 */
export type StartedDrill = Outcome<{ drillId: string; started: boolean; skipped?: string }>;

/** What a validate drill's checks found, and what a failover would take now. */
export interface ValidateOutcome {
  checks: DrillCheck[];
  prediction: { ms: number; parts: { name: string; ms: number }[] };
}

/** The drill orchestration's input (`drill-<clusterId>`, one drill per cluster at a time). */
export interface DrillInput {
  drillId: string;
  clusterId: string;
  mode: DrillMode;
  targetNodeId: string | null;
  trigger: DrillTrigger;
  actor: string;
  /** Control-plane time of the request. */
  requestedAt: number;
}

/** What the first activity decided: the drill's parameters, read once, and the checks' findings. */
export interface DrillPlan {
  mode: DrillMode;
  /** The active when the drill began, the node the switchover comes back to (null: none). */
  originalActive: string | null;
  /** The node a switchover or failover drill moves the active role to. */
  target: string | null;
  epoch: number;
  objectives: { rtoMs: number; rpoMs: number };
  /** failover mode: how long the active stays silent. */
  silenceMs: number;
  /** How long the drill waits for any one leg before it gives up on it. */
  legTimeoutMs: number;
  /** How often the drill looks at its legs (ms). */
  pollMs: number;
}

export type BeginDrillOutcome =
  { ok: true; plan: DrillPlan; validation: ValidateOutcome; proceed: boolean } | { ok: false; end: DrillEnd };

/** How a drill ended, as its orchestration returns it. */
export interface DrillEnd {
  drillId: string;
  clusterId: string;
  result: 'passed' | 'failed' | 'aborted' | 'skipped';
  reasons: string[];
}

export interface DrillLegInput {
  input: DrillInput;
  /** `there` or `back`. */
  leg: 'there' | 'back';
  to: string;
}

/** A leg started (its operation id) or not (why: another operation was running, the cluster changed). */
export type DrillLegStart = { ok: true; operationId: string } | { ok: false; reason: string };

/** One look at a drill in progress. */
export interface ObserveDrillInput {
  input: DrillInput;
  plan: DrillPlan;
  /** The leg operation being waited for (switchover), if any. */
  operationId?: string;
}

export interface DrillObservation {
  /** The leg's operation ended (switchover) or the failover drill reached its end (failover mode). */
  done: boolean;
  /** How the leg ended, when done. */
  status?: string;
  /** A failover the drill did not cause, or another operation: the drill stops (`aborted`). */
  abort?: string;
  /** failover mode: the failover operation the silence caused, once it exists. */
  failoverOperationId?: string;
  /** What the drill waits for now, for the live status. */
  waitingFor: string;
}

export interface FinishDrillInput {
  input: DrillInput;
  plan: DrillPlan;
  validation: ValidateOutcome;
  /** The legs' operations in order (switchover: there, back; failover: the failover). */
  legOperationIds: string[];
  abort?: string;
  /** Why the drill did not act (checks failed) or stopped waiting (a leg timed out). */
  notes: string[];
}
