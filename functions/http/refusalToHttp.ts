import type { HttpResponseInit } from '@azure/functions';
import type { Refusal, RefusalKind } from '../../shared/control/common/outcome';

/** The one mapping from a refusal's kind to an HTTP status. */
export const statusForKind: Readonly<Record<RefusalKind, number>> = {
  invalid: 400,
  unprocessable: 422,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  unavailable: 503,
};

/** A refusal as the JSON error every endpoint answers: `{ error: { code, message, ...details } }`. */
export function refusalToHttp(refusal: Refusal): HttpResponseInit {
  const status = statusForKind[refusal.kind];
  const response: HttpResponseInit = {
    status,
    jsonBody: { error: { code: refusal.code, message: refusal.message, ...(refusal.details ?? {}) } },
  };
  if (refusal.kind === 'unavailable')
    response.headers = { 'retry-after': String(refusal.retryAfterSeconds ?? 5) };
  return response;
}
