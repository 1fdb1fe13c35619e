import { Prng } from './prng';

/** The faults the harness injects, in the order of the issue's list. */
export const FAULT_KINDS = [
  'agent-kill',
  'agent-pause',
  'partition',
  'replies-lost',
  'host-kill',
  'hook-slow',
  'hook-fail',
  'cloud-fault',
  'peer-partition',
  'host-outage',
  'storage-stall',
  'clock-step',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** What the harness asks of the control plane through its HTTP API meanwhile. */
export const ACTION_KINDS = ['failover', 'make-active', 'drill', 'duplicate-webhook'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/** Which node a fault hits: the one the control plane calls active when it fires, a standby, or any. */
export type NodeTarget = 'active' | 'standby' | 'any';

export interface ScheduledEvent {
  /** Offset from the schedule's start, ms. */
  atMs: number;
  kind: FaultKind | ActionKind;
  cluster: string;
  target: NodeTarget;
  /** How long the fault lasts (ms); 0 for actions and for a devhost kill (restarted at once). */
  durationMs: number;
}

export interface Schedule {
  index: number;
  durationMs: number;
  events: ScheduledEvent[];
}

export interface ScheduleOptions {
  seed: number;
  schedules: number;
  /** The length of each schedule (faults and actions), ms. */
  durationMs: number;
  clusters: readonly string[];
  /** The lease, ms: pauses and partitions are drawn both shorter and longer than it. */
  leaseMs: number;
  /** Leave these kinds out (e.g. no devhost kill in a short profile). */
  without?: readonly FaultKind[];
  /** Faults per schedule (default: one per 3 s). */
  faults?: number;
  /** Only these kinds (the broken-agent proof runs partitions only). */
  only?: readonly (FaultKind | ActionKind)[];
  /** Every fault hits this node (default: mostly the active). */
  target?: NodeTarget;
  /** Faults last at least this long (ms), when the schedule leaves room. */
  minFaultMs?: number;
}

const FAULT_WEIGHTS: Record<FaultKind, number> = {
  'agent-kill': 3,
  'agent-pause': 3,
  partition: 3,
  'replies-lost': 2,
  'host-kill': 1,
  'hook-slow': 2,
  'hook-fail': 2,
  'cloud-fault': 2,
  'peer-partition': 2,
  'host-outage': 1,
  'storage-stall': 1,
  'clock-step': 2,
};

/** The fault schedules of a run: a function of the options alone (`--seed N` replays them). */
export function makeSchedules(options: ScheduleOptions): Schedule[] {
  const random = new Prng(options.seed);
  const kinds = FAULT_KINDS.filter(
    (k) => !(options.without ?? []).includes(k) && (!options.only || options.only.includes(k)),
  );
  const actions = ACTION_KINDS.filter((k) => !options.only || options.only.includes(k));
  const schedules: Schedule[] = [];
  // Faults start after a settling second and stop so that the last one ends within the schedule.
  const window = Math.max(1000, options.durationMs - 1000);
  for (let index = 0; index < options.schedules; index++) {
    const events: ScheduledEvent[] = [];
    const faults = options.faults ?? Math.max(1, Math.round(options.durationMs / 3000));
    for (let n = 0; n < faults && kinds.length > 0; n++) {
      const kind = random.weighted(
        kinds,
        kinds.map((k) => FAULT_WEIGHTS[k]),
      );
      const atMs = 1000 + random.int(0, window - 1000);
      const longest = Math.max(500, options.durationMs - atMs);
      const drawn =
        kind === 'agent-pause' || kind === 'partition' || kind === 'replies-lost' || kind === 'peer-partition'
          ? random.int(Math.round(options.leaseMs / 2), options.leaseMs * 3)
          : kind === 'host-outage'
            ? random.int(options.leaseMs, options.leaseMs * 6)
            : kind === 'storage-stall'
              ? random.int(Math.round(options.leaseMs / 4), options.leaseMs * 2)
              : random.int(500, options.leaseMs * 2);
      const durationMs =
        kind === 'host-kill' ? 0 : Math.min(longest, Math.max(options.minFaultMs ?? 0, drawn));
      events.push({
        atMs,
        kind,
        cluster: random.pick(options.clusters),
        target:
          kind === 'host-kill' || kind === 'host-outage' || kind === 'storage-stall' || kind === 'cloud-fault'
            ? 'any'
            : (options.target ?? random.weighted(['active', 'standby', 'any'] as const, [3, 1, 1])),
        durationMs,
      });
    }
    const actionCount = actions.length === 0 ? 0 : Math.max(1, Math.round(options.durationMs / 4000));
    for (let n = 0; n < actionCount; n++)
      events.push({
        atMs: 500 + random.int(0, window),
        kind: random.weighted(
          actions,
          actions.map((k) => (k === 'drill' ? 1 : 2)),
        ),
        cluster: random.pick(options.clusters),
        target: 'standby',
        durationMs: 0,
      });
    events.sort((a, b) => a.atMs - b.atMs);
    schedules.push({ index, durationMs: options.durationMs, events });
  }
  return schedules;
}

/** One line per event: what the report prints (and what `--seed` reproduces). */
export function describeEvent(schedule: number, e: ScheduledEvent): string {
  return `#${schedule} t+${e.atMs}ms ${e.kind} ${e.cluster}/${e.target}${e.durationMs > 0 ? ` for ${e.durationMs}ms` : ''}`;
}
