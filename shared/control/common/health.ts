import type { StorageProbe } from '../../stores/probeStorage';
import { version } from '../../version';

export interface HealthReport {
  /** `unavailable` when storage does not answer (the trigger answers 503 so load balancers and callers retry). */
  status: 'ok' | 'unavailable';
  version: string;
  storage: StorageProbe;
}

/** The health of the control plane, given a storage probe. */
export function healthReport(storage: StorageProbe): HealthReport {
  return { status: storage.reachable ? 'ok' : 'unavailable', version, storage };
}
