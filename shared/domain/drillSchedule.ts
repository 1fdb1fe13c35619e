import { Cron } from 'croner';

/**
 * How late a missed schedule slot may still start its drill. A host that was down (a deployment, a storage or
 * region outage) should not silently skip the week's drill, so the latest missed slot starts when the timer runs
 * again. But a drill started much later than planned is no longer the drill that was scheduled: a schedule puts a
 * switchover or failover drill into a maintenance window on purpose, and the same drill a day later lands wherever
 * the outage ended (business hours, a batch run). A slot older than this is skipped; the next slot runs on time.
 */
export const MAX_CATCH_UP_MS = 24 * 60 * 60 * 1000;

/** The schedule as the drill timer evaluates it: 6-field NCRONTAB, UTC (as `ncrontabProblem` validates it). */
function cronOf(schedule: string): Cron {
  return new Cron(schedule.trim(), { paused: true, timezone: 'UTC', domAndDow: true });
}

/**
 * The slot (ms, UTC) a drill is due for: the LATEST slot `t` of `schedule` with `since < t <= now`, and not older
 * than `MAX_CATCH_UP_MS`; `undefined` when there is none. Several slots missed (downtime) give one slot, the latest:
 * a missed run starts one drill, not one per slot. Pure: the caller passes the time.
 */
export function dueSlot(
  schedule: string,
  now: number,
  since: number,
  options: { maxCatchUpMs?: number } = {},
): number | undefined {
  const floor = Math.max(since, now - (options.maxCatchUpMs ?? MAX_CATCH_UP_MS));
  if (!(now > floor)) return undefined;
  // `previousRuns` answers the runs strictly before the reference: `now + 1` lets a slot at exactly `now` count.
  const [latest] = cronOf(schedule).previousRuns(1, new Date(now + 1));
  const slot = latest?.getTime();
  return slot !== undefined && slot > floor && slot <= now ? slot : undefined;
}

/** The drill id of a schedule slot: deterministic, so every host racing for the slot names the same drill. */
export function slotDrillId(slot: number): string {
  return `drill-${slot.toString(36)}`;
}
