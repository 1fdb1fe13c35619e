import { TableClient, TableServiceClient, type TableServiceClientOptions } from '@azure/data-tables';
import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { BlobServiceClient, type IHttpClient, type StoragePipelineOptions } from '@azure/storage-blob';
import type { IdentityStorageConnection, StorageConnection } from '../config/storageConnection';

/**
 * What the composition root may pass to the storage clients besides the configuration — never read from the
 * environment: tests inject a credential and HTTP transports here to see what an identity-based client sends.
 */
export interface StorageClientOptions {
  /** The credential of identity-based connections; default `ManagedIdentityCredential` (the connection's clientId). */
  credential?: TokenCredential;
  /** The HTTP transport of the table clients (default: the SDK's). */
  httpClient?: NonNullable<TableServiceClientOptions['httpClient']>;
  /** The HTTP transport of the blob clients (the blob SDK takes the older request-policy shape). */
  blobHttpClient?: IHttpClient;
}

/** The scope storage tokens are requested for (both SDKs ask for it; the fake transports in tests check it). */
export const STORAGE_TOKEN_SCOPE = 'https://storage.azure.com/.default';

/** Builds the credential of an identity-based connection: a managed identity, user-assigned when a clientId is set. */
export type StorageCredentialFactory = (connection: IdentityStorageConnection) => TokenCredential;

export const managedIdentityCredential: StorageCredentialFactory = (connection) =>
  new ManagedIdentityCredential(connection.clientId ? { clientId: connection.clientId } : {});

const credentialFor = (connection: IdentityStorageConnection, options: StorageClientOptions) =>
  options.credential ?? managedIdentityCredential(connection);

/** Azurite and other plain-HTTP endpoints are allowed for connection strings only (identity needs https). */
const insecureAllowed = (connectionString: string) =>
  /UseDevelopmentStorage|http:\/\/|DefaultEndpointsProtocol=http(;|$)/i.test(connectionString);

export class MissingStorageEndpointError extends Error {
  override readonly name = 'MissingStorageEndpointError';
  constructor(service: 'table' | 'blob') {
    super(`the identity-based storage connection has no ${service}ServiceUri`);
  }
}

/** A table of the account. */
export function createTableClient(
  connection: StorageConnection,
  table: string,
  options: StorageClientOptions = {},
): TableClient {
  const http = options.httpClient ? { httpClient: options.httpClient } : {};
  if (connection.kind === 'connectionString')
    return TableClient.fromConnectionString(connection.value, table, {
      allowInsecureConnection: insecureAllowed(connection.value),
      ...http,
    });
  if (!connection.tableServiceUri) throw new MissingStorageEndpointError('table');
  return new TableClient(connection.tableServiceUri, table, credentialFor(connection, options), http);
}

/** The account's table service (health probes list tables through it). */
export function createTableServiceClient(
  connection: StorageConnection,
  clientOptions: TableServiceClientOptions = {},
  options: StorageClientOptions = {},
): TableServiceClient {
  const http = options.httpClient ? { httpClient: options.httpClient } : {};
  if (connection.kind === 'connectionString')
    return TableServiceClient.fromConnectionString(connection.value, {
      allowInsecureConnection: insecureAllowed(connection.value),
      ...clientOptions,
      ...http,
    });
  if (!connection.tableServiceUri) throw new MissingStorageEndpointError('table');
  return new TableServiceClient(connection.tableServiceUri, credentialFor(connection, options), {
    ...clientOptions,
    ...http,
  });
}

/** The account's blob service. */
export function createBlobServiceClient(
  connection: StorageConnection,
  pipelineOptions: StoragePipelineOptions = {},
  options: StorageClientOptions = {},
): BlobServiceClient {
  const merged = {
    ...pipelineOptions,
    ...(options.blobHttpClient ? { httpClient: options.blobHttpClient } : {}),
  };
  if (connection.kind === 'connectionString')
    return BlobServiceClient.fromConnectionString(connection.value, merged);
  if (!connection.blobServiceUri) throw new MissingStorageEndpointError('blob');
  return new BlobServiceClient(connection.blobServiceUri, credentialFor(connection, options), merged);
}
