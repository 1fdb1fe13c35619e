import { app, type HttpResponseInit } from '@azure/functions';
import { getConfig } from '../../shared/config/config';
import { FunctionNames } from '../../shared/constants/functionNames';
import { healthResponse } from '../../shared/control/health';
import { probeStorage } from '../../shared/stores/probeStorage';

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
