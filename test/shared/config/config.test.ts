import { ConfigError, loadConfig } from '../../../shared/config/config';

const base = {
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  NODE_KEY_MASTER: Buffer.alloc(32, 1).toString('base64'),
};
const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
};

describe('configuration', () => {
  it('accepts the minimum and freezes it', () => {
    const config = loadConfig(base);
    expect(Object.isFrozen(config)).toBe(true);
    expect(config).toMatchObject({
      witnessSharesStateAccount: true,
      tablePrefix: '',
      agentClockToleranceMs: 60_000,
      cloud: {},
    });
  });

  it('lists every problem, naming settings and never their values', () => {
    const secret = 'c2VjcmV0';
    const problems = problemsOf({
      NODE_KEY_MASTER: secret,
      TABLE_PREFIX: '1bad',
      AGENT_MAX_BODY_BYTES: 'lots',
    });
    expect(problems).toEqual([
      expect.stringContaining('AzureWebJobsStorage is not set'),
      expect.stringContaining('NODE_KEY_MASTER must be base64 of at least 32 bytes'),
      expect.stringContaining('TABLE_PREFIX'),
      expect.stringContaining('AGENT_MAX_BODY_BYTES'),
    ]);
    expect(problems.join(' ')).not.toContain(secret);
  });

  it('reads Azure and OCI settings, and lists what a partial cloud configuration lacks', () => {
    const azure = loadConfig({
      ...base,
      AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000001',
      AZURE_CREDENTIAL: 'static',
      AZURE_STATIC_TOKEN: 't',
      AZURE_ARM_ENDPOINT: 'http://127.0.0.1:1',
    });
    expect(azure.cloud.azure).toEqual({
      subscriptionId: '00000000-0000-0000-0000-000000000001',
      credential: { kind: 'static', token: 't' },
      endpoint: 'http://127.0.0.1:1',
    });
    expect(
      problemsOf({ ...base, AZURE_SUBSCRIPTION_ID: 'not-a-guid', AZURE_CREDENTIAL: 'password' }),
    ).toEqual([
      expect.stringContaining('AZURE_SUBSCRIPTION_ID must be a subscription GUID'),
      expect.stringContaining('AZURE_CREDENTIAL must be'),
    ]);
    expect(
      problemsOf({ ...base, OCI_TENANCY_OCID: 'ocid1.tenancy.oc1..x', OCI_ENDPOINT_TEMPLATE: 'http://x' }),
    ).toEqual([
      expect.stringContaining('OCI_USER_OCID'),
      expect.stringContaining('OCI_KEY_FINGERPRINT'),
      expect.stringContaining('OCI_COMPARTMENT_OCID'),
      expect.stringContaining('OCI_PRIVATE_KEY'),
      expect.stringContaining('{region}'),
    ]);
  });
});
