import { FailoverPlaneError, type FailoverPlaneErrorOptions } from '../errors/failoverPlaneError';

/**
 * What went wrong with a cloud call, in the few kinds callers act on:
 * - `capacity`: the region/zone has no room now (Azure AllocationFailed/ZonalAllocationFailed/Overconstrained,
 *   OCI "Out of host capacity") — cool the site down, re-plan elsewhere;
 * - `quota`: a limit would be exceeded (Azure "exceeding approved ... quota", OCI LimitExceeded/QuotaExceeded);
 * - `sku-not-available`: the size cannot be had in this site at all (Azure SkuNotAvailable);
 * - `throttled`: 429 — wait `retryAfterMs` (with a durable timer), then retry;
 * - `not-found`, `conflict`: the resource is gone, or another operation holds it;
 * - `transient`: 5xx, timeouts, connection failures — retry with backoff;
 * - `timeout`: a long-running operation did not finish before the caller's deadline;
 * - `fatal`: anything else (bad request, authorization) — do not retry.
 */
export type ProviderErrorKind =
  | 'capacity'
  | 'quota'
  | 'sku-not-available'
  | 'throttled'
  | 'not-found'
  | 'conflict'
  | 'transient'
  | 'timeout'
  | 'fatal';

export interface QuotaNumbers {
  limit: number;
  usage: number;
  required: number;
  /** The quota's name as the cloud gives it (e.g. standardNCADSA100v4Family, gpu-a100-v2-count). */
  scope?: string;
}

const RETRYABLE: ReadonlySet<ProviderErrorKind> = new Set(['throttled', 'transient', 'conflict', 'timeout']);

export class ProviderError extends FailoverPlaneError {
  override readonly name = 'ProviderError';
  readonly code: string;
  readonly retryable: boolean;
  readonly kind: ProviderErrorKind;
  readonly cloudCode: string | undefined;
  readonly statusCode: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly quota: QuotaNumbers | undefined;

  constructor(
    kind: ProviderErrorKind,
    message: string,
    details: FailoverPlaneErrorOptions & {
      cloudCode?: string;
      statusCode?: number;
      retryAfterMs?: number;
      quota?: QuotaNumbers;
    } = {},
  ) {
    super(message, details);
    this.kind = kind;
    this.code = `Provider.${kind}`;
    this.retryable = RETRYABLE.has(kind);
    this.cloudCode = details.cloudCode;
    this.statusCode = details.statusCode;
    this.retryAfterMs = details.retryAfterMs;
    this.quota = details.quota;
  }
}

/** Parses the numbers of an Azure quota message ("... Current Limit: 24, Current Usage: 24, Additional Required: 96"). */
export function parseAzureQuotaNumbers(message: string): QuotaNumbers | undefined {
  const limit = /Current Limit:\s*(\d+)/i.exec(message)?.[1];
  const usage = /Current Usage:\s*(\d+)/i.exec(message)?.[1];
  const required = /Additional Required:\s*(\d+)/i.exec(message)?.[1];
  if (limit === undefined || usage === undefined || required === undefined) return undefined;
  const scope = /exceeding approved\s+(\S+)\s+Cores quota/i.exec(message)?.[1];
  return {
    limit: Number(limit),
    usage: Number(usage),
    required: Number(required),
    ...(scope ? { scope } : {}),
  };
}

/** Retry-After as seconds or an HTTP date, in ms from `now`. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
