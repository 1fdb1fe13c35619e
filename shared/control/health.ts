import type { HttpResponseInit } from '@azure/functions';
import type { StorageProbe } from '../stores/probeStorage';
import { version } from '../version';

/** The health answer for a storage probe: 503 when storage does not answer, so load balancers and callers retry. */
export function healthResponse(storage: StorageProbe): HttpResponseInit {
  return {
    status: storage.reachable ? 200 : 503,
    jsonBody: { status: storage.reachable ? 'ok' : 'unavailable', version, storage },
    headers: { 'cache-control': 'no-store' },
  };
}
