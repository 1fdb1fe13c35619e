#!/usr/bin/env node
'use strict';
/**
 * Builds the node agent — or, with `--tool failoverctl`, the CLI — as one file with its dependencies inside (yaml,
 * zod and the shared code it uses): dist-agent/failover-agent.cjs or dist-agent/failoverctl.cjs, which run with
 * Node 22 alone — no repository, no node_modules, no npm. The CLI's `--entra` loads `@azure/identity` only when used:
 * it stays outside the bundle (install it next to the file for Entra sign-in).
 *
 *   npm run build:agent                      # dist-agent/failover-agent.cjs
 *   npm run build:cli                        # dist-agent/failoverctl.cjs
 *   node scripts/buildAgentBundle.cjs [--tool failoverctl] --outfile /tmp/x/failover-agent.cjs
 */
const TOOLS = {
  'failover-agent': {
    entry: './agent/cli',
    what: 'the failover-plane node agent',
    exit: '(code) => process.exit(code)',
    external: [],
  },
  failoverctl: {
    entry: './cli/main',
    what: 'the failover-plane CLI',
    // Let stdout drain (a piped `--json` answer) instead of exiting at once.
    exit: '(code) => { process.exitCode = code; }',
    external: ['@azure/identity'],
  },
};
const { chmodSync, readFileSync } = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');

const root = path.resolve(__dirname, '..');

async function main() {
  const { values } = parseArgs({ options: { outfile: { type: 'string' }, tool: { type: 'string' } } });
  const name = values.tool ?? 'failover-agent';
  const tool = TOOLS[name];
  if (!tool) {
    console.error(`--tool must be one of ${Object.keys(TOOLS).join(', ')}`);
    process.exit(2);
  }
  const outfile = path.resolve(values.outfile ?? path.join(root, 'dist-agent', `${name}.cjs`));
  let esbuild;
  try {
    esbuild = require('esbuild');
  } catch {
    console.error('building a bundle needs esbuild (a devDependency): run "npm ci" first');
    process.exit(1);
  }
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const result = await esbuild.build({
    stdin: {
      // What bin/failover-agent.js does, with the sources instead of dist/.
      contents: [
        `const { main } = require('${tool.entry}');`,
        'main(process.argv.slice(2)).then(',
        `  ${tool.exit},`,
        '  (error) => {',
        `    console.error('${name}: ' + (error instanceof Error ? error.message : String(error)));`,
        '    process.exit(1);',
        '  },',
        ');',
      ].join('\n'),
      resolveDir: root,
      sourcefile: `${name}-bundle.js`,
      loader: 'js',
    },
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    outfile,
    banner: {
      js: `#!/usr/bin/env node\n// ${name} ${version}: ${tool.what}, bundled with yaml and zod (MIT).`,
    },
    external: tool.external,
    define: { FAILOVER_AGENT_BUNDLE_VERSION: JSON.stringify(version) },
    tsconfig: path.join(root, 'tsconfig.json'),
    legalComments: 'eof',
    logLevel: 'warning',
    metafile: true,
  });
  chmodSync(outfile, 0o755);
  const inputs = Object.keys(result.metafile.inputs);
  const packages = [
    ...new Set(
      inputs.filter((i) => i.includes('node_modules/')).map((i) => i.split('node_modules/')[1].split('/')[0]),
    ),
  ];
  const bytes = result.metafile.outputs[path.relative(process.cwd(), outfile)]?.bytes;
  console.log(
    `${path.relative(process.cwd(), outfile)}: ${inputs.length} modules, packages: ${packages.join(', ') || 'none'}${bytes ? `, ${(bytes / 1024).toFixed(0)} KiB` : ''}`,
  );
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
