import type { AsyncLocalStorage } from 'node:async_hooks';
import {
  DefaultRequestSigner,
  FetchHttpClient,
  type AuthenticationDetailsProvider,
  type HttpClient,
  type HttpRequest,
} from 'oci-common';

/** What one provider call shares with the HTTP requests the SDK makes for it. */
export interface OciCallScope {
  /** Aborts the request in flight (caller's signal, deadline, per-request timeout). */
  signal: AbortSignal;
  /** Retry-After of the last failed response (the SDK's OciError does not keep response headers). */
  retryAfter?: string | null;
  /** The last transport failure (no HTTP answer), as Node's fetch reported it. */
  transportError?: unknown;
}

/**
 * The SDK's own `FetchHttpClient` (same signing, same fetch), given per call the abort signal of the provider call
 * that is running, and reporting back what the SDK's error drops: the Retry-After header. The SDK has no per-request
 * abort option; the call scope travels through `AsyncLocalStorage` from `OciComputeProvider` to here.
 */
export class OciHttpClient implements HttpClient {
  readonly #signer: DefaultRequestSigner;
  readonly #scope: AsyncLocalStorage<OciCallScope>;

  constructor(authProvider: AuthenticationDetailsProvider, scope: AsyncLocalStorage<OciCallScope>) {
    this.#signer = new DefaultRequestSigner(authProvider);
    this.#scope = scope;
  }

  async send(request: HttpRequest, forceExcludeBody?: boolean): Promise<Response> {
    const scope = this.#scope.getStore();
    // No circuit breaker: the control plane cools sites down itself, and a breaker would turn a classified
    // capacity or quota answer into an opaque "breaker is open".
    const client = new FetchHttpClient(this.#signer, null, scope ? { signal: scope.signal } : undefined);
    try {
      const response = await client.send(request, forceExcludeBody);
      if (scope && !response.ok) scope.retryAfter = response.headers.get('retry-after');
      return response;
    } catch (error) {
      if (scope) scope.transportError = error;
      // The SDK keeps only `code` and `message` of what is thrown here: surface the socket error code.
      const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
      const code = typeof cause?.code === 'string' ? cause.code : (error as { name?: string } | null)?.name;
      throw Object.assign(new Error((error as Error | null)?.message ?? 'fetch failed'), {
        code,
        // Never retried by the SDK (its retrier is off anyway): the provider decides.
        shouldBeRetried: false,
      });
    }
  }
}
