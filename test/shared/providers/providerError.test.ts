import {
  parseAzureQuotaNumbers,
  parseRetryAfter,
  ProviderError,
} from '../../../shared/providers/providerError';

describe('provider errors', () => {
  it('parses the numbers of an Azure quota message', () => {
    const message =
      'Operation could not be completed as it results in exceeding approved standardNCADSA100v4Family Cores quota. ' +
      'Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 24, Current Usage: 24, ' +
      'Additional Required: 96, (Minimum) New Limit Required: 120.';
    expect(parseAzureQuotaNumbers(message)).toEqual({
      limit: 24,
      usage: 24,
      required: 96,
      scope: 'standardNCADSA100v4Family',
    });
    expect(parseAzureQuotaNumbers('Allocation failed.')).toBeUndefined();
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.UTC(2030, 0, 1);
    expect(parseRetryAfter('1200', now)).toBe(1_200_000);
    expect(parseRetryAfter(new Date(now + 5000).toUTCString(), now)).toBe(5000);
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });

  it('marks throttling, transient failures, conflicts and timeouts retryable, and capacity or quota not', () => {
    const retryable = (kind: ConstructorParameters<typeof ProviderError>[0]) =>
      new ProviderError(kind, 'x').retryable;
    expect(['throttled', 'transient', 'conflict', 'timeout'].map((k) => retryable(k as never))).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(
      ['capacity', 'quota', 'sku-not-available', 'not-found', 'fatal'].map((k) => retryable(k as never)),
    ).toEqual([false, false, false, false, false]);
    expect(new ProviderError('quota', 'q').code).toBe('Provider.quota');
  });
});
