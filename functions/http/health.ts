import { app, type HttpResponseInit } from '@azure/functions';
import { getConfig } from '../../shared/config/config';
import { FunctionNames } from '../../shared/constants/functionNames';
import { routes } from '../../shared/contracts/routes';
import { healthResponse } from '../../shared/control/health';
import { probeStorage } from '../../shared/stores/probeStorage';

/** GET /api/health: version and storage reachability. */
export async function health(): Promise<HttpResponseInit> {
  return healthResponse(await probeStorage(getConfig().storageConnectionString));
}

app.http(FunctionNames.health, {
  route: routes.health,
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: health,
});
