import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Orchestrators replay: anything they emitted would be emitted again at every replay. Telemetry is emitted by the
 * activities that end operations (shared/control); nothing an orchestrator loads may reach the telemetry modules or
 * an OpenTelemetry package. Walks the require graph of the built orchestrations.
 */
const root = path.resolve(__dirname, '../../..');
const REQUIRE = /require\((["'])([^"']+)\1\)/g;

function reachable(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(REQUIRE)) {
      const name = match[2] as string;
      if (!name.startsWith('.')) {
        packages.add(name);
        continue;
      }
      const resolved = path.resolve(path.dirname(file), name);
      queue.push(existsSync(`${resolved}.js`) ? `${resolved}.js` : path.join(resolved, 'index.js'));
    }
  }
  return { files, packages };
}

it('orchestrations reach neither shared/telemetry nor an OpenTelemetry package', () => {
  const dir = path.join(root, 'dist/orchestrations');
  const entries = readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => path.join(dir, f));
  expect(entries.length).toBeGreaterThanOrEqual(4);
  const { files, packages } = reachable(entries);
  expect([...files].filter((f) => f.includes(`${path.sep}telemetry${path.sep}`))).toEqual([]);
  expect(
    [...packages].filter((p) => p.startsWith('@opentelemetry') || p.includes('monitor-opentelemetry')),
  ).toEqual([]);
  // The walk sees the control code the activities run: the telemetry is there, one step away from the orchestrations.
  const control = reachable([path.join(root, 'dist/shared/control/operations/clusterOperation.js')]);
  expect([...control.files].some((f) => f.endsWith('emitOperationTelemetry.js'))).toBe(true);
});
