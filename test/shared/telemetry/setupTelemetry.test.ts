import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import * as api from '@opentelemetry/api';
import * as sdkMetrics from '@opentelemetry/sdk-metrics';
import * as sdkTrace from '@opentelemetry/sdk-trace-base';
import type { OperationRecord } from '../../../shared/stores/operationStore';
import { countHeartbeat } from '../../../shared/telemetry/countHeartbeat';
import { emitOperationTelemetry } from '../../../shared/telemetry/emitOperationTelemetry';
import { setupTelemetry, type TelemetrySetup } from '../../../shared/telemetry/setupTelemetry';
import { startOtelTestKit } from './otelTestKit';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../../..');
const T0 = Date.UTC(2026, 11, 1, 8, 0, 0);

const failover: OperationRecord = {
  clusterId: 'hpc-1',
  operationId: 'failover-7',
  kind: 'failover',
  status: 'succeeded',
  createdAt: T0,
  updatedAt: T0 + 5000,
  endedAt: T0 + 5000,
  epoch: 3,
  toEpoch: 4,
  rtoMs: 4200,
  evidence: {},
  trigger: { kind: 'detector' },
  actor: 'controller',
  steps: [
    {
      id: 'revoke-3',
      name: 'revoke the lease of epoch 3',
      startedAt: T0 + 100,
      endedAt: T0 + 100,
      outcome: 'ok',
    },
    {
      id: 'promote-head-b-4',
      name: 'promote head-b',
      startedAt: T0 + 2500,
      endedAt: T0 + 2600,
      outcome: 'ok',
    },
  ],
};

let setup: TelemetrySetup | undefined;
afterEach(async () => {
  await setup?.shutdown();
  setup = undefined;
  api.trace.disable();
  api.metrics.disable();
});

describe('setupTelemetry', () => {
  it('is off by default: nothing registered, nothing printed', () => {
    const lines: string[] = [];
    setup = setupTelemetry({}, { global: {}, write: (l) => lines.push(l), log: (l) => lines.push(l) });
    expect(setup.exporter).toBe('off');
    emitOperationTelemetry(failover);
    countHeartbeat({ ok: true });
    expect(api.trace.getTracer('x').startSpan('x').isRecording()).toBe(false);
    expect(lines).toEqual([]);
  });

  it('prints compact lines in console mode: each step, then the operation; metrics on flush', async () => {
    const lines: string[] = [];
    const log: string[] = [];
    setup = setupTelemetry(
      { FAILOVERPLANE_TELEMETRY: 'console' },
      { global: {}, write: (l) => lines.push(l), log: (l) => log.push(l) },
    );
    expect(setup.exporter).toBe('console');
    expect(log).toEqual(['telemetry: console (one line per span)']);
    emitOperationTelemetry(failover);
    expect(lines).toEqual([
      expect.stringMatching(/^span [0-9a-f]{8} {3}revoke the lease of epoch 3 0ms outcome=ok$/),
      expect.stringMatching(/^span [0-9a-f]{8} {3}promote head-b 100ms outcome=ok$/),
      expect.stringMatching(
        /^span [0-9a-f]{8} operation failover 5000ms cluster=hpc-1 operation=failover-7 outcome=succeeded epoch=3 to=4 trigger=detector actor=controller rto_ms=4200$/,
      ),
    ]);
    // One trace: the same id prefix on every line.
    expect(new Set(lines.map((l) => l.split(' ')[1])).size).toBe(1);
    lines.length = 0;
    countHeartbeat({ ok: true });
    countHeartbeat({ ok: false, code: 'BadSignature' });
    await setup.flush();
    expect(lines).toEqual(
      expect.arrayContaining([
        'metric failoverplane.heartbeats.accepted 1',
        'metric failoverplane.heartbeats.rejected{reason=BadSignature} 1',
        'metric failoverplane.operations{operation.kind=failover,operation.outcome=succeeded} 1',
        'metric failoverplane.rto{operation.kind=failover,cluster.id=hpc-1} count=1 sum=4200 max=4200',
      ]),
    );
  });

  it('sets up once per process: a second call returns the first setup whatever its environment', () => {
    const holder = {};
    setup = setupTelemetry(
      { FAILOVERPLANE_TELEMETRY: 'console' },
      { global: holder, write: () => undefined, log: () => undefined },
    );
    const again = setupTelemetry(
      { FAILOVERPLANE_TELEMETRY: 'off' },
      { global: holder, log: () => undefined },
    );
    expect(again).toBe(setup);
    expect(again.exporter).toBe('console');
  });

  it('keeps providers registered before it (a test harness, an embedding host)', () => {
    const kit = startOtelTestKit(api, sdkTrace, sdkMetrics);
    const log: string[] = [];
    const lines: string[] = [];
    setup = setupTelemetry(
      { FAILOVERPLANE_TELEMETRY: 'console' },
      { global: {}, write: (l) => lines.push(l), log: (l) => log.push(l) },
    );
    expect(log).toEqual([
      'telemetry: a tracer provider was registered already; keeping it',
      'telemetry: a meter provider was registered already; keeping it',
      'telemetry: console (one line per span)',
    ]);
    emitOperationTelemetry(failover);
    expect(kit.spans()).toHaveLength(3);
    expect(lines).toEqual([]);
  });

  it('leaves telemetry off with a warning naming the problems, never the connection string', () => {
    const log: string[] = [];
    setup = setupTelemetry(
      {
        APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=secret-key-value',
        FAILOVERPLANE_TELEMETRY: 'loud',
      },
      { global: {}, log: (l) => log.push(l) },
    );
    expect(setup.exporter).toBe('off');
    expect(setup.problems).toEqual([
      'FAILOVERPLANE_TELEMETRY must be console or off (or unset)',
      'APPLICATIONINSIGHTS_CONNECTION_STRING: InstrumentationKey is not a GUID',
    ]);
    expect(log).toEqual([
      'telemetry is off: FAILOVERPLANE_TELEMETRY must be console or off (or unset); APPLICATIONINSIGHTS_CONNECTION_STRING: InstrumentationKey is not a GUID',
    ]);
    expect(log.join('')).not.toContain('secret-key-value');
    expect(api.trace.getTracer('x').startSpan('x').isRecording()).toBe(false);
  });

  describe('OTLP/HTTP', () => {
    let server: Server;
    const received: { path: string; body: Buffer }[] = [];
    beforeAll(async () => {
      server = createServer((req: IncomingMessage, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          received.push({ path: req.url ?? '', body: Buffer.concat(chunks) });
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    // In a Node process of its own, on the built app: the OTLP exporters load parts of themselves with a dynamic
    // import, which jest's module sandbox does not run.
    it('exports traces and metrics to the collector at OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
      const { port } = server.address() as AddressInfo;
      const dist = path.join(root, 'dist/shared/telemetry');
      const script = `
        const { setupTelemetry } = require(${JSON.stringify(path.join(dist, 'setupTelemetry.js'))});
        const { emitOperationTelemetry } = require(${JSON.stringify(path.join(dist, 'emitOperationTelemetry.js'))});
        const { countHeartbeat } = require(${JSON.stringify(path.join(dist, 'countHeartbeat.js'))});
        const setup = setupTelemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: process.argv[1] }, { log: (l) => console.log(l) });
        emitOperationTelemetry(JSON.parse(process.argv[2]));
        countHeartbeat({ ok: true });
        setup.flush().then(() => setup.shutdown()).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
      `;
      const { stdout } = await run(process.execPath, [
        '-e',
        script,
        `http://127.0.0.1:${port}/collector`,
        JSON.stringify(failover),
      ]);
      expect(stdout).toContain(`telemetry: OTLP/HTTP to http://127.0.0.1:${port}`);
      const traces = received.filter((r) => r.path === '/collector/v1/traces');
      expect(traces.length).toBeGreaterThan(0);
      const body = Buffer.concat(traces.map((t) => t.body)).toString('latin1');
      expect(body).toContain('operation failover');
      expect(body).toContain('revoke the lease of epoch 3');
      const metricsBody = received
        .filter((r) => r.path === '/collector/v1/metrics')
        .map((r) => r.body.toString('latin1'))
        .join('');
      expect(metricsBody).toContain('failoverplane.heartbeats.accepted');
    });
  });

  describe('Azure Monitor', () => {
    // A stand-in ingestion endpoint: the exporter sends only over HTTPS, so it serves a self-signed certificate the
    // process under test trusts (fixtures/README.md).
    const fixtures = path.join(__dirname, 'fixtures');
    const cert = path.join(fixtures, 'ingestion-test-cert.pem');
    let ingestion: ReturnType<typeof createHttpsServer>;
    const tracked: { path: string; body: string }[] = [];
    beforeAll(async () => {
      ingestion = createHttpsServer(
        { cert: readFileSync(cert), key: readFileSync(path.join(fixtures, 'ingestion-test-key.pem')) },
        (req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            const raw = Buffer.concat(chunks);
            const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
            tracked.push({ path: req.url ?? '', body: body.toString('utf8') });
            res
              .writeHead(200, { 'content-type': 'application/json' })
              .end(JSON.stringify({ itemsReceived: 1, itemsAccepted: 1, errors: [] }));
          });
        },
      );
      await new Promise<void>((resolve) => ingestion.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      await new Promise((resolve) => ingestion.close(resolve));
    });

    it('sends operation traces and metrics to Application Insights with the Functions instrumentation registered, never logging the connection string', async () => {
      const { port } = ingestion.address() as AddressInfo;
      const key = '00000000-0000-4000-8000-0000000000a1';
      const connectionString = `InstrumentationKey=${key};IngestionEndpoint=https://127.0.0.1:${port}/`;
      const dist = path.join(root, 'dist/shared/telemetry');
      const script = `
        const { setupTelemetry } = require(${JSON.stringify(path.join(dist, 'setupTelemetry.js'))});
        const { emitOperationTelemetry } = require(${JSON.stringify(path.join(dist, 'emitOperationTelemetry.js'))});
        const { countHeartbeat } = require(${JSON.stringify(path.join(dist, 'countHeartbeat.js'))});
        const setup = setupTelemetry(process.env, { log: (l) => console.log(l) });
        console.log('exporter', setup.exporter);
        emitOperationTelemetry(JSON.parse(process.argv[1]));
        countHeartbeat({ ok: true });
        setup.flush().then(() => setup.shutdown()).then(() => process.exit(0), (e) => { console.error(String(e)); process.exit(1); });
      `;
      const { stdout, stderr } = await run(process.execPath, ['-e', script, JSON.stringify(failover)], {
        env: {
          PATH: process.env.PATH,
          APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString,
          NODE_EXTRA_CA_CERTS: cert,
          // Every trace (the distro's default rate limit starts at none), and no calls to Microsoft's endpoints.
          OTEL_TRACES_SAMPLER: 'always_on',
          APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
          APPLICATIONINSIGHTS_SDKSTATS_DISABLED: 'true',
        },
      });
      expect(stdout).toContain('exporter azure-monitor');
      expect(stdout).toContain('telemetry: Azure Monitor (Application Insights)');
      // The Functions instrumentation patched @azure/functions: it told the worker it sends the telemetry itself.
      expect(stdout).toContain('WorkerOpenTelemetryEnabled');
      expect(`${stdout}${stderr}`).not.toContain(key);
      const track = tracked
        .filter((t) => t.path.startsWith('/v2.1/track'))
        .map((t) => t.body)
        .join('\n');
      expect(track).toContain('operation failover');
      expect(track).toContain('revoke the lease of epoch 3');
      expect(track).toContain('"failoverplane.cluster.id":"hpc-1"');
      expect(track).toContain('failoverplane.heartbeats.accepted');
    });
  });
});
