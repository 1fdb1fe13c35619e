import { app, type HttpResponseInit } from '@azure/functions';
import { getConfig } from '../../shared/config/config';
import { FunctionNames } from '../../shared/constants/functionNames';
import { probeStorage, type StorageProbe } from '../../shared/stores/probeStorage';
import { version } from '../../shared/version';

/** The health answer for a storage probe: 503 when storage does not answer, so load balancers and callers retry. */
export function healthResponse(storage: StorageProbe): HttpResponseInit {
  return {
    status: storage.reachable ? 200 : 503,
    jsonBody: { status: storage.reachable ? 'ok' : 'unavailable', version, storage },
    headers: { 'cache-control': 'no-store' },
  };
}

/** GET /api/health: version and storage reachability. */
export async function health(): Promise<HttpResponseInit> {
  return healthResponse(await probeStorage(getConfig().storageConnectionString));
}

app.http(FunctionNames.health, {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: health,
});
