import { readFileSync } from 'node:fs';
import path from 'node:path';
import { encodeClientPrincipal } from '../../../shared/auth/clientPrincipal';
import { paths } from '../../../shared/contracts/routes';
import { request } from '../../helpers/durableHttp';
import { startControlPlane, type ControlPlane } from '../../helpers/controlPlane';
import { waitFor } from '../../helpers/waitFor';

/**
 * POST /api/v1/webhooks/azure-monitor/secure behind the devhost's emulated App Service Authentication: the action
 * groups' application gets a bearer token from the emulated tenant and the platform turns it into a principal with
 * the `ActionGroupsSecureWebhook` role, as in Azure. Same cluster and alerts as azureMonitorWebhook.test.ts.
 */

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(path.resolve(__dirname, '../../fixtures/alerts', `${name}.json`), 'utf8'));
const vm = (name: string) =>
  `/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/hpc-rg/providers/Microsoft.Compute/virtualMachines/${name}`;

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane({ AUTH_TRUST_CLIENT_PRINCIPAL: 'true' });
  const declared = await request(`${cp.host.url}${paths.cluster('mon')}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: {
      id: 'mon',
      kind: 'active-passive',
      nodes: [
        {
          id: 'head-a',
          role: 'active',
          site: { cloud: 'azure', region: 'westeurope' },
          compute: { kind: 'azure-vm', resourceId: vm('head-a') },
        },
        {
          id: 'head-b',
          role: 'standby',
          site: { cloud: 'azure', region: 'northeurope' },
          compute: { kind: 'azure-vm', resourceId: vm('head-b') },
        },
      ],
    },
  });
  expect(declared.status).toBe(201);
});
afterAll(async () => {
  await cp?.stop();
});

/** A token for an application of the emulated tenant (the devhost's stand-in for Entra's token endpoint). */
async function tokenFor(clientId: string): Promise<{ status: number; token?: string }> {
  const response = await fetch(`${cp.host.url}/.auth/devhost/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: clientId }).toString(),
  });
  const body = (await response.json()) as { access_token?: string };
  return { status: response.status, ...(body.access_token ? { token: body.access_token } : {}) };
}

const secure = (body: unknown, headers: Record<string, string> = {}) =>
  request(`${cp.host.url}${paths.webhookAzureMonitorSecure()}`, { method: 'POST', body, headers });
const failovers = async () =>
  (
    (await request(`${cp.host.url}${paths.operations('mon')}`, { key: cp.functionKey })).json
      .operations as any[]
  ).filter((o) => o.kind === 'failover');

async function signedInAdmin(): Promise<string> {
  const response = await fetch(`${cp.host.url}/.auth/login/aad`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ user: 'admin@example.test', post_login_redirect_uri: '/' }).toString(),
    redirect: 'manual',
  });
  return (response.headers.get('set-cookie') ?? '').split(';')[0] as string;
}

it('refuses callers without the role or without a platform principal, starting nothing', async () => {
  const alert = fixture('metric-vm-fired');
  // No principal at all.
  expect(await secure(alert)).toMatchObject({
    status: 401,
    json: {
      error: { code: 'Unauthenticated', message: expect.stringContaining('ActionGroupsSecureWebhook') },
    },
  });
  // A function key is not a principal: this route takes none (the key route does).
  expect(await secure(alert, { 'x-functions-key': cp.adminKey })).toMatchObject({ status: 401 });
  // A forged principal with the role is stripped by the (emulated) front end.
  const forged = encodeClientPrincipal({
    name: 'mallory',
    objectId: 'forged',
    roles: ['ActionGroupsSecureWebhook'],
  });
  expect(await secure(alert, { 'x-ms-client-principal': forged })).toMatchObject({ status: 401 });
  // A bearer token the platform did not issue.
  expect(await secure(alert, { authorization: 'Bearer not-a-token' })).toMatchObject({
    status: 401,
    json: { error: { code: 'InvalidToken' } },
  });
  // A signed-in admin is a principal, but without the app role: 403 naming it.
  expect(await secure(alert, { cookie: await signedInAdmin() })).toMatchObject({
    status: 403,
    json: { error: { code: 'MissingRole', requiredRole: 'ActionGroupsSecureWebhook' } },
  });
  expect((await tokenFor('someone-else')).status).toBe(400);
  expect(await failovers()).toEqual([]);
});

it('accepts the action group with the role: the same failover as the key route, de-duplicated across both', async () => {
  const { status, token } = await tokenFor('azns-aad-webhook');
  expect(status).toBe(200);
  const bearer = { authorization: `Bearer ${token}` };
  // Bad input is refused the same way as on the key route.
  expect((await secure('{"schemaId": ', bearer)).status).toBe(400);
  const resolved = await secure(fixture('metric-vm-resolved'), bearer);
  expect(resolved).toMatchObject({ status: 200, json: { alert: { condition: 'Resolved' }, operations: [] } });

  const answers = await Promise.all(
    Array.from({ length: 3 }, () => secure(fixture('metric-vm-fired'), bearer)),
  );
  for (const answer of answers) expect(answer.status).toBe(202);
  const ids = new Set(answers.map((a) => a.json.operations[0].operationId as string));
  expect(ids.size).toBe(1);
  expect(answers.filter((a) => a.json.operations[0].started)).toHaveLength(1);
  const [operationId] = [...ids];
  const started = await waitFor(
    async () => {
      const list = await failovers();
      return list.length > 0 ? list : undefined;
    },
    { timeoutMs: 15_000, description: 'the failover operation' },
  );
  expect(started).toHaveLength(1);
  expect(started[0]).toMatchObject({ operationId, trigger: { kind: 'webhook' }, actor: 'azure-monitor' });

  // The same alert through the function-key route (unchanged) is the same operation, not a second failover.
  const viaKey = await request(`${cp.host.url}${paths.webhookAzureMonitor()}`, {
    method: 'POST',
    body: fixture('metric-vm-fired'),
    key: cp.functionKey,
  });
  expect([200, 202]).toContain(viaKey.status);
  if (viaKey.status === 202)
    expect(viaKey.json.operations.map((o: { operationId: string }) => o.operationId)).toEqual([operationId]);
  expect(await failovers()).toHaveLength(1);
});
