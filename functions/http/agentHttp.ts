import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { VerifiedRequest } from '../../shared/auth/signedRequest';
import type { AgentDirectory } from '../../shared/control/agentRequests';
import type { HeartbeatService } from '../../shared/control/heartbeatService';
import { getServices, type Services } from '../../shared/services/services';
import { jsonError } from './httpResponses';

export interface AgentContext {
  services: Services;
  directory: AgentDirectory;
  heartbeats: HeartbeatService;
}

/** The agent-facing services of the composition root (their caches live as long as the process). */
export async function agentContext(): Promise<AgentContext> {
  const services = await getServices();
  return { services, ...services.agents };
}

/** Reads and verifies a signed agent request; a rejection is returned as the response to send. */
export async function readSignedRequest(
  request: HttpRequest,
  context: AgentContext,
): Promise<
  { ok: true; verified: VerifiedRequest; body: Buffer } | { ok: false; response: HttpResponseInit }
> {
  const body = Buffer.from(await request.arrayBuffer());
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => (headers[name] = value));
  const verified = await context.directory.verify(
    request.method,
    new URL(request.url).pathname,
    headers,
    body,
  );
  if (!verified.ok)
    return { ok: false, response: jsonError(verified.status, verified.code, verified.message) };
  return { ok: true, verified, body };
}
