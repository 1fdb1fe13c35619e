import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { failoverWebhookAnswerSchema } from '../../shared/contracts/failoverWebhook';
import { paths } from '../../shared/contracts/routes';
import { request } from '../helpers/durableHttp';
import { startControlPlane, twoNodeCluster, type ControlPlane } from '../helpers/controlPlane';

const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
/** The README's shell example of signing a failover webhook. */
const example = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
  .map((m) => m[1] ?? '')
  .find((block) => block.includes('/api/v1/webhooks/failover'));

let cp: ControlPlane;
const secret = `whsec_${randomBytes(32).toString('base64')}`;
beforeAll(async () => {
  cp = await startControlPlane({ FAILOVER_WEBHOOK_SECRETS: secret });
  const declared = await request(`${cp.host.url}${paths.cluster('bcm-head')}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: twoNodeCluster('bcm-head'),
  });
  expect(declared.status).toBe(201);
});
afterAll(async () => {
  await cp.stop();
});

it("runs as shown: the README's signed curl request starts a failover", async () => {
  expect(example).toBeDefined();
  const placeholder = "SECRET='whsec_…' URL=http://localhost:7071";
  expect(example).toContain(placeholder);
  const script = (example ?? '').replace(placeholder, `SECRET='${secret}' URL=${cp.host.url}`);
  const { stdout } = await promisify(execFile)('bash', ['-euc', script], { timeout: 20_000 });
  const lines = stdout.trim().split('\n');
  // The first command prints a fresh secret of the form the configuration accepts.
  expect(lines[0]).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  const answer = failoverWebhookAnswerSchema.parse(JSON.parse(lines[lines.length - 1] ?? ''));
  expect(answer).toMatchObject({ clusterId: 'bcm-head', started: true, duplicate: false });
  expect(answer.operationId).toMatch(/^failover-wh-/);
});
