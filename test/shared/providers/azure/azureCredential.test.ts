import { inspect } from 'node:util';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { createAzureCredential } from '../../../../shared/providers/azure/azureCredential';
import { StaticTokenCredential } from '../../../../shared/providers/azure/staticTokenCredential';

describe('StaticTokenCredential', () => {
  it('hands out its token as a bearer token that expires after its lifetime', async () => {
    const credential = new StaticTokenCredential('sim-token', { lifetimeMs: 1000, now: () => 5000 });
    await expect(credential.getToken()).resolves.toEqual({
      token: 'sim-token',
      expiresOnTimestamp: 6000,
      tokenType: 'Bearer',
    });
  });

  it('does not show its token when serialized, inspected or printed', () => {
    const credential = new StaticTokenCredential('very-secret-token');
    const shown = `${JSON.stringify({ credential })} ${inspect(credential)} ${String(credential)}`;
    expect(shown).not.toContain('very-secret-token');
    expect(shown).toContain('StaticTokenCredential');
  });

  it('refuses an empty token', () => {
    expect(() => new StaticTokenCredential('  ')).toThrow(TypeError);
  });
});

describe('createAzureCredential', () => {
  it('builds a managed identity credential, system- or user-assigned', () => {
    expect(createAzureCredential({ kind: 'managed-identity' })).toBeInstanceOf(ManagedIdentityCredential);
    expect(
      createAzureCredential({ kind: 'managed-identity', clientId: '11111111-2222-3333-4444-555555555555' }),
    ).toBeInstanceOf(ManagedIdentityCredential);
  });

  it('builds DefaultAzureCredential for workstations and Azure alike', () => {
    expect(
      createAzureCredential({ kind: 'default', tenantId: '11111111-2222-3333-4444-555555555555' }),
    ).toBeInstanceOf(DefaultAzureCredential);
  });

  it('builds a static credential for the simulator', () => {
    expect(createAzureCredential({ kind: 'static', token: 't' })).toBeInstanceOf(StaticTokenCredential);
  });
});
