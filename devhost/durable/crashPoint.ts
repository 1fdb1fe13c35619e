import { writeSync } from 'node:fs';

/**
 * TESTS ONLY: a fault-injection point that kills the devhost process at a chosen moment of an activity's life, so
 * crash-recovery tests can stop the host exactly between a side effect and its record. Off unless
 * `DEVHOST_CRASH_AT` (or the CLI's `--crash-at`) is set.
 *
 * `activity:<n>:<when>` counts the activity executions of this process (1, 2, ...; every activity of every instance,
 * in the order their functions return) and, at the n-th:
 * - `after-side-effect`: the activity function returned, its TaskCompleted/TaskFailed is not yet sent (the work item
 *   is still in its queue, so the activity runs again after a restart);
 * - `after-recorded`: its completion is in the control queue and the work item deleted, before the orchestrator's
 *   next turn could have used it.
 * The process then dies with SIGKILL: no cleanup, no graceful stop, as a power cut would.
 */
export type CrashWhen = 'after-side-effect' | 'after-recorded';
export interface CrashAt {
  activity: number;
  when: CrashWhen;
}

export const CRASH_AT_ENV = 'DEVHOST_CRASH_AT';
const WHENS: readonly CrashWhen[] = ['after-side-effect', 'after-recorded'];

export class CrashAtSyntaxError extends Error {
  override readonly name = 'CrashAtSyntaxError';
}

/** Parses `activity:<n>:<when>`; throws a CrashAtSyntaxError naming the expected form. */
export function parseCrashAt(spec: string): CrashAt {
  const [kind, n, when] = spec.split(':');
  const activity = Number(n);
  if (
    kind !== 'activity' ||
    !Number.isSafeInteger(activity) ||
    activity < 1 ||
    !WHENS.includes(when as CrashWhen) ||
    spec.split(':').length !== 3
  )
    throw new CrashAtSyntaxError(
      `--crash-at must be activity:<n>:<when> with n ≥ 1 and when ${WHENS.join(' or ')}, not "${spec}"`,
    );
  return { activity, when: when as CrashWhen };
}

/** The crash point of this process: from the environment, or none. */
export class CrashPoint {
  #executions = 0;

  constructor(
    private readonly at: CrashAt | undefined,
    private readonly die: () => void = () => process.kill(process.pid, 'SIGKILL'),
  ) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): CrashPoint {
    const spec = env[CRASH_AT_ENV];
    return new CrashPoint(spec ? parseCrashAt(spec) : undefined);
  }

  /** An activity function returned (or threw): its ordinal in this process. */
  activityReturned(): number {
    return ++this.#executions;
  }

  /** Dies here if this is the configured point (writes one line to stderr first, synchronously). */
  reached(execution: number, when: CrashWhen, what: string): void {
    if (!this.at || this.at.activity !== execution || this.at.when !== when) return;
    writeSync(2, `devhost: crash-at activity:${execution}:${when} reached (${what}): killing the process\n`);
    this.die();
  }
}
