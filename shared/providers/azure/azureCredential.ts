import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { StaticTokenCredential } from './staticTokenCredential';

/**
 * How the control plane authenticates to Azure Resource Manager:
 * - `managed-identity`: the Function App's system-assigned identity, or a user-assigned one by `clientId` — the
 *   production choice (no secret to store or rotate);
 * - `default`: `DefaultAzureCredential` (managed identity in Azure, developer credentials — Azure CLI, VS Code,
 *   environment — on a workstation);
 * - `static`: a fixed token, for the local cloud simulator only.
 */
export type AzureCredentialConfig =
  | { kind: 'managed-identity'; clientId?: string }
  | { kind: 'default'; managedIdentityClientId?: string; tenantId?: string }
  | { kind: 'static'; token: string };

export function createAzureCredential(config: AzureCredentialConfig): TokenCredential {
  switch (config.kind) {
    case 'managed-identity':
      return config.clientId
        ? new ManagedIdentityCredential({ clientId: config.clientId })
        : new ManagedIdentityCredential();
    case 'default':
      return new DefaultAzureCredential({
        ...(config.managedIdentityClientId
          ? { managedIdentityClientId: config.managedIdentityClientId }
          : {}),
        ...(config.tenantId ? { tenantId: config.tenantId } : {}),
      });
    case 'static':
      return new StaticTokenCredential(config.token);
  }
}
