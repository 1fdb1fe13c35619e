import { builtinModules } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The CLI ships alone later (issue 12, item 6): its compiled code may require only node built-ins, `yaml` and `zod`,
 * and `@azure/identity` only lazily (inside a function, for `--entra`). Walks the require graph from dist/cli/main.js.
 */
const root = path.resolve(__dirname, '../..');
const REQUIRE = /require\((["'])([^"']+)\1\)/g;

function walk(entry: string): { files: Set<string>; packages: Map<string, string[]> } {
  const files = new Set<string>();
  const packages = new Map<string, string[]>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(REQUIRE)) {
      const name = match[2] as string;
      if (name.startsWith('.')) {
        const resolved = path.resolve(path.dirname(file), name);
        queue.push(existsSync(`${resolved}.js`) ? `${resolved}.js` : path.join(resolved, 'index.js'));
      } else {
        const where = packages.get(name) ?? [];
        where.push(path.relative(root, file));
        packages.set(name, where);
      }
    }
  }
  return { files, packages };
}

it('needs only node built-ins, yaml and zod at run time (and @azure/identity lazily, in entraToken.js)', () => {
  const { files, packages } = walk(path.join(root, 'dist/cli/main.js'));
  expect(files.size).toBeGreaterThan(10);
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
  const external = [...packages.keys()].filter((name) => !builtins.has(name)).sort();
  expect(external).toEqual(['@azure/identity', 'yaml', 'zod']);
  expect(packages.get('@azure/identity')).toEqual(['dist/cli/entraToken.js']);
  // Loaded inside `entraToken`, not at module load.
  const entra = readFileSync(path.join(root, 'dist/cli/entraToken.js'), 'utf8');
  expect(entra).toMatch(
    /Promise\.resolve\(\)\.then\(\(\) => __importStar\(require\('@azure\/identity'\)\)\)/,
  );
  // Nothing of the control plane's runtime (storage, functions, SDKs) is reachable.
  for (const file of files)
    expect(file).not.toMatch(
      /dist\/(functions|orchestrations|shared\/(stores|services|providers|witness))\//,
    );
});
