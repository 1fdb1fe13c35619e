import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * The Functions app sets telemetry up as it loads (functions/telemetry.ts, matched by package.json `main`), the way
 * the Functions worker and the devhost load it: checked in a Node process of its own, on the built app, so the
 * process-wide providers start empty.
 */
const run = promisify(execFile);
const root = path.resolve(__dirname, '../../..');

async function loadApp(env: Record<string, string>): Promise<string> {
  const script = `
    const { loadFunctionsApp } = require(${JSON.stringify(path.join(root, 'dist/devhost/app/loadFunctionsApp.js'))});
    const app = loadFunctionsApp(${JSON.stringify(root)});
    // Loaded again (the devhost loads the app afresh for every host it starts): set up once all the same.
    loadFunctionsApp(${JSON.stringify(root)});
    const { trace, metrics } = require(${JSON.stringify(require.resolve('@opentelemetry/api', { paths: [root] }))});
    console.log('functions=' + app.functions.size);
    console.log('recording=' + trace.getTracer('t').startSpan('s').isRecording());
    console.log('meter=' + metrics.getMeterProvider().constructor.name);
  `;
  const { stdout } = await run(process.execPath, ['-e', script], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return stdout;
}

it('sets telemetry up once when the app loads, however often it is loaded: console lines when asked, the no-op API by default', async () => {
  const withConsole = await loadApp({ FAILOVERPLANE_TELEMETRY: 'console' });
  expect(withConsole.match(/telemetry: console \(one line per span\)/g)).toHaveLength(1);
  expect(withConsole).not.toContain('registered already');
  expect(withConsole).toMatch(/functions=\d{2}/);
  expect(withConsole).toContain('recording=true');
  expect(withConsole).toContain('meter=MeterProvider');

  const off = await loadApp({});
  expect(off).not.toContain('telemetry:');
  expect(off).toContain('recording=false');
  expect(off).toContain('meter=NoopMeterProvider');
});
