import { parseApiKeys } from '../auth/apiKeys';
import type { AuthSettings } from '../auth/authenticate';
import { webhookKey } from '../auth/standardWebhooks';
import { loadCloudConfig, type CloudConfig } from './cloudConfig';
import { readStorageConnection, sameStorageAccount, type StorageConnection } from './storageConnection';

/** The control plane's configuration: read once from the environment, validated, frozen. */
export interface Config {
  /**
   * Azure Storage for cluster state (`AzureWebJobsStorage`, the Functions host's own account): a connection string,
   * or identity-based (`AzureWebJobsStorage__tableServiceUri`, `__blobServiceUri`, `__credential`, `__clientId`).
   * Never logged (a connection string holds a key).
   */
  readonly storage: StorageConnection;
  /**
   * The witness account (`WitnessStorage`, or `WitnessStorage__blobServiceUri` + `__credential` + `__clientId`);
   * ideally in a third region. Defaults to the state account.
   */
  readonly witnessStorage: StorageConnection;
  /** Whether the witness is in the state account (the same connection string or the same blob endpoint). */
  readonly witnessSharesStateAccount: boolean;
  /** Master key from which every node key is derived (`NODE_KEY_MASTER`, base64, ≥ 32 bytes). Never logged. */
  readonly nodeKeyMaster: Buffer;
  /** Prefix of every table name (`TABLE_PREFIX`), to keep deployments or tests apart in one account. */
  readonly tablePrefix: string;
  /** How far an agent's request timestamp may be from ours (`AGENT_CLOCK_TOLERANCE_MS`, default 60 s). */
  readonly agentClockToleranceMs: number;
  /** Largest accepted agent request body (`AGENT_MAX_BODY_BYTES`, default 64 KiB). */
  readonly agentMaxBodyBytes: number;
  /** Azure and OCI access for the compute providers (see cloudConfig.ts). */
  readonly cloud: CloudConfig;
  /**
   * The Standard Webhooks secrets (`whsec_<base64>`) of `POST /api/v1/webhooks/failover`
   * (`FAILOVER_WEBHOOK_SECRETS`, comma separated: more than one while rotating). Empty: the endpoint is off.
   * Never logged.
   */
  readonly failoverWebhookSecrets: readonly string[];
  /** Operator authentication: `AUTH_TRUST_CLIENT_PRINCIPAL` and `AUTH_KEYS` (shared/auth/authenticate.ts). */
  readonly auth: AuthSettings;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'InvalidConfiguration';
  readonly retryable = false;
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

function integer(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name} must be an integer from ${min} to ${max}`);
    return fallback;
  }
  return value;
}

/** `FAILOVER_WEBHOOK_SECRETS`: comma-separated `whsec_` secrets, each checked; a problem names its position only. */
function webhookSecrets(
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): readonly string[] {
  const secrets = (env.FAILOVER_WEBHOOK_SECRETS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  secrets.forEach((secret, index) => {
    try {
      webhookKey(secret);
    } catch (error) {
      // The RangeError's message never contains the secret.
      problems.push(`FAILOVER_WEBHOOK_SECRETS entry ${index + 1}: ${(error as Error).message}`);
    }
  });
  return Object.freeze(secrets);
}

export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const problems: string[] = [];
  const storage = readStorageConnection(
    env,
    'AzureWebJobsStorage',
    {
      table: 'required',
      blob: 'required',
      // The host's own queues (AzureWebJobsStorage__queueServiceUri): the app reads it only to check it.
      queue: 'optional',
      why: {
        table: 'cluster state is in tables of the state account',
        blob: 'drill reports (and the witness, unless WitnessStorage is set) are blobs in the state account',
      },
    },
    problems,
  );
  if (!storage)
    problems.push(
      'AzureWebJobsStorage is not set (an Azure Storage connection string, or AzureWebJobsStorage__tableServiceUri and __blobServiceUri with __credential=managedidentity)',
    );
  const witness =
    readStorageConnection(
      env,
      'WitnessStorage',
      { blob: 'required', why: { blob: 'the witness is a blob lease' } },
      problems,
    ) ?? storage;
  const masterText = env.NODE_KEY_MASTER?.trim() ?? '';
  const nodeKeyMaster = Buffer.from(masterText, 'base64');
  if (!masterText)
    problems.push(
      'NODE_KEY_MASTER is not set (base64 of at least 32 random bytes; node keys derive from it)',
    );
  else if (!/^[A-Za-z0-9+/]+={0,2}$/.test(masterText) || nodeKeyMaster.length < 32) {
    problems.push('NODE_KEY_MASTER must be base64 of at least 32 bytes');
  }
  const tablePrefix = env.TABLE_PREFIX?.trim() ?? '';
  if (tablePrefix && !/^[A-Za-z][A-Za-z0-9]{0,30}$/.test(tablePrefix))
    problems.push('TABLE_PREFIX must be letters and digits, starting with a letter');
  const agentClockToleranceMs = integer(env, 'AGENT_CLOCK_TOLERANCE_MS', 60_000, 1000, 3_600_000, problems);
  const agentMaxBodyBytes = integer(env, 'AGENT_MAX_BODY_BYTES', 64 * 1024, 1024, 1024 * 1024, problems);
  const cloud = loadCloudConfig(env, problems);
  const failoverWebhookSecrets = webhookSecrets(env, problems);
  const trust = env.AUTH_TRUST_CLIENT_PRINCIPAL?.trim().toLowerCase() ?? '';
  if (trust && trust !== 'true' && trust !== 'false')
    problems.push('AUTH_TRUST_CLIENT_PRINCIPAL must be true or false');
  const auth: AuthSettings = Object.freeze({
    trustClientPrincipal: trust === 'true',
    keys: parseApiKeys(env.AUTH_KEYS, problems),
  });
  if (problems.length > 0 || !storage || !witness) throw new ConfigError(problems);
  return Object.freeze({
    cloud,
    storage: Object.freeze(storage),
    witnessStorage: Object.freeze(witness),
    witnessSharesStateAccount: sameStorageAccount(storage, witness),
    nodeKeyMaster,
    tablePrefix,
    agentClockToleranceMs,
    agentMaxBodyBytes,
    failoverWebhookSecrets,
    auth,
  });
}

let current: Config | undefined;

/** The process configuration, loaded on first use. The only place that reads `process.env`. */
export function getConfig(): Config {
  current ??= loadConfig(process.env);
  return current;
}
