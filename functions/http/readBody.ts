import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { z } from 'zod';
import { parseStrictJson } from '../../shared/contracts/json';
import { OPERATION_REQUEST_MAX_BYTES } from '../../shared/contracts/operationsRequests';
import { jsonError, limitedBody } from './httpResponses';

type Parsed<T> = { ok: true; value: T } | { ok: false; response: HttpResponseInit };

/** A strict JSON body of at most 16 KiB against `schema`: 413, 400 (not JSON, naming where) or 422 (naming each problem). */
export async function readBody<T>(
  request: HttpRequest,
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
): Promise<Parsed<T>> {
  const body = await limitedBody(request, OPERATION_REQUEST_MAX_BYTES);
  if (!body.ok) return body;
  const json = parseStrictJson(body.body.toString('utf8'));
  if (!json.ok)
    return {
      ok: false,
      response: jsonError(
        400,
        'InvalidJson',
        json.reason === 'syntax' ? 'the body is not JSON' : `the body is not valid JSON: ${json.message}`,
        json.path ? { path: json.path } : {},
      ),
    };
  const parsed = schema.safeParse(json.value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const problems = parsed.error.issues.map((i) => ({
    path: i.path.join('.') || '(body)',
    message: i.message,
  }));
  return {
    ok: false,
    response: jsonError(422, 'InvalidRequest', 'the request body is invalid', { problems }),
  };
}
