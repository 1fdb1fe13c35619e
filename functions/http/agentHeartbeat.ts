import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { routes } from '../../shared/contracts/routes';
import { withErrorPolicy } from './httpResponses';
import { agentContext, readSignedRequest } from './agentHttp';

/**
 * POST /api/v1/agent/heartbeat: a signed heartbeat (anonymous at the host level; the signature is the
 * authentication). Rejections: 413 body too large, 401 missing or bad signature or timestamp, 403 node not in the
 * cluster, 409 replayed sequence, 422 invalid body — nothing is written for any of them.
 */
export async function agentHeartbeatHandler(request: HttpRequest): Promise<HttpResponseInit> {
  const context = await agentContext();
  const signed = await readSignedRequest(request, context);
  if (!signed.ok) return signed.response;
  const reply = await context.heartbeats.handle(signed.verified, signed.body);
  return { status: reply.status, jsonBody: reply.body, ...(reply.headers ? { headers: reply.headers } : {}) };
}

app.http(FunctionNames.agentHeartbeat, {
  route: routes.agentHeartbeat,
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: withErrorPolicy(agentHeartbeatHandler),
});
