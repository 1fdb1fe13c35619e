import { HttpRequest, InvocationContext } from '@azure/functions';
import { encodeClientPrincipal } from '../../../shared/auth/clientPrincipal';
import { connectionStringFor } from '../../../devhost/storage/startAzurite';
import { waitFor } from '../../helpers/waitFor';

/**
 * The secure webhook in-process, with storage that does not answer: once the caller is authorized, a temporary
 * failure is 503 with Retry-After (which action groups retry), exactly as on the function-key route — and the caller
 * check comes first, so an unauthorized caller is 401/403 whatever the state of storage.
 */

const principal = (roles: string[]) =>
  encodeClientPrincipal({ name: 'azns', objectId: '00000000-0000-0000-0000-0000000000aa', roles });

const alert = JSON.stringify({ schemaId: 'azureMonitorCommonAlertSchema', data: {} });

function post(headers: Record<string, string>): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: 'http://localhost/api/v1/webhooks/azure-monitor/secure',
    headers: { 'content-type': 'application/json', ...headers },
    body: { string: alert },
  });
}

const SETTINGS = ['AzureWebJobsStorage', 'NODE_KEY_MASTER', 'AUTH_TRUST_CLIENT_PRINCIPAL'] as const;
let saved: Record<string, string | undefined>;
const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
let baselineTimers = 0;
beforeAll(() => {
  baselineTimers = timers();
  saved = Object.fromEntries(SETTINGS.map((k) => [k, process.env[k]]));
  process.env.AzureWebJobsStorage = connectionStringFor('127.0.0.1', { blob: 1, queue: 1, table: 1 });
  process.env.NODE_KEY_MASTER = Buffer.alloc(32, 7).toString('base64');
  process.env.AUTH_TRUST_CLIENT_PRINCIPAL = 'true';
});
afterAll(async () => {
  // The 503 answered at the first failure; the SDKs' other calls go on retrying for a few seconds. Let them end
  // (their retry timers gone) so no timer outlives the file.
  await waitFor(() => timers() <= baselineTimers + 1, {
    timeoutMs: 30_000,
    intervalMs: 100,
    description: 'the storage SDKs to stop retrying the dead account',
  });
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

it('answers 503 with Retry-After when storage is unavailable, after checking the caller first', async () => {
  // Imported outside a host, @azure/functions warns that it skips the registration: expected here.
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  const { azureMonitorSecureWebhook } = await import('../../../functions/http/azureMonitorWebhook');
  warn.mockRestore();
  const context = () =>
    new InvocationContext({ invocationId: 'test', functionName: 'azureMonitorSecureWebhook' });
  const log = jest.spyOn(console, 'info').mockImplementation(() => undefined);
  const warnings = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    const unavailable = await azureMonitorSecureWebhook(
      post({ 'x-ms-client-principal': principal(['ActionGroupsSecureWebhook']) }),
      context(),
    );
    expect(unavailable).toMatchObject({
      status: 503,
      headers: { 'retry-after': expect.any(String) },
      jsonBody: { error: { code: 'TemporarilyUnavailable' } },
    });
    // A role claim typed by the principal's role_typ (not `roles`) counts too.
    const byRoleType = Buffer.from(
      JSON.stringify({
        auth_typ: 'aad',
        claims: [
          { typ: 'oid', val: '00000000-0000-0000-0000-0000000000bb' },
          { typ: 'urn:example:role', val: 'ActionGroupsSecureWebhook' },
        ],
        role_typ: 'urn:example:role',
      }),
    ).toString('base64');
    expect(
      await azureMonitorSecureWebhook(post({ 'x-ms-client-principal': byRoleType }), context()),
    ).toMatchObject({ status: 503 });
    expect(
      await azureMonitorSecureWebhook(post({ 'x-ms-client-principal': principal(['admin']) }), context()),
    ).toMatchObject({ status: 403, jsonBody: { error: { requiredRole: 'ActionGroupsSecureWebhook' } } });
    expect(await azureMonitorSecureWebhook(post({}), context())).toMatchObject({ status: 401 });
  } finally {
    log.mockRestore();
    warnings.mockRestore();
  }
});
