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
