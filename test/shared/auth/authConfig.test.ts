import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from '../../../shared/config/config';

const base = {
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  NODE_KEY_MASTER: randomBytes(32).toString('base64'),
};

describe('configuration of operator authentication', () => {
  it('trusts the principal header only with AUTH_TRUST_CLIENT_PRINCIPAL=true, and has no key by default', () => {
    expect(loadConfig(base).auth).toEqual({ trustClientPrincipal: false, keys: [] });
    expect(loadConfig({ ...base, AUTH_TRUST_CLIENT_PRINCIPAL: 'TRUE' }).auth.trustClientPrincipal).toBe(true);
    expect(loadConfig({ ...base, AUTH_TRUST_CLIENT_PRINCIPAL: 'false' }).auth.trustClientPrincipal).toBe(
      false,
    );
  });

  it('lists a bad AUTH_TRUST_CLIENT_PRINCIPAL or AUTH_KEYS entry among the problems, without the key', () => {
    const secret = 'supersecretvalue-not-to-be-shown';
    let error: unknown;
    try {
      loadConfig({ ...base, AUTH_TRUST_CLIENT_PRINCIPAL: 'yes', AUTH_KEYS: `ci:owner:${secret}` });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'AUTH_TRUST_CLIENT_PRINCIPAL must be true or false',
      'AUTH_KEYS entry 1 (ci): the role must be viewer, operator or admin',
    ]);
    expect((error as ConfigError).message).not.toContain(secret);
  });
});
