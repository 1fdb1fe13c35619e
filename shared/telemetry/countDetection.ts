import { Attributes } from './telemetryNames';
import { instruments } from './instruments';

/** Counts a failure detection as it is recorded (once per silence of an active, whichever host records it). */
export function countDetection(clusterId: string): void {
  instruments().detections.add(1, { [Attributes.clusterId]: clusterId });
}
