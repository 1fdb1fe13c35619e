import {
  createHttpHeaders,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { ManagedIdentityCredential } from '@azure/identity';
import type { IHttpClient } from '@azure/storage-blob';
import { loadConfig } from '../../../shared/config/config';
import { createServices } from '../../../shared/services/services';
import {
  createBlobServiceClient,
  createTableClient,
  managedIdentityCredential,
  MissingStorageEndpointError,
  STORAGE_TOKEN_SCOPE,
} from '../../../shared/stores/storageClients';
import { probeStorage } from '../../../shared/stores/probeStorage';

/**
 * The identity form of the storage settings, end to end down to the wire: the Azure SDK clients are built as in
 * production (createServices), with a fake credential and fake HTTP transports injected through the factory
 * options. Each request is recorded and answered from a script; nothing reaches a network.
 */

const TOKEN = 'fake-entra-token-for-storage';
const STATE_TABLES = 'https://stateacct.table.core.windows.net';
const STATE_BLOBS = 'https://stateacct.blob.core.windows.net';
const WITNESS_BLOBS = 'https://witnessacct.blob.core.windows.net';
const CLIENT_ID = '11111111-2222-3333-4444-555555555555';

const identityEnv = {
  AzureWebJobsStorage__credential: 'managedidentity',
  AzureWebJobsStorage__clientId: CLIENT_ID,
  AzureWebJobsStorage__tableServiceUri: STATE_TABLES,
  AzureWebJobsStorage__blobServiceUri: STATE_BLOBS,
  AzureWebJobsStorage__queueServiceUri: 'https://stateacct.queue.core.windows.net',
  WitnessStorage__credential: 'managedidentity',
  WitnessStorage__clientId: CLIENT_ID,
  WitnessStorage__blobServiceUri: WITNESS_BLOBS,
  NODE_KEY_MASTER: Buffer.alloc(32, 7).toString('base64'),
};

interface Recorded {
  method: string;
  url: URL;
  authorization: string | undefined;
  headers: Record<string, string>;
}

interface Canned {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A credential that hands out one token and records the scopes asked for. */
function fakeCredential(): TokenCredential & { scopes: string[][] } {
  const scopes: string[][] = [];
  return {
    scopes,
    getToken(requested: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
      scopes.push(Array.isArray(requested) ? requested : [requested]);
      return Promise.resolve({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 });
    },
  };
}

/** The table SDK's transport (core-rest-pipeline `HttpClient`): records, then answers from `answer`. */
function fakeTableTransport(answer: (r: Recorded) => Canned): HttpClient & { requests: Recorded[] } {
  const requests: Recorded[] = [];
  return {
    requests,
    sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      const recorded: Recorded = {
        method: request.method,
        url: new URL(request.url),
        authorization: request.headers.get('authorization'),
        headers: request.headers.toJSON(),
      };
      requests.push(recorded);
      const canned = answer(recorded);
      return Promise.resolve({
        request,
        status: canned.status,
        headers: createHttpHeaders(canned.headers ?? {}),
        ...(canned.body !== undefined ? { bodyAsText: canned.body } : {}),
      });
    },
  };
}

/** The blob SDK's transport (the older request-policy shape it takes as `httpClient`): the same recording. */
function fakeBlobTransport(answer: (r: Recorded) => Canned): IHttpClient & { requests: Recorded[] } {
  const requests: Recorded[] = [];
  const client = {
    requests,
    sendRequest(webResource: any): Promise<any> {
      const recorded: Recorded = {
        method: webResource.method,
        url: new URL(webResource.url),
        authorization: webResource.headers.get('authorization') ?? undefined,
        headers: webResource.headers.toJson(),
      };
      requests.push(recorded);
      const canned = answer(recorded);
      const headers = { 'x-ms-request-id': 'r1', 'x-ms-version': '2025-01-05', ...(canned.headers ?? {}) };
      return Promise.resolve({
        request: webResource,
        status: canned.status,
        headers: {
          toJson: () => headers,
          get: (name: string) =>
            Object.entries(headers).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1],
        },
        ...(canned.body !== undefined ? { bodyAsText: canned.body } : {}),
      });
    },
  };
  return client;
}

const entity = (partitionKey: string, rowKey: string) =>
  JSON.stringify({
    'odata.metadata': `${STATE_TABLES}/$metadata#Clusters/@Element`,
    'odata.etag': `W/"datetime'2026-12-01T00%3A00%3A00.0000000Z'"`,
    PartitionKey: partitionKey,
    RowKey: rowKey,
    Timestamp: '2026-12-01T00:00:00.0000000Z',
    note: 'hello',
  });

describe('identity-based storage (AzureWebJobsStorage__* and WitnessStorage__*)', () => {
  it('reads a table of the state account with a bearer token for the storage scope, at the configured host', async () => {
    const config = loadConfig(identityEnv);
    const credential = fakeCredential();
    const tables = fakeTableTransport(() => ({
      status: 200,
      headers: { 'content-type': 'application/json;odata=minimalmetadata', etag: 'W/"x"' },
      body: entity('p', 'r'),
    }));
    const services = createServices(config, () => 0, { storage: { credential, httpClient: tables } });

    const read = await services.tables.clusters.getEntity<{ note: string }>('p', 'r');

    expect(read.note).toBe('hello');
    expect(tables.requests).toHaveLength(1);
    const [request] = tables.requests;
    expect(request?.method).toBe('GET');
    expect(request?.url.origin).toBe(STATE_TABLES);
    expect(request?.url.pathname).toBe("/Clusters(PartitionKey='p',RowKey='r')");
    expect(request?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(credential.scopes).toContainEqual([STORAGE_TOKEN_SCOPE]);
  });

  it('takes the witness lease in the witness account with a bearer token (a different host from the state account)', async () => {
    const config = loadConfig(identityEnv);
    expect(config.witnessSharesStateAccount).toBe(false);
    const credential = fakeCredential();
    const blobs = fakeBlobTransport((r): Canned => {
      if (r.url.searchParams.get('comp') === 'lease')
        return {
          status: 201,
          headers: {
            'x-ms-lease-id': r.headers['x-ms-proposed-lease-id'] ?? '',
            etag: '"0x1"',
            'last-modified': 'Tue, 01 Dec 2026 00:00:00 GMT',
          },
        };
      // The witness record is created first (if-none-match: *): here it exists already.
      return { status: 409, headers: { 'x-ms-error-code': 'BlobAlreadyExists' } };
    });
    const services = createServices(config, () => Date.parse('2026-12-01T00:00:00Z'), {
      storage: { credential, blobHttpClient: blobs },
    });

    const lease = await services.witness.acquire('c1', 'test-decider');

    const leaseCall = blobs.requests.find((r) => r.url.searchParams.get('comp') === 'lease');
    expect(leaseCall).toBeDefined();
    expect(leaseCall?.method).toBe('PUT');
    expect(leaseCall?.url.origin).toBe(WITNESS_BLOBS);
    expect(leaseCall?.url.pathname).toBe('/failover-witness/clusters/c1.json');
    expect(leaseCall?.headers['x-ms-lease-action']).toBe('acquire');
    expect(leaseCall?.headers['x-ms-proposed-lease-id']).toBe(lease.leaseId);
    for (const request of blobs.requests) {
      expect(request.url.origin).toBe(WITNESS_BLOBS);
      expect(request.authorization).toBe(`Bearer ${TOKEN}`);
    }
    expect(credential.scopes).toContainEqual([STORAGE_TOKEN_SCOPE]);
  });

  it('writes drill reports to the state account blob endpoint, not the witness one', async () => {
    const config = loadConfig(identityEnv);
    const blobs = fakeBlobTransport(() => ({ status: 201, headers: { etag: '"0x1"' } }));
    const services = createServices(config, () => 0, {
      storage: { credential: fakeCredential(), blobHttpClient: blobs },
    });
    await services.drills.ensureContainer();
    expect(blobs.requests.map((r) => `${r.method} ${r.url.origin}${r.url.pathname}`)).toEqual([
      `PUT ${STATE_BLOBS}/drill-reports`,
    ]);
    expect(blobs.requests[0]?.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('probes the state account (health) through the identity too', async () => {
    const config = loadConfig(identityEnv);
    const tables = fakeTableTransport(() => ({
      status: 200,
      headers: { 'content-type': 'application/json;odata=minimalmetadata' },
      body: JSON.stringify({ value: [] }),
    }));
    const probe = await probeStorage(config.storage, {
      clients: { credential: fakeCredential(), httpClient: tables },
    });
    expect(probe).toMatchObject({ reachable: true });
    expect(tables.requests[0]?.url.origin).toBe(STATE_TABLES);
    expect(tables.requests[0]?.url.pathname).toBe('/Tables');
    expect(tables.requests[0]?.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('keeps connection strings as they were: shared-key signatures, Azurite over plain HTTP, no token asked for', async () => {
    const credential = fakeCredential();
    const tables = fakeTableTransport(() => ({
      status: 200,
      headers: { 'content-type': 'application/json;odata=minimalmetadata' },
      body: entity('p', 'r'),
    }));
    const client = createTableClient(
      { kind: 'connectionString', value: 'UseDevelopmentStorage=true' },
      'Clusters',
      { credential, httpClient: tables },
    );
    await client.getEntity('p', 'r');
    expect(tables.requests[0]?.url.origin).toBe('http://127.0.0.1:10002');
    expect(tables.requests[0]?.authorization).toMatch(/^SharedKeyLite devstoreaccount1:/);
    expect(credential.scopes).toEqual([]);
  });

  it('builds a managed identity credential (user-assigned with the clientId) by default', () => {
    expect(
      managedIdentityCredential({ kind: 'identity', credential: 'managedidentity', clientId: CLIENT_ID }),
    ).toBeInstanceOf(ManagedIdentityCredential);
    expect(() =>
      createBlobServiceClient({
        kind: 'identity',
        credential: 'managedidentity',
        tableServiceUri: STATE_TABLES,
      }),
    ).toThrow(MissingStorageEndpointError);
  });
});
