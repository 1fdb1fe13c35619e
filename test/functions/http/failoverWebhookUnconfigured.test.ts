import { randomBytes } from 'node:crypto';
import { signStandardWebhook } from '../../../shared/auth/standardWebhooks';
import { paths } from '../../../shared/contracts/routes';
import { request } from '../../helpers/durableHttp';
import { startControlPlane, twoNodeCluster, type ControlPlane } from '../../helpers/controlPlane';

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
  const declared = await request(`${cp.host.url}${paths.cluster('off')}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: twoNodeCluster('off'),
  });
  expect(declared.status).toBe(201);
});
afterAll(async () => {
  await cp.stop();
});

it('answers 501 WebhookNotConfigured, naming the setting, when FAILOVER_WEBHOOK_SECRETS is unset', async () => {
  const body = JSON.stringify({ clusterId: 'off', reason: 'nobody configured me' });
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const r = await request(`${cp.host.url}${paths.webhookFailover()}`, {
    method: 'POST',
    body,
    raw: true,
    headers: {
      'webhook-id': 'msg_unconfigured',
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signStandardWebhook(secret, 'msg_unconfigured', timestamp, body),
    },
  });
  expect(r.status).toBe(501);
  expect(r.json.error).toMatchObject({ code: 'WebhookNotConfigured' });
  expect(r.json.error.message).toContain('FAILOVER_WEBHOOK_SECRETS');
  const ops = await request(`${cp.host.url}${paths.operations('off')}`, { key: cp.functionKey });
  expect(ops.json.operations).toEqual([]);
});
