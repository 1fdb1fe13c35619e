import { ConfigError, loadConfig } from '../../../shared/config/config';
import { blobEndpointOf, sameStorageAccount } from '../../../shared/config/storageConnection';

const master = { NODE_KEY_MASTER: Buffer.alloc(32, 1).toString('base64') };
const CLIENT_ID = '11111111-2222-3333-4444-555555555555';
const KEYED =
  'DefaultEndpointsProtocol=https;AccountName=stateacct;AccountKey=c2VjcmV0LWtleQ==;EndpointSuffix=core.windows.net';
const stateIdentity = {
  AzureWebJobsStorage__credential: 'managedidentity',
  AzureWebJobsStorage__clientId: CLIENT_ID,
  AzureWebJobsStorage__tableServiceUri: 'https://stateacct.table.core.windows.net',
  AzureWebJobsStorage__blobServiceUri: 'https://stateacct.blob.core.windows.net/',
  AzureWebJobsStorage__queueServiceUri: 'https://stateacct.queue.core.windows.net',
};

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig({ ...master, ...env });
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
};

describe('storage settings: connection string or identity (the Functions host’s <name>__… form)', () => {
  it('reads connection strings as before; the witness defaults to the state account', () => {
    const config = loadConfig({ ...master, AzureWebJobsStorage: 'UseDevelopmentStorage=true' });
    expect(config.storage).toEqual({ kind: 'connectionString', value: 'UseDevelopmentStorage=true' });
    expect(config.witnessStorage).toEqual(config.storage);
    expect(config.witnessSharesStateAccount).toBe(true);
    const separate = loadConfig({
      ...master,
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      WitnessStorage: KEYED.replace('stateacct', 'witnessacct'),
    });
    expect(separate.witnessStorage).toEqual({
      kind: 'connectionString',
      value: KEYED.replace('stateacct', 'witnessacct'),
    });
    expect(separate.witnessSharesStateAccount).toBe(false);
  });

  it('reads the identity form of both settings', () => {
    const config = loadConfig({
      ...master,
      ...stateIdentity,
      WitnessStorage__blobServiceUri: 'https://witnessacct.blob.core.windows.net',
      WitnessStorage__credential: 'ManagedIdentity', // case-insensitive, as in the host
      WitnessStorage__clientId: CLIENT_ID,
    });
    expect(config.storage).toEqual({
      kind: 'identity',
      credential: 'managedidentity',
      clientId: CLIENT_ID,
      tableServiceUri: 'https://stateacct.table.core.windows.net',
      blobServiceUri: 'https://stateacct.blob.core.windows.net',
      queueServiceUri: 'https://stateacct.queue.core.windows.net',
    });
    expect(config.witnessStorage).toEqual({
      kind: 'identity',
      credential: 'managedidentity',
      clientId: CLIENT_ID,
      blobServiceUri: 'https://witnessacct.blob.core.windows.net',
    });
    expect(config.witnessSharesStateAccount).toBe(false);
    expect(Object.isFrozen(config.storage)).toBe(true);
  });

  it('takes an absent __credential as the managed identity (system-assigned without a clientId), as the host does', () => {
    const {
      AzureWebJobsStorage__credential: _c,
      AzureWebJobsStorage__clientId: _id,
      ...rest
    } = stateIdentity;
    const config = loadConfig({ ...master, ...rest });
    expect(config.storage).toMatchObject({ kind: 'identity', credential: 'managedidentity' });
    expect(config.storage).not.toHaveProperty('clientId');
  });

  it('lets the connection string win when both forms are set (the host’s precedence)', () => {
    const config = loadConfig({
      ...master,
      ...stateIdentity,
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    });
    expect(config.storage).toEqual({ kind: 'connectionString', value: 'UseDevelopmentStorage=true' });
    // Even a broken identity form is ignored then: the host never reads it.
    expect(
      problemsOf({
        AzureWebJobsStorage: 'UseDevelopmentStorage=true',
        AzureWebJobsStorage__credential: 'password',
      }),
    ).toEqual([]);
  });

  it('knows the witness shares the state account whatever form each is written in', () => {
    expect(
      loadConfig({
        ...master,
        ...stateIdentity,
        WitnessStorage__blobServiceUri: 'https://STATEACCT.blob.core.windows.net',
      }).witnessSharesStateAccount,
    ).toBe(true);
    expect(loadConfig({ ...master, ...stateIdentity }).witnessSharesStateAccount).toBe(true);
    expect(loadConfig({ ...master, ...stateIdentity, WitnessStorage: KEYED }).witnessSharesStateAccount).toBe(
      true,
    );
    expect(
      loadConfig({ ...master, AzureWebJobsStorage: KEYED, WitnessStorage: 'UseDevelopmentStorage=true' })
        .witnessSharesStateAccount,
    ).toBe(false);
    expect(blobEndpointOf({ kind: 'connectionString', value: 'UseDevelopmentStorage=true' })).toBe(
      'http://127.0.0.1:10000/devstoreaccount1',
    );
    expect(
      sameStorageAccount(
        {
          kind: 'connectionString',
          value: 'BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=1',
        },
        {
          kind: 'identity',
          credential: 'managedidentity',
          blobServiceUri: 'https://a.blob.core.windows.net',
        },
      ),
    ).toBe(true);
  });

  it('names every problem of the identity form by its setting, never showing a value', () => {
    const problems = problemsOf({
      AzureWebJobsStorage__credential: 'clientsecret',
      AzureWebJobsStorage__clientId: 'not-a-guid',
      AzureWebJobsStorage__blobServiceUri: 'http://stateacct.blob.core.windows.net',
      AzureWebJobsStorage__queueServiceUri: 'https://stateacct.queue.core.windows.net?sv=secret-sas',
      WitnessStorage__credential: 'managedidentity',
      WitnessStorage__tableServiceUri: 'not a url', // not a witness setting: never read
    });
    expect(problems).toEqual([
      expect.stringMatching(
        /^AzureWebJobsStorage__tableServiceUri is required for an identity-based AzureWebJobsStorage.*tables/,
      ),
      expect.stringContaining('AzureWebJobsStorage__blobServiceUri must be an https URL'),
      expect.stringContaining('AzureWebJobsStorage__queueServiceUri must be the service endpoint only'),
      expect.stringContaining('AzureWebJobsStorage__credential must be managedidentity'),
      expect.stringContaining('AzureWebJobsStorage__clientId must be the client id (a GUID)'),
      expect.stringMatching(
        /^WitnessStorage__blobServiceUri is required for an identity-based WitnessStorage/,
      ),
    ]);
    const text = problems.join('\n');
    expect(text).not.toContain('secret-sas');
    expect(text).not.toContain('clientsecret');
    expect(text).not.toContain('not-a-guid');
  });

  it('needs a blob URI for the state account too (drill reports, and the witness by default)', () => {
    expect(
      problemsOf({
        AzureWebJobsStorage__credential: 'managedidentity',
        AzureWebJobsStorage__tableServiceUri: 'https://stateacct.table.core.windows.net',
      }),
    ).toEqual([expect.stringMatching(/^AzureWebJobsStorage__blobServiceUri is required.*drill reports/)]);
  });

  it('says what to set when neither form is there, and refuses a value that is no connection string', () => {
    expect(problemsOf({})).toEqual([
      expect.stringMatching(/^AzureWebJobsStorage is not set .*AzureWebJobsStorage__tableServiceUri/),
    ]);
    expect(problemsOf({ AzureWebJobsStorage: 'https://stateacct.table.core.windows.net' })).toEqual([
      expect.stringContaining('AzureWebJobsStorage is not a storage connection string'),
    ]);
    expect(problemsOf({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', WitnessStorage: 'nope' })).toEqual(
      [expect.stringContaining('WitnessStorage is not a storage connection string')],
    );
    expect(
      problemsOf({
        AzureWebJobsStorage: 'UseDevelopmentStorage=true',
        WitnessStorage__blobServiceUri: 'not a url',
      }),
    ).toEqual([expect.stringContaining('WitnessStorage__blobServiceUri is not a URL')]);
  });
});
