import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { routes } from '../../shared/contracts/routes';
import { withErrorPolicy } from './httpResponses';
import type { Services } from '../../shared/services/services';
import { withServices } from '../common/withServices';
import { readSignedRequest } from './agentHttp';
import { refusalToHttp } from './refusalToHttp';

/**
 * POST /api/v1/agent/heartbeat: a signed heartbeat (anonymous at the host level; the signature is the
 * authentication). Rejections: 413 body too large, 401 missing or bad signature or timestamp (one answer whether or
 * not the cluster, node and key version exist), 409 replayed sequence, stale key version or an epoch ahead of the
 * cluster's, 422 invalid body — nothing is written for any of them.
 */
export async function agentHeartbeatHandler(
  services: Services,
  request: HttpRequest,
): Promise<HttpResponseInit> {
  const signed = await readSignedRequest(request, services);
  if (!signed.ok) return signed.response;
  const outcome = await services.agents.heartbeats.handle(signed.verified, signed.body);
  if (!outcome.ok) return refusalToHttp(outcome);
  return { status: 200, jsonBody: outcome.reply };
}

app.http(FunctionNames.agentHeartbeat, {
  route: routes.agentHeartbeat,
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: withErrorPolicy(withServices(agentHeartbeatHandler)),
});
