import { parseRetryAfter, ProviderError, type QuotaNumbers } from '../providerError';

/** Retry-After assumed for a 429 that does not say how long to wait. */
export const DEFAULT_OCI_RETRY_AFTER_MS = 1000;

/** What the classifier knows about the call besides the error itself. */
export interface OciErrorContext {
  /** Names the call in the message, e.g. "START ocid1.instance.oc1..x". Never key material. */
  what: string;
  /** The Retry-After header of the failed response, if any (the SDK's OciError drops response headers). */
  retryAfter?: string | null;
  now: number;
  defaultRetryAfterMs?: number;
}

/** The fields of an `OciError` (oci-common) the classifier reads; matched by shape, not `instanceof`. */
interface OciServiceErrorLike {
  statusCode: number;
  serviceCode: string;
  message: string;
}

function isServiceError(error: unknown): error is OciServiceErrorLike {
  const e = error as Partial<OciServiceErrorLike> | null | undefined;
  return typeof e?.statusCode === 'number' && typeof e.serviceCode === 'string';
}

/**
 * A failure to get any HTTP answer: the SDK rethrows those as a plain `{ code, message, requestEndpoint }` object
 * (not an Error); Node's fetch rejects with "fetch failed" and a socket error code.
 */
function isTransportError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown; requestEndpoint?: unknown } | null | undefined;
  if (typeof e?.requestEndpoint === 'string') return true;
  if (typeof e?.code === 'string' && /^(E[A-Z]+|UND_ERR)/.test(e.code)) return true;
  return e?.message === 'fetch failed';
}

function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(error);
}

/**
 * The numbers of an OCI limit or quota message. Oracle's own messages name the limit but carry no numbers ("The
 * following service limits were exceeded: gpu-a100-v2-count. ..."); the local simulator adds them as
 * "(limit 32, used 32, requested 8)". Returns the scope alone when only the name is there.
 */
export function parseOciQuotaNumbers(message: string): Partial<QuotaNumbers> | undefined {
  const scope = /(?:limits|quotas) (?:were|was) exceeded:\s*([A-Za-z0-9-]+)/i.exec(message)?.[1];
  const numbers = /\(limit (\d+), used (\d+), requested (\d+)\)/i.exec(message);
  if (!numbers) return scope ? { scope } : undefined;
  return {
    limit: Number(numbers[1]),
    usage: Number(numbers[2]),
    required: Number(numbers[3]),
    ...(scope ? { scope } : {}),
  };
}

function completeQuota(numbers: Partial<QuotaNumbers> | undefined): QuotaNumbers | undefined {
  if (numbers?.limit === undefined || numbers.usage === undefined || numbers.required === undefined)
    return undefined;
  return numbers as QuotaNumbers;
}

/**
 * Classifies what the OCI SDK threw into a `ProviderError`:
 * - "Out of host capacity" anywhere in the message (HTTP 500 InternalError on launch/start, or a failed work
 *   request) → `capacity`;
 * - 400 LimitExceeded (service limit) / QuotaExceeded (compartment quota) → `quota`, with the numbers when the
 *   message has them;
 * - an InvalidParameter saying the shape is not available/supported in the AD → `sku-not-available`;
 * - 429 TooManyRequests → `throttled`, `retryAfterMs` from Retry-After, else `defaultRetryAfterMs`;
 * - 404 NotAuthorizedOrNotFound → `not-found`; 409 IncorrectState/Conflict → `conflict` (but a 409
 *   InvalidatedRetryToken is `fatal`: repeating the same token cannot succeed);
 * - 401 NotAuthenticated, 403 and every other 4xx → `fatal`;
 * - other 5xx, and transport failures (connection refused or reset, no status) → `transient`;
 * - anything else (an error that is neither an HTTP answer nor a transport failure) → `fatal`.
 * The message is "<what>: <service code> <service message>"; the SDK error is kept as `cause`.
 */
export function classifyOciError(error: unknown, context: OciErrorContext): ProviderError {
  if (error instanceof ProviderError) return error;
  if (!isServiceError(error) || error.statusCode <= 0) {
    const transport = isServiceError(error) || isTransportError(error);
    return new ProviderError(
      transport ? 'transient' : 'fatal',
      `${context.what}: ${transport ? 'no answer' : 'the call failed'} (${messageOf(error)})`,
      { cause: error },
    );
  }
  const { statusCode, serviceCode } = error;
  const details = { cause: error, cloudCode: serviceCode, statusCode };
  const text = `${context.what}: ${statusCode} ${serviceCode} ${error.message}`;
  if (/out of host capacity/i.test(error.message)) return new ProviderError('capacity', text, details);
  if (serviceCode === 'LimitExceeded' || serviceCode === 'QuotaExceeded') {
    const quota = completeQuota(parseOciQuotaNumbers(error.message));
    return new ProviderError('quota', text, { ...details, ...(quota ? { quota } : {}) });
  }
  if (serviceCode === 'InvalidParameter' && /shape\b.*\bnot (?:available|supported)/i.test(error.message)) {
    return new ProviderError('sku-not-available', text, details);
  }
  if (statusCode === 429 || serviceCode === 'TooManyRequests') {
    const retryAfterMs =
      parseRetryAfter(context.retryAfter, context.now) ??
      context.defaultRetryAfterMs ??
      DEFAULT_OCI_RETRY_AFTER_MS;
    return new ProviderError('throttled', text, { ...details, retryAfterMs });
  }
  if (statusCode === 404 || serviceCode === 'NotAuthorizedOrNotFound')
    return new ProviderError('not-found', text, details);
  if (statusCode === 409)
    return new ProviderError(serviceCode === 'InvalidatedRetryToken' ? 'fatal' : 'conflict', text, details);
  if (statusCode >= 500) return new ProviderError('transient', text, details);
  return new ProviderError('fatal', text, details);
}
