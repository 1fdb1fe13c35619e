/**
 * How the app reaches a storage account: a connection string (Azurite locally, CI) or an identity-based connection
 * (Azure: a managed identity, no keys). Read from the settings the way the Functions host reads a connection named
 * `<name>`: the value of `<name>` itself is a connection string; otherwise `<name>__tableServiceUri`,
 * `<name>__blobServiceUri`, `<name>__queueServiceUri`, `<name>__credential` and `<name>__clientId` describe an
 * identity-based connection. When both are set the connection string wins, as in the host (the Azure SDK's client
 * factory treats a section that has a value as a connection string and ignores its children).
 */
export type StorageConnection =
  | { kind: 'connectionString'; value: string }
  | {
      kind: 'identity';
      tableServiceUri?: string;
      blobServiceUri?: string;
      queueServiceUri?: string;
      /** Only a managed identity (the host's `managedidentity`); absent in the settings means the same. */
      credential: 'managedidentity';
      /** A user-assigned identity's client id; absent: the system-assigned identity. */
      clientId?: string;
    };

export type IdentityStorageConnection = Extract<StorageConnection, { kind: 'identity' }>;

type Env = Readonly<Record<string, string | undefined>>;

type Service = 'table' | 'blob' | 'queue';

/**
 * The services the app reads for a connection: `required` ones must have a URI in the identity form (a missing one is
 * a problem naming the setting); `optional` ones are read when set; others are not read at all.
 */
export type StorageNeeds = Partial<Record<Service, 'required' | 'optional'>> & {
  /** Why, appended to a missing URI's problem (e.g. "drill reports are blobs in the state account"). */
  why?: Partial<Record<Service, string>>;
};

const SERVICES: readonly Service[] = ['table', 'blob', 'queue'];

const text = (env: Env, name: string) => env[name]?.trim() || undefined;

/** Whether `<name>` is a storage connection string (Key=Value;… with an account or endpoints). */
export const looksLikeConnectionString = (value: string): boolean =>
  value === 'UseDevelopmentStorage=true' || /AccountName=|BlobEndpoint=|TableEndpoint=/i.test(value);

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An https URL with a host and nothing after the path (no query: a SAS token does not belong here). */
function serviceUri(env: Env, setting: string, problems: string[]): string | undefined {
  const value = text(env, setting);
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${setting} is not a URL (expected https://<account>.<service>.core.windows.net)`);
    return undefined;
  }
  if (url.protocol !== 'https:') {
    problems.push(`${setting} must be an https URL (identity-based connections send tokens only over TLS)`);
    return undefined;
  }
  if (url.search || url.hash || url.username || url.password) {
    problems.push(`${setting} must be the service endpoint only, without a query, fragment or credentials`);
    return undefined;
  }
  return value.replace(/\/+$/, '');
}

/**
 * Reads the connection named `name`; problems (each naming its setting, never a value) go to `problems`.
 * Undefined when nothing at all is set (the caller decides whether that is a problem or a default).
 */
export function readStorageConnection(
  env: Env,
  name: string,
  needs: StorageNeeds,
  problems: string[],
): StorageConnection | undefined {
  const value = text(env, name);
  if (value !== undefined) {
    if (!looksLikeConnectionString(value))
      problems.push(
        `${name} is not a storage connection string (expected Key=Value;... with AccountName or endpoints)`,
      );
    return { kind: 'connectionString', value };
  }
  const services = SERVICES.filter((service) => needs[service] !== undefined);
  const settings = [...services.map((service) => `${service}ServiceUri`), 'credential', 'clientId'];
  if (!settings.some((suffix) => text(env, `${name}__${suffix}`) !== undefined)) return undefined;
  const uris: Partial<Record<Service, string>> = {};
  for (const service of services) {
    const setting = `${name}__${service}ServiceUri`;
    if (text(env, setting) !== undefined) {
      const uri = serviceUri(env, setting, problems);
      if (uri) uris[service] = uri;
    } else if (needs[service] === 'required') {
      const why = needs.why?.[service];
      problems.push(
        `${setting} is required for an identity-based ${name} (https://<account>.${service}.core.windows.net)${why ? `: ${why}` : ''}`,
      );
    }
  }
  const credential = text(env, `${name}__credential`);
  if (credential !== undefined && credential.toLowerCase() !== 'managedidentity')
    problems.push(
      `${name}__credential must be managedidentity (the only credential the app uses for storage in Azure)`,
    );
  const clientId = text(env, `${name}__clientId`);
  if (clientId !== undefined && !GUID.test(clientId))
    problems.push(`${name}__clientId must be the client id (a GUID) of a user-assigned managed identity`);
  return {
    kind: 'identity',
    credential: 'managedidentity',
    ...(uris.table ? { tableServiceUri: uris.table } : {}),
    ...(uris.blob ? { blobServiceUri: uris.blob } : {}),
    ...(uris.queue ? { queueServiceUri: uris.queue } : {}),
    ...(clientId && GUID.test(clientId) ? { clientId } : {}),
  };
}

/** `Key=Value;…` as a case-insensitive map (keys lower-cased). */
function connectionStringParts(value: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) parts.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return parts;
}

/** Azurite's well-known development account (what `UseDevelopmentStorage=true` means). */
const DEVELOPMENT_BLOB_ENDPOINT = 'http://127.0.0.1:10000/devstoreaccount1';

/** The blob endpoint of a connection (lower-cased, no trailing slash): what identifies its account for blobs. */
export function blobEndpointOf(connection: StorageConnection): string | undefined {
  if (connection.kind === 'identity') return connection.blobServiceUri?.toLowerCase().replace(/\/+$/, '');
  if (connection.value.trim() === 'UseDevelopmentStorage=true') return DEVELOPMENT_BLOB_ENDPOINT;
  const parts = connectionStringParts(connection.value);
  const explicit = parts.get('blobendpoint');
  if (explicit) return explicit.toLowerCase().replace(/\/+$/, '');
  const account = parts.get('accountname');
  if (!account) return undefined;
  const protocol = parts.get('defaultendpointsprotocol') ?? 'https';
  const suffix = parts.get('endpointsuffix') ?? 'core.windows.net';
  return `${protocol}://${account}.blob.${suffix}`.toLowerCase();
}

/**
 * Whether two connections reach the same account: the same connection string, or the same blob endpoint (however
 * each is written — a connection string and an identity-based connection to one account are the same account).
 */
export function sameStorageAccount(a: StorageConnection, b: StorageConnection): boolean {
  if (a.kind === 'connectionString' && b.kind === 'connectionString' && a.value === b.value) return true;
  const endpointA = blobEndpointOf(a);
  return endpointA !== undefined && endpointA === blobEndpointOf(b);
}
