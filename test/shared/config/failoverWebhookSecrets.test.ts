import { ConfigError, loadConfig } from '../../../shared/config/config';

const base = {
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  NODE_KEY_MASTER: Buffer.alloc(32, 1).toString('base64'),
};
const secret = (fill: number) => `whsec_${Buffer.alloc(32, fill).toString('base64')}`;

it('is off (no secrets) when FAILOVER_WEBHOOK_SECRETS is unset or blank', () => {
  expect(loadConfig(base).failoverWebhookSecrets).toEqual([]);
  expect(loadConfig({ ...base, FAILOVER_WEBHOOK_SECRETS: ' , ' }).failoverWebhookSecrets).toEqual([]);
});

it('reads one or more comma-separated whsec_ secrets, trimmed, frozen', () => {
  const config = loadConfig({ ...base, FAILOVER_WEBHOOK_SECRETS: ` ${secret(1)} ,${secret(2)},` });
  expect(config.failoverWebhookSecrets).toEqual([secret(1), secret(2)]);
  expect(Object.isFrozen(config.failoverWebhookSecrets)).toBe(true);
});

it('refuses a secret that is not whsec_ base64 of 24-512 bytes, naming its position and never its value', () => {
  const short = `whsec_${Buffer.alloc(8, 3).toString('base64')}`;
  const notBase64 = 'whsec_not*base64*at*all';
  let problems: string[] = [];
  try {
    loadConfig({ ...base, FAILOVER_WEBHOOK_SECRETS: `${secret(1)},${short},${notBase64}` });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems = error.problems;
  }
  expect(problems).toEqual([
    expect.stringMatching(/^FAILOVER_WEBHOOK_SECRETS entry 2: .*24-512 bytes \(found 8\)/),
    expect.stringMatching(/^FAILOVER_WEBHOOK_SECRETS entry 3: .*base64/),
  ]);
  const text = problems.join('\n');
  for (const value of [secret(1), short, notBase64, short.slice(6), 'not*base64'])
    expect(text).not.toContain(value);
});
