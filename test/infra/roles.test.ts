import fs from 'node:fs';
import path from 'node:path';
import { bodyOf, conditionOf, loopOf, property, textOf, type Token } from './bicepReader';
import { REPO_ROOT, moduleTarget, readInfra, roleDefinitions } from './infraFiles';

/**
 * Every role the user-assigned identity gets, where, and why the code needs it. The test compares this table with
 * the role assignments found in infra/: a role assigned that is not here, or here but not assigned, fails.
 */
const NEEDED: readonly { role: string; at: string; why: string }[] = [
  {
    role: 'Storage Blob Data Owner',
    at: 'app/rbac.bicep: state',
    why: 'The Functions host (AzureWebJobsStorage__blobServiceUri: keys, locks, timer leases) and Flex Consumption deployment read and write the app-package container; Owner as the Flex docs and the quickstart require for the host.',
  },
  {
    role: 'Storage Table Data Contributor',
    at: 'app/rbac.bicep: state',
    why: 'The cluster state tables (shared/stores on AzureWebJobsStorage__tableServiceUri), and the Durable Storage backend history/instances tables.',
  },
  {
    role: 'Storage Queue Data Contributor',
    at: 'app/rbac.bicep: state',
    why: 'The Durable Storage backend control/work-item queues (durableBackend = storage); with the scheduler the Functions host still uses the queue service of AzureWebJobsStorage (the quickstart keeps this role for that reason).',
  },
  {
    role: 'Storage Blob Data Contributor',
    at: 'app/rbac.bicep: witness',
    why: 'The cloud witness: creates its container and blob, acquires/renews/breaks blob leases (WitnessStorage__blobServiceUri). Contributor, not Owner: no ACL management.',
  },
  {
    role: 'Key Vault Secrets User',
    at: 'app/rbac.bicep: vault',
    why: 'The platform resolves the Key Vault references of NODE_KEY_MASTER, AUTH_KEYS, FAILOVER_WEBHOOK_SECRETS and OCI_PRIVATE_KEY with keyVaultReferenceIdentity = this identity. Read-only.',
  },
  {
    role: 'Monitoring Metrics Publisher',
    at: 'app/rbac.bicep: applicationInsights if appInsightsEntraAuth',
    why: 'Application Insights with local auth disabled accepts telemetry only with an Entra token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).',
  },
  {
    role: 'Durable Task Data Contributor',
    at: "main.bicep: module dtsAccess → app/dts-Access.bicep if durableBackend == 'scheduler'",
    why: 'The Durable extension talks to the scheduler and its task hub (DURABLE_TASK_SCHEDULER_CONNECTION_STRING, Authentication=ManagedIdentity).',
  },
  {
    role: 'Virtual Machine Contributor',
    at: 'main.bicep: module clusterAccess → core/security/resourceGroupRoleAssignment.bicep for each protectedResourceGroupIds',
    why: 'The Azure compute provider starts, deallocates, powers off and reads VMs and scale set instances of the protected clusters (see ARM_OPERATIONS).',
  },
  {
    role: 'Reader',
    at: 'main.bicep: module usageAccess → core/security/subscriptionRoleAssignment.bicep for each readerSubscriptionIds',
    why: 'The spillover planner reads compute usages and resource SKUs per region (subscription-level reads).',
  },
];

/** The ARM operations of the Azure compute provider, and the role that grants each. */
const ARM_OPERATIONS: Record<string, string> = {
  'virtualMachines.start': 'Virtual Machine Contributor',
  'virtualMachines.deallocate': 'Virtual Machine Contributor',
  'virtualMachines.powerOff': 'Virtual Machine Contributor',
  'virtualMachines.instanceView': 'Virtual Machine Contributor',
  'virtualMachineScaleSets.get': 'Virtual Machine Contributor',
  'virtualMachineScaleSetVMs.list': 'Virtual Machine Contributor',
  'virtualMachineScaleSetVMs.start': 'Virtual Machine Contributor',
  'virtualMachineScaleSetVMs.deallocate': 'Virtual Machine Contributor',
  'virtualMachineScaleSetVMs.powerOff': 'Virtual Machine Contributor',
  'virtualMachineScaleSetVMs.getInstanceView': 'Virtual Machine Contributor',
  'usage.list': 'Reader',
  'resourceSkus.list': 'Reader',
};

/** GUID-shaped strings allowed in Bicep (not role ids). */
const OTHER_GUIDS: Record<string, string> = {
  '461e8683-5575-4561-ac7f-899cc907d62a':
    'appId of the "AzNS AAD Webhook" application (action group Secure Webhooks)',
};

const files = readInfra();
const table = roleDefinitions();

/** `roles['X']` / `roles.X` → 'X'; anything else → undefined. */
function roleName(tokens: readonly Token[] | undefined): string | undefined {
  if (!tokens) return undefined;
  const t = tokens.filter((x) => x.kind !== 'newline');
  if (t[0]?.text !== 'roles') return undefined;
  if (t[1]?.text === '[' && t[2]?.kind === 'string') return t[2].value;
  if (t[1]?.text === '.' && t[2]?.kind === 'ident') return t[2].text;
  return undefined;
}

interface Assignment {
  role: string;
  at: string;
}

function assignments(): Assignment[] {
  const found: Assignment[] = [];
  for (const [name, file] of files) {
    for (const resource of file.resources.filter(
      (r) => r.type === 'Microsoft.Authorization/roleAssignments',
    )) {
      const id = property(bodyOf(resource), 'properties', 'roleDefinitionId');
      const role = roleName(id?.filter((t) => t.kind !== 'newline').slice(4));
      const text = textOf(id ?? []);
      if (role === undefined) {
        // A generic module: its role comes from its roleDefinitionId parameter, checked where it is called.
        expect(`${name}:${resource.name}: ${text}`).toBe(
          `${name}:${resource.name}: subscriptionResourceId ( 'Microsoft.Authorization/roleDefinitions' , roleDefinitionId )`,
        );
        expect(file.params.some((p) => p.name === 'roleDefinitionId' && !p.hasDefault)).toBe(true);
        continue;
      }
      const scope = textOf(property(bodyOf(resource), 'scope') ?? []);
      const condition = conditionOf(resource);
      found.push({ role, at: `${name}: ${scope}${condition ? ` if ${condition}` : ''}` });
    }
    for (const module of file.modules) {
      const role = roleName(property(bodyOf(module), 'params', 'roleDefinitionId'));
      if (role === undefined) continue;
      const condition = conditionOf(module);
      const loop = loopOf(module);
      found.push({
        role,
        at: `${name}: module ${module.name} → ${moduleTarget(name, module)}${condition ? ` if ${condition}` : ''}${loop ? ` for each ${loop}` : ''}`,
      });
    }
  }
  return found;
}

describe("the managed identity's roles", () => {
  it('are exactly the ones the code needs, where it needs them', () => {
    const sort = (list: readonly Assignment[]) => [...list].map((a) => `${a.role} @ ${a.at}`).sort();
    expect(sort(assignments())).toEqual(sort(NEEDED));
  });

  it('come from the one role table, which holds exactly the needed roles with GUIDs', () => {
    expect(Object.keys(table).sort()).toEqual([...new Set(NEEDED.map((n) => n.role))].sort());
    for (const guid of Object.values(table))
      expect(guid).toMatch(/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/);
    // Well-known built-in role ids (docs: Azure built-in roles).
    expect(table['Reader']).toBe('acdd72a7-3385-48ef-bd42-f606fba81ae7');
    expect(table['Durable Task Data Contributor']).toBe('0ad04412-c4d5-4796-b79c-f76d14c8d402');
    for (const [name, file] of files) {
      for (const token of file.tokens.filter((t) => t.kind === 'string')) {
        for (const guid of token.text.match(
          /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi,
        ) ?? [])
          expect(`${name}: ${guid} ${guid in OTHER_GUIDS}`).toBe(`${name}: ${guid} true`);
      }
    }
  });

  it('go to the user-assigned identity only (no deployer or other principal)', () => {
    for (const [name, file] of files) {
      for (const resource of file.resources.filter(
        (r) => r.type === 'Microsoft.Authorization/roleAssignments',
      ))
        expect(`${name}: ${textOf(property(bodyOf(resource), 'properties', 'principalId') ?? [])}`).toBe(
          `${name}: principalId`,
        );
      for (const module of file.modules) {
        const principal = property(bodyOf(module), 'params', 'principalId');
        if (principal)
          expect(`${name}:${module.name}: ${textOf(principal)}`).toBe(
            `${name}:${module.name}: identity . outputs . principalId`,
          );
      }
    }
  });

  it('cover every ARM operation of the Azure compute provider (a new operation needs a row here and maybe a role)', () => {
    const source = fs.readFileSync(
      path.join(REPO_ROOT, 'shared', 'providers', 'azure', 'azureComputeProvider.ts'),
      'utf8',
    );
    const operations = [
      ...new Set([...source.matchAll(/this\.#client\.(\w+)\.(\w+)/g)].map((m) => `${m[1]}.${m[2]}`)),
    ];
    expect(operations.length).toBeGreaterThan(0);
    for (const operation of operations) {
      const role = ARM_OPERATIONS[operation];
      expect(`${operation}: ${role ?? 'no role'}`).toMatch(
        new RegExp(`^${operation.replace('.', '\\.')}: (${Object.keys(table).join('|')})$`),
      );
    }
  });
});
