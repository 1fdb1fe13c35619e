import {
  parseAzureQuotaNumbers,
  parseRetryAfter,
  ProviderError,
  type ProviderErrorKind,
  type QuotaNumbers,
} from '../providerError';

/**
 * Turns whatever an `@azure/arm-compute` call threw into a `ProviderError`, by the ARM error code and message
 * first and the HTTP status only after them (a 409 can be a quota, a capacity or a conflict error). Three shapes
 * arrive:
 * - a `RestError` (`statusCode`, `code`, `details.error.details[].code`, `response.headers`) for a synchronous
 *   error response, and with a transport `code` (ECONNREFUSED, ECONNRESET, REQUEST_SEND_ERROR) and no status for a
 *   connection that failed;
 * - a plain `Error` "The long-running operation has failed. <code>. <message>" from the SDK's poller when the
 *   operation status came back `Failed` (AllocationFailed arrives this way, long after the 202);
 * - an `AbortError` (the caller decides whether that is a timeout).
 * The message names the operation and the resource and carries the cloud's code and message, scrubbed of anything
 * that looks like a token; the raw SDK error (whose request holds the Authorization header) is not kept as `cause`:
 * a summary is.
 */

export interface AzureErrorContext {
  /** What was being done, e.g. `start`, `scale out`. */
  operation: string;
  /** The resource it was done to (an ARM id or a region). */
  resource?: string;
  /** For Retry-After given as a date. */
  now?: number;
  /** Used when a 429 carries no Retry-After. Default 30 s. */
  defaultRetryAfterMs?: number;
}

const CAPACITY_CODES = new Set([
  'allocationfailed',
  'zonalallocationfailed',
  'overconstrainedallocationrequest',
  'overconstrainedzonalallocationrequest',
  'allocationtimedout',
]);
const NOT_FOUND_CODES = new Set([
  'resourcenotfound',
  'notfound',
  'resourcegroupnotfound',
  'parentresourcenotfound',
  'subscriptionnotfound',
]);
const CONFLICT_CODES = new Set([
  'conflict',
  'operationnotallowed',
  'operationpreempted',
  'anotheroperationinprogress',
  'conflictingoperation',
  'retryableerror',
]);
const TRANSIENT_CODES = new Set([
  'internalservererror',
  'internalexecutionerror',
  'internaloperationerror',
  'serviceunavailable',
  'gatewaytimeout',
  'badgateway',
  'operationtimedout',
  'requesttimeout',
  'request_send_error',
  'econnrefused',
  'econnreset',
  'etimedout',
  'esockettimedout',
  'epipe',
  'eai_again',
  'enotfound',
  'ehostunreach',
  'enetunreach',
  'econnaborted',
  'und_err_socket',
  'und_err_connect_timeout',
]);

interface Extracted {
  name: string;
  message: string;
  statusCode: number | undefined;
  code: string | undefined;
  /** The top code and the codes of `details`, lower-cased. */
  codes: string[];
  retryAfter: string | undefined;
  requestId: string | undefined;
}

const LRO_FAILED = /^The long-running operation has failed\.\s*(?:([A-Za-z][\w.]*)\.\s)?([\s\S]*)$/;

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value ? value : undefined);

function header(error: Record<string, unknown>, name: string): string | undefined {
  const headers = record(record(error.response)?.headers);
  if (!headers) return undefined;
  if (typeof headers.get === 'function') {
    const value: unknown = (headers.get as (n: string) => unknown).call(headers, name);
    return str(value);
  }
  return str(headers[name]) ?? str(headers[name.toLowerCase()]);
}

function extract(error: unknown): Extracted {
  const e = record(error) ?? {};
  const name = str(e.name) ?? (error instanceof Error ? error.name : 'Error');
  let message = str(e.message) ?? (typeof error === 'string' ? error : 'unknown error');
  let code = str(e.code);
  const statusCode = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const codes: string[] = [];
  const lro = code === undefined && statusCode === undefined ? LRO_FAILED.exec(message) : null;
  if (lro) {
    code = lro[1];
    message = lro[2]?.trim() || message;
  }
  if (code) codes.push(code.toLowerCase());
  const cloudError = record(record(e.details)?.error);
  for (const detail of Array.isArray(cloudError?.details) ? (cloudError.details as unknown[]) : []) {
    const detailCode = str(record(detail)?.code);
    if (detailCode) codes.push(detailCode.toLowerCase());
  }
  return {
    name,
    message,
    statusCode,
    code,
    codes,
    retryAfter: header(e, 'retry-after'),
    requestId: header(e, 'x-ms-request-id'),
  };
}

/** Removes anything that looks like a credential from text that may end up in logs. */
export function scrubSecrets(text: string): string {
  return text
    .replace(/Bearer\s+[\w\-.~+/]{16,}=*/gi, 'Bearer <redacted>')
    .replace(/eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g, '<redacted-token>')
    .replace(/([?&](?:sig|code|token|access_token)=)[^&\s"']+/gi, '$1<redacted>');
}

/**
 * The numbers of an Azure quota error: the current message ("… exceeding approved standardNCADSA100v4Family Cores
 * quota … Current Limit: 24, Current Usage: 24, Additional Required: 96") and the older one ("… exceeding quota
 * limits of Core. Maximum allowed: 10, Current in use: 10, Additional requested: 2"). `scope` is the family name, or
 * `cores` for the regional (Total Regional Cores) quota.
 */
export function parseAzureQuota(message: string): QuotaNumbers | undefined {
  const legacy = () => {
    const limit = /Maximum allowed:\s*(\d+)/i.exec(message)?.[1];
    const usage = /Current in use:\s*(\d+)/i.exec(message)?.[1];
    const required = /Additional requested:\s*(\d+)/i.exec(message)?.[1];
    return limit === undefined || usage === undefined || required === undefined
      ? undefined
      : { limit: Number(limit), usage: Number(usage), required: Number(required) };
  };
  const numbers = parseAzureQuotaNumbers(message) ?? legacy();
  if (!numbers) return undefined;
  const approved = /exceeding approved\s+(.+?)\s+quota/i.exec(message)?.[1];
  const limits = /quota limits of\s+(\w+)/i.exec(message)?.[1];
  let scope: string | undefined;
  if (approved !== undefined)
    scope = /total regional/i.test(approved) ? 'cores' : approved.replace(/\s+Cores$/i, '').trim();
  else if (limits !== undefined) scope = /^cores?$/i.test(limits) ? 'cores' : limits;
  return {
    limit: numbers.limit,
    usage: numbers.usage,
    required: numbers.required,
    ...(scope ? { scope } : {}),
  };
}

function kindOf(x: Extracted): ProviderErrorKind {
  const has = (set: ReadonlySet<string>) => x.codes.some((c) => set.has(c));
  if (has(CAPACITY_CODES) || /\ballocation failed\b.*\b(capacity|constraints)\b/is.test(x.message))
    return 'capacity';
  if (
    x.codes.includes('quotaexceeded') ||
    /exceeding approved .*quota|exceeding quota limits/is.test(x.message)
  )
    return 'quota';
  if (x.codes.includes('skunotavailable')) return 'sku-not-available';
  if (x.statusCode === 429 || x.codes.includes('toomanyrequests')) return 'throttled';
  if (x.statusCode === 404 || has(NOT_FOUND_CODES)) return 'not-found';
  if (x.name === 'AbortError') return 'transient';
  if (x.statusCode === 409 || has(CONFLICT_CODES)) return 'conflict';
  if ((x.statusCode !== undefined && x.statusCode >= 500) || x.statusCode === 408 || has(TRANSIENT_CODES))
    return 'transient';
  if (x.statusCode === undefined && /socket hang up|network|timed? ?out/i.test(x.message)) return 'transient';
  if (/^Operation was canceled$/.test(x.message)) return 'conflict';
  return 'fatal';
}

/** Classifies an error of an ARM call. A `ProviderError` passes through unchanged. */
export function classifyAzureError(error: unknown, context: AzureErrorContext): ProviderError {
  if (error instanceof ProviderError) return error;
  const x = extract(error);
  const kind = kindOf(x);
  const cloudMessage = scrubSecrets(x.message).slice(0, 2000);
  const where = context.resource ? `${context.operation} of ${context.resource}` : context.operation;
  const status = x.statusCode !== undefined ? ` (HTTP ${x.statusCode})` : '';
  const message = `Azure ${where} failed${status}: ${x.code ? `${x.code}: ` : ''}${cloudMessage}`;
  const now = context.now ?? Date.now();
  const retryAfterMs =
    kind === 'throttled'
      ? (parseRetryAfter(x.retryAfter, now) ?? context.defaultRetryAfterMs ?? 30_000)
      : undefined;
  const quota = kind === 'quota' ? parseAzureQuota(x.message) : undefined;
  const cause = {
    name: x.name,
    ...(x.code ? { code: x.code } : {}),
    ...(x.statusCode !== undefined ? { statusCode: x.statusCode } : {}),
    ...(x.requestId ? { requestId: x.requestId } : {}),
    message: cloudMessage,
  };
  return new ProviderError(kind, message, {
    cause,
    ...(x.code ? { cloudCode: x.code } : {}),
    ...(x.statusCode !== undefined ? { statusCode: x.statusCode } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    ...(quota ? { quota } : {}),
  });
}
