import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

// shared/webhooks is pure (the lint configuration has no rule for it yet): it imports no Node built-in and no SDK,
// so the orchestration can call it and the simulation can run it. Crypto belongs in shared/auth.
const dir = path.join(__dirname, '../../../shared/webhooks');
const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

function importsOf(source: string): string[] {
  const specifiers: string[] = [];
  for (const match of source.matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)) {
    if (match[1] !== undefined) specifiers.push(match[1]);
  }
  return specifiers;
}

test('shared/webhooks imports only relative modules, none of them a Node built-in or an SDK', () => {
  const files = readdirSync(dir).filter((name) => name.endsWith('.ts'));
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) {
    for (const specifier of importsOf(readFileSync(path.join(dir, file), 'utf8'))) {
      expect({ file, specifier, builtin: builtins.has(specifier) }).toEqual({
        file,
        specifier,
        builtin: false,
      });
      expect({ file, specifier, relative: specifier.startsWith('.') }).toEqual({
        file,
        specifier,
        relative: true,
      });
    }
  }
});

test('the import scan sees a built-in when there is one', () => {
  expect(importsOf("import { createHmac } from 'node:crypto';\nimport x from './y';")).toEqual([
    'node:crypto',
    './y',
  ]);
});
