#!/usr/bin/env node
'use strict';
/**
 * Builds the node agent as one file with its dependencies inside (yaml, zod and the shared code it uses):
 * dist-agent/failover-agent.cjs, which runs with Node 22 alone — no repository, no node_modules, no npm on the node.
 *
 *   npm run build:agent                      # dist-agent/failover-agent.cjs
 *   node scripts/buildAgentBundle.cjs --outfile /tmp/x/failover-agent.cjs
 */
const { chmodSync, readFileSync } = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');

const root = path.resolve(__dirname, '..');

async function main() {
  const { values } = parseArgs({ options: { outfile: { type: 'string' } } });
  const outfile = path.resolve(values.outfile ?? path.join(root, 'dist-agent', 'failover-agent.cjs'));
  let esbuild;
  try {
    esbuild = require('esbuild');
  } catch {
    console.error('build:agent needs esbuild (a devDependency): run "npm ci" first');
    process.exit(1);
  }
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const result = await esbuild.build({
    stdin: {
      // What bin/failover-agent.js does, with the sources instead of dist/.
      contents: [
        "const { main } = require('./agent/cli');",
        'main(process.argv.slice(2)).then(',
        '  (code) => process.exit(code),',
        '  (error) => {',
        "    console.error('failover-agent: ' + (error instanceof Error ? error.message : String(error)));",
        '    process.exit(1);',
        '  },',
        ');',
      ].join('\n'),
      resolveDir: root,
      sourcefile: 'failover-agent-bundle.js',
      loader: 'js',
    },
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    outfile,
    banner: {
      js: `#!/usr/bin/env node\n// failover-agent ${version}: the failover-plane node agent, bundled with yaml and zod (MIT).`,
    },
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
