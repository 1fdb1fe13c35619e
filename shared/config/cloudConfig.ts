import type { AzureCredentialConfig } from '../providers/azure/azureCredential';

/** Cloud access for the compute providers; each cloud is optional (absent: operations on it fail clearly). */
export interface CloudConfig {
  azure?: {
    subscriptionId: string;
    /** ARM base URL (`AZURE_ARM_ENDPOINT`): Azure's by default; the cloud simulator's locally. */
    endpoint?: string;
    credential: AzureCredentialConfig;
  };
  oci?: {
    tenancy: string;
    user: string;
    fingerprint: string;
    /** PEM text (`OCI_PRIVATE_KEY`) or a file (`OCI_PRIVATE_KEY_FILE`). Never logged. */
    privateKey?: string;
    privateKeyPath?: string;
    compartmentId: string;
    /** `OCI_ENDPOINT_TEMPLATE` with `{region}`, e.g. the simulator's `http://127.0.0.1:P/oci/{region}`. */
    endpointTemplate?: string;
  };
}

type Env = Readonly<Record<string, string | undefined>>;

const text = (env: Env, name: string) => env[name]?.trim() || undefined;

/** Reads the cloud settings; problems are appended to `problems` (each naming the setting, never its value). */
export function loadCloudConfig(env: Env, problems: string[]): CloudConfig {
  const cloud: CloudConfig = {};
  const subscriptionId = text(env, 'AZURE_SUBSCRIPTION_ID');
  if (subscriptionId) {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(subscriptionId))
      problems.push('AZURE_SUBSCRIPTION_ID must be a subscription GUID');
    const kind = text(env, 'AZURE_CREDENTIAL') ?? 'managed-identity';
    let credential: AzureCredentialConfig | undefined;
    if (kind === 'managed-identity') {
      const clientId = text(env, 'AZURE_MANAGED_IDENTITY_CLIENT_ID');
      credential = { kind, ...(clientId ? { clientId } : {}) };
    } else if (kind === 'default') credential = { kind: 'default' };
    else if (kind === 'static') {
      const token = text(env, 'AZURE_STATIC_TOKEN');
      if (!token)
        problems.push(
          'AZURE_STATIC_TOKEN is required when AZURE_CREDENTIAL=static (the local cloud simulator)',
        );
      credential = { kind: 'static', token: token ?? '' };
    } else problems.push('AZURE_CREDENTIAL must be managed-identity, default or static');
    const endpoint = text(env, 'AZURE_ARM_ENDPOINT');
    if (endpoint && !/^https?:\/\/[^\s]+$/.test(endpoint)) problems.push('AZURE_ARM_ENDPOINT must be a URL');
    if (credential) cloud.azure = { subscriptionId, credential, ...(endpoint ? { endpoint } : {}) };
  }
  const tenancy = text(env, 'OCI_TENANCY_OCID');
  if (tenancy) {
    const required = {
      user: 'OCI_USER_OCID',
      fingerprint: 'OCI_KEY_FINGERPRINT',
      compartmentId: 'OCI_COMPARTMENT_OCID',
    } as const;
    const values: Partial<Record<keyof typeof required, string>> = {};
    for (const [field, name] of Object.entries(required) as [keyof typeof required, string][]) {
      const value = text(env, name);
      if (!value) problems.push(`${name} is required when OCI_TENANCY_OCID is set`);
      else values[field] = value;
    }
    const privateKey = env.OCI_PRIVATE_KEY?.trim() ? env.OCI_PRIVATE_KEY.replace(/\\n/g, '\n') : undefined;
    const privateKeyPath = text(env, 'OCI_PRIVATE_KEY_FILE');
    if (!privateKey && !privateKeyPath)
      problems.push('OCI_PRIVATE_KEY or OCI_PRIVATE_KEY_FILE is required when OCI_TENANCY_OCID is set');
    const endpointTemplate = text(env, 'OCI_ENDPOINT_TEMPLATE');
    if (endpointTemplate && !endpointTemplate.includes('{region}'))
      problems.push('OCI_ENDPOINT_TEMPLATE must contain {region}');
    cloud.oci = {
      tenancy,
      user: values.user ?? '',
      fingerprint: values.fingerprint ?? '',
      compartmentId: values.compartmentId ?? '',
      ...(privateKey ? { privateKey } : {}),
      ...(privateKeyPath ? { privateKeyPath } : {}),
      ...(endpointTemplate ? { endpointTemplate } : {}),
    };
  }
  return cloud;
}
