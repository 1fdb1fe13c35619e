import fs from 'node:fs';
import path from 'node:path';
import { bodyOf, objectProperties, property, type BicepFile } from './bicepReader';
import { INFRA_DIR, moduleTarget, readInfra } from './infraFiles';

// Structural checks of every Bicep file under infra/ (no Bicep CLI offline: see bicepReader.ts).
const files = readInfra();
const entries = [...files.entries()];

describe('infra/*.bicep', () => {
  it('finds the layout of the Durable Functions azd quickstart (main + app/ + core/ modules)', () => {
    expect(files.get('main.bicep')?.targetScope).toBe('subscription');
    expect([...files.keys()].some((f) => f.startsWith('app/'))).toBe(true);
    expect([...files.keys()].some((f) => f.startsWith('core/'))).toBe(true);
  });

  it.each(entries)('%s declares every resource with a type and an API version', (_name, file) => {
    for (const resource of file.resources) {
      if (resource.nested) continue;
      expect(`${resource.name}: ${resource.type}@${resource.apiVersion ?? '(none)'}`).toMatch(
        /^\w+: [A-Za-z]+\.[A-Za-z]+\/[A-Za-z/]+@(\d{4}-\d{2}-\d{2}(-preview)?|v1\.0)$/,
      );
    }
  });

  it.each(entries)(
    '%s: every module path exists, its params exist there and its required params are passed',
    (name, file) => {
      for (const module of file.modules) {
        const target = moduleTarget(name, module);
        expect(target).toBeDefined(); // no registry modules: everything here can be checked offline
        const targetFile = files.get(target ?? '');
        if (!targetFile) throw new Error(`${name}: module ${module.name} → ${module.path} does not exist`);
        const passed = objectProperties(property(bodyOf(module), 'params') ?? []).map((p) => p.key);
        const declared = targetFile.params.map((p) => p.name);
        expect({ module: module.name, unknown: passed.filter((p) => !declared.includes(p)) }).toEqual({
          module: module.name,
          unknown: [],
        });
        const required = targetFile.params.filter((p) => !p.hasDefault).map((p) => p.name);
        expect({ module: module.name, missing: required.filter((p) => !passed.includes(p)) }).toEqual({
          module: module.name,
          missing: [],
        });
      }
    },
  );

  it.each(entries)('%s: every <module>.outputs.<name> it reads is an output of that module', (name, file) => {
    const modules = new Map(file.modules.map((m) => [m.name, files.get(moduleTarget(name, m) ?? '')]));
    const tokens = file.tokens;
    for (let i = 0; i + 4 < tokens.length; i++) {
      const symbol = tokens[i]!.text;
      const target = modules.get(symbol);
      if (!target || tokens[i + 2]?.text !== 'outputs') continue;
      const output = tokens[i + 4]!.text;
      expect(`${symbol}.outputs.${output}: ${target.outputs.some((o) => o.name === output)}`).toBe(
        `${symbol}.outputs.${output}: true`,
      );
    }
  });

  it.each(entries)(
    '%s: a module scoped to a subscription targets a subscription-scope file',
    (name, file) => {
      for (const module of file.modules) {
        const scope = property(bodyOf(module), 'scope');
        const target = files.get(moduleTarget(name, module) ?? '') as BicepFile;
        const onSubscription = scope?.[0]?.text === 'subscription';
        expect(`${module.name}: ${target.targetScope}`).toBe(
          `${module.name}: ${onSubscription ? 'subscription' : 'resourceGroup'}`,
        );
      }
    },
  );

  it('uses the Graph extension only where bicepconfig.json declares it', () => {
    const config = JSON.parse(fs.readFileSync(path.join(INFRA_DIR, 'bicepconfig.json'), 'utf8')) as {
      extensions?: Record<string, string>;
    };
    for (const [name, file] of entries) {
      for (const extension of file.extensions)
        expect(`${name}: ${extension} ${extension in (config.extensions ?? {})}`).toBe(
          `${name}: ${extension} true`,
        );
      const graph = file.resources.some((r) => r.type.startsWith('Microsoft.Graph/'));
      expect(`${name}: ${graph}`).toBe(`${name}: ${file.extensions.includes('microsoftGraphV1')}`);
    }
  });

  it('has the resources the deployment needs, at the API versions of the quickstart where it uses them', () => {
    const types = new Set(
      entries.flatMap(([, f]) => f.resources.map((r) => `${r.type}@${r.apiVersion ?? ''}`)),
    );
    for (const expected of [
      'Microsoft.Web/serverfarms@2024-04-01',
      'Microsoft.Web/sites@2024-04-01',
      'Microsoft.Web/sites/config@2024-04-01',
      'Microsoft.DurableTask/schedulers@2026-02-01',
      'Microsoft.DurableTask/schedulers/taskHubs@2026-02-01',
      'Microsoft.Storage/storageAccounts@2023-05-01',
      'Microsoft.KeyVault/vaults@2023-07-01',
      'Microsoft.KeyVault/vaults/secrets@2023-07-01',
      'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31',
      'Microsoft.Insights/components@2020-02-02',
      'Microsoft.OperationalInsights/workspaces@2023-09-01',
      'Microsoft.Authorization/roleAssignments@2022-04-01',
      'Microsoft.Graph/applications@v1.0',
      'Microsoft.Graph/servicePrincipals@v1.0',
      'Microsoft.Graph/appRoleAssignedTo@v1.0',
      'Microsoft.Insights/actionGroups@2023-01-01',
      'Microsoft.Insights/activityLogAlerts@2020-10-01',
    ])
      expect(types).toContain(expected);
  });
});
