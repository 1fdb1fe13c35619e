import { inspect } from 'node:util';
import {
  classifyAzureError,
  parseAzureQuota,
  scrubSecrets,
} from '../../../../shared/providers/azure/armErrors';
import { ProviderError } from '../../../../shared/providers/providerError';

const NOW = Date.UTC(2030, 0, 1);
const context = {
  operation: 'start',
  resource: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1',
  now: NOW,
};

/** The shape of the SDK's RestError: status, code, parsed cloud error, response headers. */
function restError(
  statusCode: number | undefined,
  code: string | undefined,
  message: string,
  headers: Record<string, string> = {},
  details: { code: string }[] = [],
) {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return Object.assign(new Error(message), {
    name: 'RestError',
    statusCode,
    code,
    details: { error: { code, message, details } },
    request: { headers: { authorization: 'Bearer eyJhbGciOi.eyJzdWIiOiJ4.c2lnbmF0dXJl' } },
    response: { status: statusCode, headers: { get: (name: string) => lower[name.toLowerCase()] } },
  });
}

const QUOTA_MESSAGE =
  'Operation could not be completed as it results in exceeding approved standardNCADSA100v4Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 24, Current Usage: 24, Additional Required: 96, (Minimum) New Limit Required: 120. Submit a request for Quota increase at https://aka.ms/ProdportalCRP';

describe('classifyAzureError', () => {
  it.each([
    [
      'AllocationFailed',
      409,
      'Allocation failed. We do not have sufficient capacity for the requested VM size in this region.',
    ],
    [
      'ZonalAllocationFailed',
      409,
      'Allocation failed. We do not have sufficient capacity for the requested VM size in this zone.',
    ],
    [
      'OverconstrainedAllocationRequest',
      409,
      'Allocation failed. VM(s) with the following constraints cannot be allocated, because the condition is too restrictive.',
    ],
  ])('classifies %s as capacity, not as a 409 conflict', (code, status, message) => {
    const error = classifyAzureError(restError(status, code, message), context);
    expect(error).toMatchObject({ kind: 'capacity', cloudCode: code, statusCode: status, retryable: false });
    expect(error.message).toContain(code);
  });

  it('classifies an allocation failure reported by the operation status (the SDK poller error) as capacity', () => {
    const polled = new Error(
      'The long-running operation has failed. AllocationFailed. Allocation failed. We do not have sufficient capacity for the requested VM size in this region.',
    );
    expect(classifyAzureError(polled, context)).toMatchObject({
      kind: 'capacity',
      cloudCode: 'AllocationFailed',
    });
  });

  it('classifies the quota message as quota with its numbers and the family as scope', () => {
    const error = classifyAzureError(restError(409, 'OperationNotAllowed', QUOTA_MESSAGE), context);
    expect(error).toMatchObject({
      kind: 'quota',
      cloudCode: 'OperationNotAllowed',
      quota: { limit: 24, usage: 24, required: 96, scope: 'standardNCADSA100v4Family' },
    });
  });

  it('reads the regional quota and the older quota message', () => {
    expect(
      parseAzureQuota(
        'Operation could not be completed as it results in exceeding approved Total Regional Cores quota. Additional details - Deployment Model: Resource Manager, Location: centralus, Current Limit: 10, Current Usage: 8, Additional Required: 4, (Minimum) New Limit Required: 12.',
      ),
    ).toEqual({ limit: 10, usage: 8, required: 4, scope: 'cores' });
    expect(
      parseAzureQuota(
        'Operation results in exceeding quota limits of Core. Maximum allowed: 4, Current in use: 4, Additional requested: 1.',
      ),
    ).toEqual({ limit: 4, usage: 4, required: 1, scope: 'cores' });
    expect(parseAzureQuota('nothing to see')).toBeUndefined();
  });

  it('classifies SkuNotAvailable', () => {
    const error = classifyAzureError(
      restError(
        409,
        'SkuNotAvailable',
        "The requested VM size ... is currently not available in location 'westeurope'.",
      ),
      context,
    );
    expect(error.kind).toBe('sku-not-available');
  });

  it('classifies a 429 as throttled with Retry-After, even when its code is OperationNotAllowed', () => {
    const error = classifyAzureError(
      restError(
        429,
        'OperationNotAllowed',
        'The server rejected the request because too many requests have been received for this subscription.',
        { 'Retry-After': '1200' },
        [{ code: 'TooManyRequests' }],
      ),
      context,
    );
    expect(error).toMatchObject({ kind: 'throttled', retryAfterMs: 1_200_000, retryable: true });
  });

  it('reads a Retry-After date and falls back to 30 s without one', () => {
    const dated = restError(429, 'TooManyRequests', 'slow down', {
      'Retry-After': new Date(NOW + 5000).toUTCString(),
    });
    expect(classifyAzureError(dated, context).retryAfterMs).toBe(5000);
    expect(classifyAzureError(restError(429, 'TooManyRequests', 'slow down'), context).retryAfterMs).toBe(
      30_000,
    );
  });

  it.each([
    [404, 'ResourceNotFound', 'not-found'],
    [404, undefined, 'not-found'],
    [409, 'Conflict', 'conflict'],
    [409, 'OperationNotAllowed', 'conflict'],
    [500, 'InternalExecutionError', 'transient'],
    [503, 'ServiceUnavailable', 'transient'],
    [401, 'AuthenticationFailed', 'fatal'],
    [403, 'AuthorizationFailed', 'fatal'],
    [400, 'InvalidParameter', 'fatal'],
  ])('classifies HTTP %s %s as %s', (status, code, kind) => {
    expect(classifyAzureError(restError(status, code, 'cloud says no'), context).kind).toBe(kind);
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'REQUEST_SEND_ERROR'])(
    'classifies the transport failure %s as transient',
    (code) => {
      expect(classifyAzureError(restError(undefined, code, 'socket hang up'), context).kind).toBe(
        'transient',
      );
    },
  );

  it('passes a ProviderError through unchanged', () => {
    const original = new ProviderError('throttled', 'budget spent', { retryAfterMs: 100 });
    expect(classifyAzureError(original, context)).toBe(original);
  });

  it('classifies anything unknown as fatal', () => {
    expect(classifyAzureError(new TypeError('x is not a function'), context).kind).toBe('fatal');
    expect(classifyAzureError('a string', context).kind).toBe('fatal');
  });

  it('never carries the request (and its Authorization header) or a token in the message or cause', () => {
    const error = classifyAzureError(
      restError(
        400,
        'InvalidAuthenticationToken',
        'The token eyJhbGciOi.eyJzdWIiOiJ4.c2lnbmF0dXJl is invalid',
      ),
      context,
    );
    const everything = `${error.message} ${JSON.stringify(error)} ${inspect(error, { depth: 10 })}`;
    expect(everything).not.toContain('eyJhbGciOi');
    expect(error.cause).toEqual({
      name: 'RestError',
      code: 'InvalidAuthenticationToken',
      statusCode: 400,
      message: 'The token <redacted-token> is invalid',
    });
  });

  it('names the operation and resource in the message', () => {
    const error = classifyAzureError(restError(404, 'ResourceNotFound', 'gone'), context);
    expect(error.message).toBe(
      `Azure start of ${context.resource} failed (HTTP 404): ResourceNotFound: gone`,
    );
  });
});

describe('scrubSecrets', () => {
  it('redacts bearer tokens, JWTs and signature query parameters but keeps ordinary words', () => {
    expect(scrubSecrets('Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123')).toBe(
      'Authorization: Bearer <redacted>',
    );
    expect(scrubSecrets('https://x/y?sv=1&sig=abc%2Fdef&se=2')).toBe('https://x/y?sv=1&sig=<redacted>&se=2');
    expect(scrubSecrets('Bearer token authentication is not permitted')).toBe(
      'Bearer token authentication is not permitted',
    );
  });
});
