import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseClusterDocument } from '../../shared/domain/clusterDocument';

const root = path.resolve(__dirname, '../..');

/** Markdown files that may show cluster documents: the README files and docs/. */
function markdownFiles(): string[] {
  const files = ['README.md', 'agent/README.md', 'sim/README.md'].filter((f) =>
    existsSync(path.join(root, f)),
  );
  const docs = path.join(root, 'docs');
  if (existsSync(docs))
    for (const f of readdirSync(docs, { recursive: true }) as string[])
      if (f.endsWith('.md')) files.push(path.join('docs', f));
  return files;
}

/** Every cluster document shown: YAML/JSON code blocks with `nodes`, and the JSON body of a `PUT …/clusters/…`. */
function clusterDocuments(file: string): { where: string; value: unknown }[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  const out: { where: string; value: unknown }[] = [];
  for (const match of text.matchAll(/```(ya?ml|json)\n([\s\S]*?)```/g)) {
    const value: unknown = match[1] === 'json' ? JSON.parse(match[2] ?? '') : parseYaml(match[2] ?? '');
    if (typeof value === 'object' && value !== null && 'nodes' in value)
      out.push({ where: `${file} ${match[1]} block at ${match.index}`, value });
  }
  for (const match of text.matchAll(/clusters\/[a-z0-9-]+\s*\\?\s*\n?\s*-d '(\{[^']*\})'/g))
    out.push({ where: `${file} curl body at ${match.index}`, value: JSON.parse(match[1] ?? '') });
  return out;
}

describe('cluster documents shown in the documentation', () => {
  const examples = markdownFiles().flatMap(clusterDocuments);

  it('finds the README examples (the YAML reference and the quick-start body)', () => {
    expect(examples.filter((e) => e.where.startsWith('README.md')).length).toBeGreaterThanOrEqual(2);
  });

  it.each(examples.map((e) => [e.where, e.value] as const))(
    '%s is a valid cluster document',
    (_where, value) => {
      const result = parseClusterDocument(value);
      expect(result.ok ? [] : result.problems).toEqual([]);
    },
  );
});
