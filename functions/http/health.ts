import { app, type HttpResponseInit } from '@azure/functions';
import { getConfig } from '../../shared/config/config';
import { FunctionNames } from '../../shared/constants/functionNames';
import { routes } from '../../shared/contracts/routes';
import { healthReport } from '../../shared/control/common/health';
import { probeStorage } from '../../shared/stores/probeStorage';

/** GET /api/health: version and storage reachability. */
export async function health(): Promise<HttpResponseInit> {
  const report = healthReport(await probeStorage(getConfig().storage));
  return {
    // 503 when storage does not answer, so load balancers and callers retry.
    status: report.status === 'ok' ? 200 : 503,
    jsonBody: report,
    headers: { 'cache-control': 'no-store' },
  };
}

app.http(FunctionNames.health, {
  route: routes.health,
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: health,
});
