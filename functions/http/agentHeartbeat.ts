import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { AgentDirectory } from '../../shared/control/agentRequests';
import { HeartbeatService } from '../../shared/control/heartbeatService';
import { getServices } from '../../shared/services/services';
import { jsonError, withErrorPolicy } from './httpResponses';

let heartbeats: { directory: AgentDirectory; service: HeartbeatService } | undefined;

/**
 * POST /api/v1/agent/heartbeat: a signed heartbeat (anonymous at the host level; the signature is the
 * authentication). Rejections: 413 body too large, 401 missing or bad signature or timestamp, 403 node not in the
 * cluster, 409 replayed sequence, 422 invalid body — nothing is written for any of them.
 */
export async function agentHeartbeatHandler(request: HttpRequest): Promise<HttpResponseInit> {
  const services = await getServices();
  if (!heartbeats) {
    const directory = new AgentDirectory(services);
    heartbeats = { directory, service: new HeartbeatService(services, directory) };
  }
  const body = Buffer.from(await request.arrayBuffer());
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => (headers[name] = value));
  const verified = await heartbeats.directory.verify(
    request.method,
    new URL(request.url).pathname,
    headers,
    body,
  );
  if (!verified.ok) return jsonError(verified.status, verified.code, verified.message);
  const reply = await heartbeats.service.handle(verified, body);
  return { status: reply.status, jsonBody: reply.body, ...(reply.headers ? { headers: reply.headers } : {}) };
}

app.http(FunctionNames.agentHeartbeat, {
  route: 'v1/agent/heartbeat',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: withErrorPolicy(agentHeartbeatHandler),
});
