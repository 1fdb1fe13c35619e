import { app, type HttpResponseInit } from '@azure/functions';
import { getConfig } from '../../shared/config/config';
import { FunctionNames } from '../../shared/constants/functionNames';
import { probeStorage } from '../../shared/stores/probeStorage';
import { version } from '../../shared/version';

/** GET /api/health: version and storage reachability; 503 when storage does not answer (callers retry). */
export async function health(): Promise<HttpResponseInit> {
  const storage = await probeStorage(getConfig().storageConnectionString);
  return {
    status: storage.reachable ? 200 : 503,
    jsonBody: { status: storage.reachable ? 'ok' : 'unavailable', version, storage },
    headers: { 'cache-control': 'no-store' },
  };
}

app.http(FunctionNames.health, {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: health,
});
