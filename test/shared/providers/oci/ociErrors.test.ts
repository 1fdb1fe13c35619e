import { OciError } from 'oci-common';
import {
  classifyOciError,
  DEFAULT_OCI_RETRY_AFTER_MS,
  parseOciQuotaNumbers,
} from '../../../../shared/providers/oci/ociErrors';
import { ProviderError } from '../../../../shared/providers/providerError';

const now = Date.UTC(2030, 0, 1);
const context = { what: 'LaunchInstance BM.GPU.A100-v2.8', now };
const ociError = (status: number, code: string, message: string) =>
  new OciError(status, code, message, 'req-1', 'Compute', 'launchInstance', '', 'POST /instances', '');

describe('classifying OCI errors', () => {
  it('reads "Out of host capacity" as capacity, whatever the code it comes with', () => {
    const error = classifyOciError(ociError(500, 'InternalError', 'Out of host capacity.'), context);
    expect(error).toMatchObject({
      kind: 'capacity',
      cloudCode: 'InternalError',
      statusCode: 500,
      retryable: false,
    });
    expect(error.message).toBe('LaunchInstance BM.GPU.A100-v2.8: 500 InternalError Out of host capacity.');
    expect(error.cause).toBeInstanceOf(OciError);
    // As a failed work request reports it.
    expect(
      classifyOciError(ociError(400, 'None', 'Work request failed: Out of host capacity.'), context).kind,
    ).toBe('capacity');
  });

  it('reads LimitExceeded and QuotaExceeded as quota, with numbers only when the message has them', () => {
    const oracle = classifyOciError(
      ociError(
        400,
        'LimitExceeded',
        'The following service limits were exceeded: gpu-a100-v2-count. Request a service limit increase from the service limits page in the console.',
      ),
      context,
    );
    expect(oracle).toMatchObject({ kind: 'quota', cloudCode: 'LimitExceeded' });
    expect(oracle.quota).toBeUndefined();

    const simulated = classifyOciError(
      ociError(
        400,
        'LimitExceeded',
        'The following service limits were exceeded: gpu-a100-v2-count (limit 32, used 24, requested 16). Request ...',
      ),
      context,
    );
    expect(simulated.quota).toEqual({ scope: 'gpu-a100-v2-count', limit: 32, usage: 24, required: 16 });

    expect(
      classifyOciError(ociError(400, 'QuotaExceeded', 'Compartment quota exceeded.'), context).kind,
    ).toBe('quota');
  });

  it('parses the limit name and numbers of a limit message', () => {
    expect(parseOciQuotaNumbers('The following compartment quotas were exceeded: gpu-a10-count.')).toEqual({
      scope: 'gpu-a10-count',
    });
    expect(parseOciQuotaNumbers('Something else.')).toBeUndefined();
  });

  it('reads a 429 as throttled with Retry-After in seconds or as a date, else the default', () => {
    const tooMany = ociError(429, 'TooManyRequests', 'Too many requests for the tenancy.');
    expect(classifyOciError(tooMany, { ...context, retryAfter: '12' })).toMatchObject({
      kind: 'throttled',
      retryable: true,
      retryAfterMs: 12_000,
    });
    expect(
      classifyOciError(tooMany, { ...context, retryAfter: new Date(now + 3000).toUTCString() }).retryAfterMs,
    ).toBe(3000);
    expect(classifyOciError(tooMany, context).retryAfterMs).toBe(DEFAULT_OCI_RETRY_AFTER_MS);
    expect(classifyOciError(tooMany, { ...context, defaultRetryAfterMs: 250 }).retryAfterMs).toBe(250);
  });

  it('reads 404 as not-found and 409 as conflict, except an invalidated retry token', () => {
    expect(classifyOciError(ociError(404, 'NotAuthorizedOrNotFound', 'not found'), context).kind).toBe(
      'not-found',
    );
    expect(classifyOciError(ociError(409, 'IncorrectState', 'Instance is STOPPING'), context)).toMatchObject({
      kind: 'conflict',
      retryable: true,
    });
    expect(classifyOciError(ociError(409, 'Conflict', 'busy'), context).kind).toBe('conflict');
    expect(classifyOciError(ociError(409, 'InvalidatedRetryToken', 'gone'), context).kind).toBe('fatal');
  });

  it('reads an unavailable shape as sku-not-available', () => {
    const error = ociError(
      400,
      'InvalidParameter',
      'Shape VM.GPU.A10.1 is not available in availability domain AD-2.',
    );
    expect(classifyOciError(error, context).kind).toBe('sku-not-available');
  });

  it('reads other 5xx and transport failures as transient', () => {
    expect(classifyOciError(ociError(503, 'ServiceUnavailable', 'try later'), context)).toMatchObject({
      kind: 'transient',
      retryable: true,
    });
    // What the SDK rethrows when fetch gets no answer.
    const transport = {
      code: 'ECONNRESET',
      message: 'fetch failed',
      requestEndpoint: 'GET http://x/20160918/instances/y',
    };
    expect(classifyOciError(transport, context)).toMatchObject({ kind: 'transient', cause: transport });
    expect(
      classifyOciError({ statusCode: -1, serviceCode: 'None', message: 'no status' }, context).kind,
    ).toBe('transient');
  });

  it('reads authentication, authorization and bad requests as fatal, and so anything unrecognised', () => {
    expect(classifyOciError(ociError(401, 'NotAuthenticated', 'bad signature'), context)).toMatchObject({
      kind: 'fatal',
      retryable: false,
    });
    expect(classifyOciError(ociError(403, 'NotAllowed', 'home region only'), context).kind).toBe('fatal');
    expect(classifyOciError(ociError(400, 'InvalidParameter', 'bad subnet'), context).kind).toBe('fatal');
    expect(classifyOciError(new TypeError('x is not a function'), context).kind).toBe('fatal');
  });

  it('passes a ProviderError through unchanged', () => {
    const original = new ProviderError('timeout', 'late');
    expect(classifyOciError(original, context)).toBe(original);
  });
});
