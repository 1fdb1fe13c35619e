import { Attributes } from './telemetryNames';
import { instruments } from './instruments';

/**
 * Counts one judged heartbeat: accepted, or rejected with its refusal code as the reason. A counter increment and
 * nothing else: the heartbeat path stays cheap (a no-op when telemetry is off).
 */
export function countHeartbeat(outcome: { ok: true } | { ok: false; code: string }): void {
  if (outcome.ok) instruments().heartbeatsAccepted.add(1);
  else instruments().heartbeatsRejected.add(1, { [Attributes.reason]: outcome.code });
}
