import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { INFRA_DIR, REPO_ROOT, readInfra } from './infraFiles';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parseArgs } = require('../../scripts/packageForAzure.cjs') as {
  parseArgs: (argv: string[], env: Record<string, string | undefined>) => { out: string };
};

interface HookCommand {
  shell?: string;
  run?: string;
}
type Hook = HookCommand & { posix?: HookCommand; windows?: HookCommand };
interface AzureYaml {
  name?: string;
  infra?: { provider?: string; path?: string; module?: string };
  hooks?: Record<string, Hook>;
  services?: Record<
    string,
    { project?: string; dist?: string; language?: string; host?: string; hooks?: Record<string, Hook> }
  >;
}

const azureYaml = parse(fs.readFileSync(path.join(REPO_ROOT, 'azure.yaml'), 'utf8')) as AzureYaml;
const main = readInfra().get('main.bicep');
if (!main) throw new Error('infra/main.bicep is missing');
const parameters = JSON.parse(fs.readFileSync(path.join(INFRA_DIR, 'main.parameters.json'), 'utf8')) as {
  parameters: Record<string, { value?: unknown; reference?: unknown }>;
};

/** Values azd itself puts in every environment. */
const AZD_PROVIDED = new Set([
  'AZURE_ENV_NAME',
  'AZURE_LOCATION',
  'AZURE_SUBSCRIPTION_ID',
  'AZURE_PRINCIPAL_ID',
]);

function hookCommands(hooks: Record<string, Hook> | undefined): string[] {
  return Object.values(hooks ?? {}).flatMap((hook) =>
    [hook, hook.posix, hook.windows].flatMap((h) => (h?.run ? [h.run] : [])),
  );
}
const allHookCommands = [
  ...hookCommands(azureYaml.hooks),
  ...Object.values(azureYaml.services ?? {}).flatMap((s) => hookCommands(s.hooks)),
];
/** The scripts the hooks run (`node <script>`). */
const hookScripts = [...new Set(allHookCommands.map((run) => /^node\s+(\S+)/.exec(run)?.[1] ?? run))];

/** `${NAME}` / `${NAME=default}` substitutions in main.parameters.json. */
function substitutions(): { param: string; name: string; hasDefault: boolean }[] {
  return Object.entries(parameters.parameters).flatMap(([param, entry]) =>
    [...JSON.stringify(entry.value ?? '').matchAll(/\$\{([A-Z0-9_]+)(=[^}]*)?\}/g)].map((m) => ({
      param,
      name: m[1]!,
      hasDefault: m[2] !== undefined,
    })),
  );
}

describe('azure.yaml', () => {
  it('points azd at infra/main.bicep (Bicep) and its parameters file', () => {
    expect(azureYaml.infra?.provider ?? 'bicep').toBe('bicep');
    const infraPath = path.join(REPO_ROOT, azureYaml.infra?.path ?? 'infra');
    expect(fs.existsSync(path.join(infraPath, `${azureYaml.infra?.module ?? 'main'}.bicep`))).toBe(true);
    expect(fs.existsSync(path.join(infraPath, `${azureYaml.infra?.module ?? 'main'}.parameters.json`))).toBe(
      true,
    );
  });

  it('deploys one Function App service from the folder package:azure stages', () => {
    const services = Object.entries(azureYaml.services ?? {});
    expect(services.map(([name]) => name)).toEqual(['api']);
    const [, api] = services[0]!;
    expect(api.host).toBe('function');
    expect(['js', 'ts']).toContain(api.language);
    const project = path.resolve(REPO_ROOT, api.project ?? '.');
    expect(fs.existsSync(path.join(project, 'package.json'))).toBe(true);
    expect(path.resolve(project, api.dist ?? '')).toBe(parseArgs([], {}).out);
    expect(hookCommands(api.hooks)).toEqual(
      expect.arrayContaining([expect.stringMatching(/packageForAzure\.cjs/)]),
    );
    // azd tags the site with azd-service-name = the service name to find it.
    expect(fs.readFileSync(path.join(INFRA_DIR, 'app', 'api.bicep'), 'utf8')).toContain(
      "param serviceName string = 'api'",
    );
  });

  it('runs hook scripts that exist', () => {
    expect(hookScripts.length).toBeGreaterThan(0);
    for (const script of hookScripts)
      expect(`${script}: ${fs.existsSync(path.join(REPO_ROOT, script))}`).toBe(`${script}: true`);
  });

  it('hooks read only azd environment values that azd, an output or a parameter substitution provides', () => {
    const outputs = new Set(main.outputs.map((o) => o.name));
    const substituted = new Set(substitutions().map((s) => s.name));
    for (const script of [...hookScripts, 'scripts/packageForAzure.cjs']) {
      const source = fs.readFileSync(path.join(REPO_ROOT, script), 'utf8');
      const names = [...source.matchAll(/env\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!);
      for (const name of names)
        expect(
          `${script}: ${name} ${AZD_PROVIDED.has(name) || outputs.has(name) || substituted.has(name)}`,
        ).toBe(`${script}: ${name} true`);
    }
  });
});

describe('infra/main.parameters.json', () => {
  it('sets only parameters main.bicep declares, and every required one', () => {
    const declared = new Map(main.params.map((p) => [p.name, p]));
    expect(Object.keys(parameters.parameters).filter((name) => !declared.has(name))).toEqual([]);
    const required = main.params.filter((p) => !p.hasDefault).map((p) => p.name);
    expect(required.filter((name) => !(name in parameters.parameters))).toEqual([]);
  });

  it('takes every value from the azd environment, and required values without defaults are checked before provisioning', () => {
    const preprovision = fs.readFileSync(path.join(INFRA_DIR, 'hooks', 'preprovision.cjs'), 'utf8');
    const required = new Set(main.params.filter((p) => !p.hasDefault).map((p) => p.name));
    for (const [name, entry] of Object.entries(parameters.parameters))
      expect(
        `${name}: ${typeof entry.value === 'string' && /^\$\{[A-Z0-9_]+(=[^}]*)?\}$/.test(entry.value)}`,
      ).toBe(`${name}: true`);
    for (const s of substitutions()) {
      if (!required.has(s.param) || s.hasDefault || AZD_PROVIDED.has(s.name)) continue;
      expect(`${s.name}: checked by preprovision ${preprovision.includes(s.name)}`).toBe(
        `${s.name}: checked by preprovision true`,
      );
    }
  });

  it('passes secrets only to @secure() parameters, and no output returns a secure parameter', () => {
    const secretNames = ['NODE_KEY_MASTER', 'AUTH_KEYS', 'FAILOVER_WEBHOOK_SECRETS', 'OCI_PRIVATE_KEY'];
    for (const s of substitutions().filter((x) => secretNames.includes(x.name)))
      expect(`${s.param}: ${main.params.find((p) => p.name === s.param)?.secure}`).toBe(`${s.param}: true`);
    const secure = new Set(main.params.filter((p) => p.secure).map((p) => p.name));
    expect(secure.size).toBeGreaterThanOrEqual(secretNames.length);
    for (const output of main.outputs)
      for (const token of output.value)
        expect(`${output.name}: ${secure.has(token.text)}`).toBe(`${output.name}: false`);
  });
});

describe('infra JSON files', () => {
  it('parse, and every abbreviation main.bicep uses is defined', () => {
    const abbrs = JSON.parse(fs.readFileSync(path.join(INFRA_DIR, 'abbreviations.json'), 'utf8')) as Record<
      string,
      string
    >;
    JSON.parse(fs.readFileSync(path.join(INFRA_DIR, 'bicepconfig.json'), 'utf8'));
    const used = [
      ...fs.readFileSync(path.join(INFRA_DIR, 'main.bicep'), 'utf8').matchAll(/abbrs\.(\w+)/g),
    ].map((m) => m[1]!);
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((name) => !(name in abbrs))).toEqual([]);
  });
});
