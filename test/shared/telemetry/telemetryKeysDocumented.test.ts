import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadTelemetryConfig } from '../../../shared/telemetry/telemetryConfig';

it('documents every setting loadTelemetryConfig reads in the README configuration table', () => {
  const read = new Set<string>();
  const recording = new Proxy(
    {},
    {
      get(_target, key) {
        if (typeof key === 'string') read.add(key);
        return undefined;
      },
    },
  );
  loadTelemetryConfig(recording);
  expect([...read].sort()).toEqual([
    'APPLICATIONINSIGHTS_CONNECTION_STRING',
    'FAILOVERPLANE_TELEMETRY',
    'OTEL_EXPORTER_OTLP_ENDPOINT',
  ]);
  const readme = readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration keys'));
  const table = section.slice(0, section.indexOf('\n## '));
  const documented = new Set([...table.matchAll(/^\| `([A-Za-z_]+)`/gm)].map((m) => m[1]));
  expect([...read].filter((key) => !documented.has(key))).toEqual([]);
});
