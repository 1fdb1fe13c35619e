import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { ConfigError } from '../../shared/config/config';
import { ID_PATTERN } from '../../shared/contracts/ids';
import { isRetryable } from '../../shared/errors';

export function jsonError(
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): HttpResponseInit {
  return { status, jsonBody: { error: { code, message, ...extra } } };
}

type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/**
 * The error policy of every HTTP function: a temporary failure (storage unreachable, throttled) answers 503 with
 * Retry-After, so alert senders and agents retry; a configuration error answers 500 naming the settings (never
 * their values); anything else propagates to the host (500 with an error id in the log).
 */
export function withErrorPolicy(handler: Handler): Handler {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (error) {
      if (isRetryable(error)) {
        context.warn(`temporary failure: ${(error as Error).message}`);
        return {
          ...jsonError(503, 'TemporarilyUnavailable', 'storage is temporarily unavailable; retry'),
          headers: { 'retry-after': '5' },
        };
      }
      if (error instanceof ConfigError) {
        context.error(error.message);
        return jsonError(500, error.code, 'the control plane is not configured', {
          problems: error.problems,
        });
      }
      throw error;
    }
  };
}

/** A route parameter that must be a cluster or node id; the 400 names it. */
export function idParam(
  request: HttpRequest,
  name: string,
): { ok: true; value: string } | { ok: false; response: HttpResponseInit } {
  const value = request.params[name] ?? '';
  if (ID_PATTERN.test(value)) return { ok: true, value };
  return {
    ok: false,
    response: jsonError(400, 'InvalidId', `${name} must be 1-63 lowercase letters, digits or single dashes`),
  };
}

/** Reads a body of at most `limit` bytes; the 413 says the limit. */
export async function limitedBody(
  request: HttpRequest,
  limit: number,
): Promise<{ ok: true; body: Buffer } | { ok: false; response: HttpResponseInit }> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit)
    return {
      ok: false,
      response: jsonError(413, 'PayloadTooLarge', `the body must be at most ${limit} bytes`),
    };
  const body = Buffer.from(await request.arrayBuffer());
  if (body.length > limit)
    return {
      ok: false,
      response: jsonError(413, 'PayloadTooLarge', `the body must be at most ${limit} bytes`),
    };
  return { ok: true, body };
}
