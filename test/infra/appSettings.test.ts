import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../shared/config/config';
import { loadTelemetryConfig } from '../../shared/telemetry/telemetryConfig';
import { bodyOf, callArguments, objectVar, property, textOf } from './bicepReader';
import { REPO_ROOT, readInfra } from './infraFiles';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { hostJsonFor, BACKENDS } = require('../../scripts/hostJsonFor.cjs') as {
  hostJsonFor: (base: unknown, backend: string) => HostJson;
  BACKENDS: readonly string[];
};

type Env = Readonly<Record<string, string | undefined>>;
interface HostJson {
  extensions?: { durableTask?: { hubName?: string; storageProvider?: Record<string, string> } };
}

/**
 * The app's configuration loaders: each reads settings from an environment. The test runs every loader on the
 * environment the Bicep provides and records what it reads. Add a loader here when one is added to the app
 * (as loadTelemetryConfig from shared/telemetry/telemetryConfig.ts was).
 */
const LOADERS: readonly { name: string; load: (env: Env) => unknown }[] = [
  { name: 'loadConfig (shared/config/config.ts)', load: (env) => loadConfig(env) },
  {
    name: 'loadTelemetryConfig (shared/telemetry/telemetryConfig.ts)',
    load: (env) => loadTelemetryConfig(env),
  },
];

/** Settings a loader may read that the Bicep deliberately does not set in Azure, and why. */
const NOT_SET_IN_AZURE: Record<string, string> = {
  AzureWebJobsStorage:
    'connection-string form (local, CI on Azurite); Azure sets the identity form AzureWebJobsStorage__*',
  WitnessStorage: 'connection-string form (local, CI); Azure sets the identity form WitnessStorage__*',
  AZURE_ARM_ENDPOINT: 'the local cloud simulator only; Azure Resource Manager by default',
  AZURE_STATIC_TOKEN: 'the local cloud simulator credential (AZURE_CREDENTIAL=static) only',
  OCI_PRIVATE_KEY_FILE: 'file alternative of OCI_PRIVATE_KEY, which Azure sets as a Key Vault reference',
  OCI_ENDPOINT_TEMPLATE: 'the local cloud simulator only',
  AGENT_CLOCK_TOLERANCE_MS: 'tunable with a default (60 s)',
  AGENT_MAX_BODY_BYTES: 'tunable with a default (64 KiB)',
  OTEL_EXPORTER_OTLP_ENDPOINT: 'local telemetry export (Azure exports to Application Insights)',
  FAILOVERPLANE_TELEMETRY: 'local telemetry switch (console|off)',
};

/** Settings the Bicep sets for the Functions host or platform rather than for a loader, and why. */
const READ_BY_THE_HOST: Record<string, string> = {
  AzureWebJobsStorage__credential: 'Functions host storage (identity-based AzureWebJobsStorage)',
  AzureWebJobsStorage__clientId: 'Functions host storage (which user-assigned identity)',
  AzureWebJobsStorage__blobServiceUri: 'Functions host: keys, locks, timers; Durable Storage backend',
  AzureWebJobsStorage__queueServiceUri: 'Functions host; Durable Storage backend queues',
  AzureWebJobsStorage__tableServiceUri: 'Functions host; Durable Storage backend tables',
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'Functions host telemetry (telemetryMode OpenTelemetry)',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Functions host: Entra ID ingestion with the identity',
};

/** Plausible values standing in for what Azure resolves (endpoints, ids, Key Vault secrets). */
const GUID = '6a1f3c2e-8d4b-4f7a-9c2e-1b3d5f7a9c0e';
const SAMPLES: Record<string, string> = {
  AzureWebJobsStorage__clientId: GUID,
  AzureWebJobsStorage__blobServiceUri: 'https://stabc.blob.core.windows.net/',
  AzureWebJobsStorage__queueServiceUri: 'https://stabc.queue.core.windows.net/',
  AzureWebJobsStorage__tableServiceUri: 'https://stabc.table.core.windows.net/',
  WitnessStorage__blobServiceUri: 'https://stwabc.blob.core.windows.net/',
  WitnessStorage__clientId: GUID,
  AZURE_MANAGED_IDENTITY_CLIENT_ID: GUID,
  AZURE_SUBSCRIPTION_ID: '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9',
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: `Endpoint=https://dts-abc.westus2.durabletask.io;Authentication=ManagedIdentity;ClientID=${GUID}`,
  TASKHUB_NAME: 'th-abc',
  APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=${GUID};IngestionEndpoint=https://westus2-1.in.applicationinsights.azure.com/`,
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `ClientId=${GUID};Authorization=AAD`,
  NODE_KEY_MASTER: Buffer.alloc(48, 7).toString('base64'),
  AUTH_KEYS: 'automation:operator:0123456789abcdef0123456789',
  FAILOVER_WEBHOOK_SECRETS: `whsec_${Buffer.alloc(32, 9).toString('base64')}`,
  OCI_TENANCY_OCID: 'ocid1.tenancy.oc1..aaaaexample',
  OCI_USER_OCID: 'ocid1.user.oc1..aaaaexample',
  OCI_KEY_FINGERPRINT: '12:34:56:78:9a:bc:de:f0:12:34:56:78:9a:bc:de:f0',
  OCI_COMPARTMENT_OCID: 'ocid1.compartment.oc1..aaaaexample',
  OCI_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\\nMIIexample\\n-----END PRIVATE KEY-----',
  TABLE_PREFIX: 'fp',
};

/** Names whose value must be a Key Vault reference (secrets never in app settings in clear). */
const SECRETS = ['NODE_KEY_MASTER', 'AUTH_KEYS', 'FAILOVER_WEBHOOK_SECRETS', 'OCI_PRIVATE_KEY'];

interface BicepSetting {
  name: string;
  /** The Bicep value as token text (`'managedidentity'`, `identityClientId`, …). */
  value: string;
  /** The var's condition; undefined: always set. */
  condition?: string;
}

const files = readInfra();
const api = files.get('app/api.bicep');
if (!api) throw new Error('infra/app/api.bicep is missing');

/** The Function App's app settings: the vars merged by `union(…)` into the `appsettings` config resource. */
function bicepSettings(): BicepSetting[] {
  const configs = api!.resources.filter(
    (r) =>
      r.type === 'Microsoft.Web/sites/config' &&
      textOf(property(bodyOf(r), 'name') ?? []) === "'appsettings'",
  );
  expect(configs).toHaveLength(1);
  const parts = callArguments(property(bodyOf(configs[0]!), 'properties') ?? [], 'union');
  expect(parts.length).toBeGreaterThan(0);
  return parts.flatMap((part) => {
    const decl = api!.vars.find((v) => v.name === part);
    if (!decl) throw new Error(`appsettings merges ${part}, which is not a var of app/api.bicep`);
    const { keys, condition } = objectVar(decl);
    return keys.map((k) => ({ name: k.key, value: textOf(k.value), ...(condition ? { condition } : {}) }));
  });
}

const settings = bicepSettings();
const byName = new Map(settings.map((s) => [s.name, s]));

/** The value a setting has at run time in Azure: the Bicep literal, else a sample. */
function sampleOf(setting: BicepSetting): string {
  const literal = /^'([^'$]*)'$/.exec(setting.value);
  if (literal && !SECRETS.includes(setting.name)) return literal[1]!;
  const sample = SAMPLES[setting.name];
  if (sample === undefined) throw new Error(`no sample value for ${setting.name}: add one to SAMPLES`);
  return sample;
}

function envOf(filter: (s: BicepSetting) => boolean): Record<string, string> {
  return Object.fromEntries(settings.filter(filter).map((s) => [s.name, sampleOf(s)]));
}
const fullEnv = envOf(() => true);
const alwaysEnv = envOf((s) => s.condition === undefined);

/** Runs `load` on `env` behind a Proxy and returns the setting names it read (enumeration is reported as '*'). */
function readsOf(
  load: (env: Env) => unknown,
  env: Record<string, string>,
): { reads: Set<string>; error?: unknown } {
  const reads = new Set<string>();
  const proxy = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') reads.add(key);
      return typeof key === 'string' ? target[key] : undefined;
    },
    has(target, key) {
      if (typeof key === 'string') reads.add(key);
      return key in target;
    },
    ownKeys(target) {
      reads.add('*');
      return Reflect.ownKeys(target);
    },
  });
  try {
    load(proxy);
    return { reads };
  } catch (error) {
    return { reads, error };
  }
}

/** Setting names in host.json's Azure form for `backend`: connection names and %NAME% references. */
function hostJsonSettings(backend: string): string[] {
  const base = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'host.json'), 'utf8')) as unknown;
  const host = hostJsonFor(base, backend);
  const text = JSON.stringify(host);
  const names = [...text.matchAll(/%([A-Za-z0-9_]+)%/g)].map((m) => m[1]!);
  const provider = host.extensions?.durableTask?.storageProvider ?? {};
  if (provider.connectionStringName) names.push(provider.connectionStringName);
  if (backend === 'storage') names.push(provider.connectionName ?? 'AzureWebJobsStorage');
  return names;
}

/** Is `setting` set when durableBackend is `backend`? */
const setFor = (setting: BicepSetting | undefined, backend: string) =>
  !!setting && (setting.condition === undefined || setting.condition === `durableBackend == '${backend}'`);

describe('app settings (infra/app/api.bicep)', () => {
  it('are read from the appsettings resource, each set once', () => {
    expect(settings.length).toBeGreaterThan(10);
    expect(new Set(settings.map((s) => s.name)).size).toBe(settings.length);
  });

  it.each(LOADERS)(
    '$name reads only settings the Bicep sets or that are documented as not set in Azure',
    ({ load }) => {
      const { reads } = readsOf(load, fullEnv);
      expect(reads.has('*')).toBe(false); // a loader that enumerates the environment cannot be checked this way
      const unexplained = [...reads].filter((name) => !byName.has(name) && !(name in NOT_SET_IN_AZURE));
      expect(unexplained).toEqual([]);
    },
  );

  it('does not set what it documents as not set in Azure', () => {
    expect(Object.keys(NOT_SET_IN_AZURE).filter((name) => byName.has(name))).toEqual([]);
  });

  it('sets nothing nobody reads: each is read by a loader, host.json, or the Functions host', () => {
    const used = new Set<string>([...Object.keys(READ_BY_THE_HOST), ...BACKENDS.flatMap(hostJsonSettings)]);
    for (const { load } of LOADERS) for (const name of readsOf(load, fullEnv).reads) used.add(name);
    expect(settings.map((s) => s.name).filter((name) => !used.has(name))).toEqual([]);
  });

  it.each(['scheduler', 'storage'])(
    "provides the settings host.json's Azure form names (%s backend)",
    (backend) => {
      for (const name of hostJsonSettings(backend)) {
        if (name === 'AzureWebJobsStorage') {
          // The storage backend's connection, in its identity form.
          for (const suffix of [
            'credential',
            'clientId',
            'blobServiceUri',
            'queueServiceUri',
            'tableServiceUri',
          ])
            expect(`${name}__${suffix}: ${setFor(byName.get(`${name}__${suffix}`), backend)}`).toBe(
              `${name}__${suffix}: true`,
            );
        } else expect(`${name}: ${setFor(byName.get(name), backend)}`).toBe(`${name}: true`);
      }
    },
  );

  it('sets the scheduler settings only with the scheduler backend, with the identity in the connection string', () => {
    expect(byName.get('DURABLE_TASK_SCHEDULER_CONNECTION_STRING')?.condition).toBe(
      "durableBackend == 'scheduler'",
    );
    expect(byName.get('TASKHUB_NAME')?.condition).toBe("durableBackend == 'scheduler'");
    expect(byName.get('DURABLE_TASK_SCHEDULER_CONNECTION_STRING')?.value).toBe(
      "'Endpoint=${schedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'",
    );
  });

  it('uses the identity-based forms with the user-assigned identity, and no connection strings or keys', () => {
    for (const prefix of ['AzureWebJobsStorage', 'WitnessStorage']) {
      expect(byName.get(`${prefix}__credential`)?.value).toBe("'managedidentity'");
      expect(byName.get(`${prefix}__clientId`)?.value).toBe('identityClientId');
      expect(byName.get(`${prefix}__blobServiceUri`)?.condition).toBeUndefined();
    }
    expect(byName.get('AZURE_MANAGED_IDENTITY_CLIENT_ID')?.value).toBe('identityClientId');
    expect(byName.get('AZURE_CREDENTIAL')?.value).toBe("'managed-identity'");
    expect(byName.get('AUTH_TRUST_CLIENT_PRINCIPAL')?.value).toBe("'true'");
    for (const s of settings)
      expect(`${s.name}: ${/AccountKey|listKeys|SharedAccessSignature/i.test(s.value)}`).toBe(
        `${s.name}: false`,
      );
  });

  it('takes secrets from Key Vault references resolved with the user-assigned identity', () => {
    for (const name of SECRETS)
      expect(`${name}: ${byName.get(name)?.value}`).toMatch(
        new RegExp(`^${name}: '@Microsoft\\.KeyVault\\(SecretUri=\\$\\{\\w+\\}\\)'$`),
      );
    const site = api.resources.find((r) => r.type === 'Microsoft.Web/sites' && !r.existing);
    expect(textOf(property(bodyOf(site!), 'properties', 'keyVaultReferenceIdentity') ?? [])).toBe(
      'identityId',
    );
  });

  it('makes the optional settings conditional and the required ones unconditional', () => {
    for (const name of [
      'AUTH_KEYS',
      'FAILOVER_WEBHOOK_SECRETS',
      'OCI_TENANCY_OCID',
      'OCI_PRIVATE_KEY',
      'TABLE_PREFIX',
    ])
      expect(`${name}: ${byName.get(name)?.condition !== undefined}`).toBe(`${name}: true`);
    for (const name of [
      'NODE_KEY_MASTER',
      'AZURE_SUBSCRIPTION_ID',
      'WitnessStorage__blobServiceUri',
      'AzureWebJobsStorage__tableServiceUri',
    ])
      expect(`${name}: ${byName.get(name)?.condition}`).toBe(`${name}: undefined`);
  });

  // Optional settings are conditional in the Bicep (OCI_* only with ociTenancyOcid, AUTH_KEYS/FAILOVER_WEBHOOK_SECRETS
  // only when given, TABLE_PREFIX only when given): the loaders must accept the environment both without any of
  // them and with all of them.
  it.each(LOADERS)(
    '$name accepts the Azure environment, with and without the optional settings',
    ({ load }) => {
      for (const env of [alwaysEnv, fullEnv]) {
        const { error } = readsOf(load, env);
        expect(error instanceof ConfigError ? error.problems : error).toBeUndefined();
      }
    },
  );
});
