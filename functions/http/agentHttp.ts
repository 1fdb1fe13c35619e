import type { z } from 'zod';
import { parseAgentBody } from '../../shared/control/agents/agentRequests';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { BAD_SIGNATURE_MESSAGE, type VerifiedRequest } from '../../shared/auth/signedRequest';
import { refuse } from '../../shared/control/common/outcome';
import type { Services } from '../../shared/services/services';
import { jsonError } from './httpResponses';
import { refusalToHttp } from './refusalToHttp';

/**
 * Reads and verifies a signed agent request; a rejection is returned as the response to send. A request without a
 * body to act on (GET) consumes its sequence number here, so that it cannot be replayed either; POST handlers consume
 * it with what they write (the heartbeat path, `HeartbeatService.consume`).
 */
export async function readSignedRequest(
  request: HttpRequest,
  services: Services,
): Promise<
  { ok: true; verified: VerifiedRequest; body: Buffer } | { ok: false; response: HttpResponseInit }
> {
  const body = Buffer.from(await request.arrayBuffer());
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => (headers[name] = value));
  const verified = await services.agents.directory.verify(
    request.method,
    new URL(request.url).pathname,
    headers,
    body,
  );
  if (!verified.ok)
    return { ok: false, response: jsonError(verified.status, verified.code, verified.message) };
  if (request.method === 'GET') {
    const document = await services.agents.directory.document(verified.clusterId);
    const refused = document
      ? await services.agents.heartbeats.consume(document, verified, {
          receivedAt: services.now(),
          role: 'standby',
          epoch: 0,
          checks: [],
        })
      : refuse('unauthenticated', 'BadSignature', BAD_SIGNATURE_MESSAGE);
    if (refused) return { ok: false, response: refusalToHttp(refused) };
  }
  return { ok: true, verified, body };
}

/** Reads and verifies a signed agent request and parses its body against the contract's `schema` (422 otherwise). */
export async function readSignedBody<T>(
  request: HttpRequest,
  services: Services,
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
  what: string,
): Promise<{ ok: true; verified: VerifiedRequest; value: T } | { ok: false; response: HttpResponseInit }> {
  const signed = await readSignedRequest(request, services);
  if (!signed.ok) return signed;
  const parsed = parseAgentBody(signed.body, schema, what);
  if (!parsed.ok) return { ok: false, response: refusalToHttp(parsed.refusal) };
  return { ok: true, verified: signed.verified, value: parsed.value };
}
