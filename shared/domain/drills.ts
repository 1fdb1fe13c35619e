/**
 * DR drills (issue 10): what a drill measures and how its result is decided. Pure: the drill's activities and the
 * report renderer call these, and they are what the tests pin down.
 *
 * A drill runs in the cluster's operation singleton (`cluster-<id>`), so it never overlaps a failover or a
 * make-active; a real failure during a drill wins (the drill ends `aborted` and the failover runs in its place).
 */

export const DRILL_MODES = ['validate', 'switchover', 'failover'] as const;
export type DrillMode = (typeof DRILL_MODES)[number];

/**
 * `passed`: every check ok (warnings allowed) and every measured figure within its objective; `failed`: a check
 * failed or an objective was missed (the reasons say which); `aborted`: a real failure or an error stopped it;
 * `skipped`: not started because another operation was running on the cluster.
 */
export type DrillResult = 'passed' | 'failed' | 'aborted' | 'skipped';

/** The checks of a `validate` drill (and of the other modes before they act), in the order they run. */
export const DRILL_CHECK_NAMES = [
  'witness-writable',
  'standby-heartbeating',
  'standby-healthy',
  'standby-within-rpo',
  'standby-startable',
  'fence-path',
  'hooks-present',
  'agent-clock',
] as const;
export type DrillCheckName = (typeof DRILL_CHECK_NAMES)[number];

export interface DrillCheck {
  name: DrillCheckName;
  /** The node the check is about, for the per-node checks. */
  nodeId?: string;
  outcome: 'ok' | 'warn' | 'failed';
  startedAt: number;
  durationMs: number;
  /** One sentence a person can act on: what was found ("lag 12000 ms over the 5000 ms objective"). */
  detail: string;
  /** Figures behind the detail (lag, skew, headroom, the fence method), never secrets. */
  data?: Record<string, unknown>;
}

/** One step of a leg as its operation recorded it. */
export interface DrillLegStep {
  name: string;
  outcome: 'running' | 'ok' | 'warn' | 'failed' | 'skipped';
  startedAt: number;
  endedAt?: number;
  durationMs?: number;
}

/** One role change a `switchover` (two legs: there and back) or `failover` drill (one leg) made. */
export interface DrillLeg {
  /** E.g. `head-a → head-b`. */
  name: string;
  kind: 'make-active' | 'failover';
  operationId: string;
  from: string | null;
  to: string | null;
  /** `succeeded`, `failed`, ... as the operation ended. */
  status: string;
  startedAt: number;
  endedAt?: number;
  /** Request (make-active) or the silenced active's last heartbeat (failover) → the target verified active. */
  rtoMs?: number;
  /** The target's replication lag at the moment of the switch (its last heartbeat before the promotion). */
  rpoMs?: number;
  steps: DrillLegStep[];
}

/** One earlier drill of the cluster, as the trend chart plots it (oldest first). */
export interface DrillHistoryPoint {
  drillId: string;
  startedAt: number;
  mode: DrillMode;
  result: DrillResult;
  /** Measured (switchover, failover). */
  rtoMs?: number;
  /** Predicted (validate). */
  predictedRtoMs?: number;
}

export interface DrillTrigger {
  kind: 'api' | 'portal' | 'schedule';
  /** The schedule slot (ISO time) or the request's reference. */
  reference?: string;
}

/** The drill report: stored as JSON and rendered as a self-contained HTML page (`renderDrillReportHtml`). */
export interface DrillReport {
  drillId: string;
  clusterId: string;
  mode: DrillMode;
  trigger: DrillTrigger;
  actor: string;
  startedAt: number;
  endedAt: number;
  result: DrillResult;
  /** Why it did not pass (empty when it passed), one sentence each. */
  reasons: string[];
  objectives: { rtoMs: number; rpoMs: number };
  measured: {
    /** The worst leg's RTO (switchover, failover). */
    rtoMs?: number;
    /** The worst leg's RPO. */
    rpoMs?: number;
    /** validate: what a failover would take now (`predictRto`). */
    predictedRtoMs?: number;
    /** How `predictedRtoMs` adds up, in words and figures. */
    predictedRtoParts?: { name: string; ms: number }[];
  };
  checks: DrillCheck[];
  legs: DrillLeg[];
  /** The cluster's earlier drills (oldest first, at most `DRILL_HISTORY_POINTS`), for the trend chart. */
  history: DrillHistoryPoint[];
}

/** How many earlier drills a report's trend chart shows. */
export const DRILL_HISTORY_POINTS = 50;

/** The index row of a drill (the list API answers these, newest first). */
export type DrillSummary = Pick<
  DrillReport,
  'drillId' | 'clusterId' | 'mode' | 'trigger' | 'startedAt' | 'endedAt' | 'result' | 'reasons' | 'objectives'
> & { rtoMs?: number; rpoMs?: number; predictedRtoMs?: number };

export function summarize(report: DrillReport): DrillSummary {
  const { drillId, clusterId, mode, trigger, startedAt, endedAt, result, reasons, objectives, measured } =
    report;
  return {
    drillId,
    clusterId,
    mode,
    trigger,
    startedAt,
    endedAt,
    result,
    reasons,
    objectives,
    ...(measured.rtoMs !== undefined ? { rtoMs: measured.rtoMs } : {}),
    ...(measured.rpoMs !== undefined ? { rpoMs: measured.rpoMs } : {}),
    ...(measured.predictedRtoMs !== undefined ? { predictedRtoMs: measured.predictedRtoMs } : {}),
  };
}

export interface RtoPredictionInput {
  /** heartbeat interval × missed heartbeats. */
  detectionWindowMs: number;
  /** How the old active is fenced: a confirmed fence ends the wait early, the lease wait is lease + drift margin. */
  fence: { method: 'power-off' | 'fence-peer' | 'lease-wait'; expectedMs: number };
  /** The chosen standby is stopped and must be started first: its measured (or assumed) start time. */
  startMs: number;
  /** The promote hook's duration from earlier acknowledgements (0 when never measured). */
  promoteHookMs: number;
  /** verifyHeartbeats × the urgent heartbeat interval. */
  verifyMs: number;
}

/**
 * The RTO a failover would take now: detection window + the fence (or lease) wait + starting a stopped standby +
 * the promote hook (as earlier runs measured it) + verification. Parts listed so the report shows how it adds up.
 */
export function predictRto(input: RtoPredictionInput): { ms: number; parts: { name: string; ms: number }[] } {
  const parts = [
    { name: 'detection window', ms: input.detectionWindowMs },
    { name: `fence (${input.fence.method})`, ms: input.fence.expectedMs },
    { name: 'start the standby', ms: input.startMs },
    { name: 'promote hook (earlier runs)', ms: input.promoteHookMs },
    { name: 'verification', ms: input.verifyMs },
  ].map((p) => ({ ...p, ms: Math.max(0, Math.round(p.ms)) }));
  return { ms: parts.reduce((sum, p) => sum + p.ms, 0), parts };
}

/**
 * The drill's result from its checks, legs and objectives: `failed` with a reason per failed check, per leg that did
 * not succeed, and per figure over its objective (predicted RTO for validate, measured for the others).
 */
export function judgeDrill(input: {
  mode: DrillMode;
  checks: readonly DrillCheck[];
  legs: readonly DrillLeg[];
  objectives: { rtoMs: number; rpoMs: number };
  measured: DrillReport['measured'];
}): { result: 'passed' | 'failed'; reasons: string[] } {
  const reasons: string[] = [];
  for (const check of input.checks)
    if (check.outcome === 'failed')
      reasons.push(`${check.name}${check.nodeId ? ` (${check.nodeId})` : ''}: ${check.detail}`);
  for (const leg of input.legs)
    if (leg.status !== 'succeeded') reasons.push(`${leg.name}: the ${leg.kind} ended ${leg.status}`);
  const { rtoMs, rpoMs, predictedRtoMs } = input.measured;
  if (rtoMs !== undefined && rtoMs > input.objectives.rtoMs)
    reasons.push(`RTO ${rtoMs} ms is over the ${input.objectives.rtoMs} ms objective`);
  if (rpoMs !== undefined && rpoMs > input.objectives.rpoMs)
    reasons.push(`RPO ${rpoMs} ms is over the ${input.objectives.rpoMs} ms objective`);
  if (input.mode === 'validate' && predictedRtoMs !== undefined && predictedRtoMs > input.objectives.rtoMs)
    reasons.push(`predicted RTO ${predictedRtoMs} ms is over the ${input.objectives.rtoMs} ms objective`);
  if (input.mode !== 'validate' && input.legs.length === 0) reasons.push('no role change was measured');
  return { result: reasons.length === 0 ? 'passed' : 'failed', reasons };
}

/** The worst (largest) of the figures present, or undefined. */
export function worst(values: readonly (number | undefined)[]): number | undefined {
  const present = values.filter((v): v is number => v !== undefined);
  return present.length === 0 ? undefined : Math.max(...present);
}
