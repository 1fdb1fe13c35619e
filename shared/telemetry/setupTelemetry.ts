/* eslint-disable @typescript-eslint/no-require-imports -- the exporters' SDKs load only when their mode is chosen */
import { metrics, trace } from '@opentelemetry/api';
import type * as MonitorModule from '@azure/monitor-opentelemetry';
import type * as FunctionsInstrumentationModule from '@azure/functions-opentelemetry-instrumentation';
import type * as MetricsExporterModule from '@opentelemetry/exporter-metrics-otlp-http';
import type * as TraceExporterModule from '@opentelemetry/exporter-trace-otlp-http';
import type * as ResourcesModule from '@opentelemetry/resources';
import type * as SdkMetricsModule from '@opentelemetry/sdk-metrics';
import type { MetricReader } from '@opentelemetry/sdk-metrics';
import type * as SdkTraceModule from '@opentelemetry/sdk-trace-base';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { version } from '../version';
import type * as CompactMetricModule from './compactMetricExporter';
import type * as CompactSpanModule from './compactSpanExporter';
import { describeTelemetryConfig, loadTelemetryConfig, type TelemetryConfig } from './telemetryConfig';
import { TELEMETRY_SCOPE } from './telemetryNames';

type SdkTrace = typeof SdkTraceModule;
type SdkMetrics = typeof SdkMetricsModule;
type Resources = typeof ResourcesModule;

/** What `setupTelemetry` did in this process. */
export interface TelemetrySetup {
  /** The exporter in use (`off` also when the settings were invalid: see `problems`). */
  readonly exporter: TelemetryConfig['exporter'];
  /** The settings' problems, when they were invalid (telemetry is then off). */
  readonly problems: readonly string[];
  /** Exports what is buffered now (spans, metrics). */
  flush(): Promise<void>;
  /** Flushes and stops the providers this setup registered. */
  shutdown(): Promise<void>;
}

export interface SetupOptions {
  /** Where the once-per-process record lives (tests pass their own object). Default: `globalThis`. */
  global?: object;
  /** Where console mode writes its lines. Default: stdout. */
  write?: (line: string) => void;
  /** Where setup says what it did or why telemetry is off. Default: `console.warn` for problems, else `console.log`. */
  log?: (message: string) => void;
  /** How often metrics are exported (console and OTLP modes). Default 60 s (console), 15 s (OTLP). */
  metricIntervalMs?: number;
}

/**
 * The record on the process's global object. Module state would not do: the devhost loads the app afresh for every
 * host it starts (a test file starts many), and the OpenTelemetry API refuses a second global provider anyway.
 */
const SLOT = Symbol.for('failover-plane.telemetry');

type Flushable = { forceFlush?: () => Promise<void> };

const nothing = (): Promise<void> => Promise.resolve();

const redact = (text: string, secret: string | undefined) =>
  secret ? text.split(secret).join('<redacted>') : text;

function resource(): ReturnType<Resources['resourceFromAttributes']> {
  const { resourceFromAttributes } = require('@opentelemetry/resources') as Resources;
  return resourceFromAttributes({ 'service.name': TELEMETRY_SCOPE, 'service.version': version });
}

/** Registers a tracer and a meter provider of the SDK with the given span exporter and metric reader. */
function registerSdk(
  spanProcessor: (sdk: SdkTrace) => SpanProcessor,
  reader: (sdk: SdkMetrics) => MetricReader,
  log: (message: string) => void,
): Pick<TelemetrySetup, 'flush' | 'shutdown'> {
  const sdkTrace = require('@opentelemetry/sdk-trace-base') as SdkTrace;
  const sdkMetrics = require('@opentelemetry/sdk-metrics') as SdkMetrics;
  const tracerProvider = new sdkTrace.BasicTracerProvider({
    resource: resource(),
    spanProcessors: [spanProcessor(sdkTrace)],
  });
  const meterProvider = new sdkMetrics.MeterProvider({ resource: resource(), readers: [reader(sdkMetrics)] });
  // Someone registered providers first (a test, an embedding host): theirs stay, ours are not used.
  if (!trace.setGlobalTracerProvider(tracerProvider))
    log('telemetry: a tracer provider was registered already; keeping it');
  if (!metrics.setGlobalMeterProvider(meterProvider))
    log('telemetry: a meter provider was registered already; keeping it');
  return {
    flush: async () => {
      await Promise.all([tracerProvider.forceFlush(), meterProvider.forceFlush()]);
    },
    shutdown: async () => {
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}

/**
 * Azure: the Azure Monitor distro (traces, metrics and logs to Application Insights) and the Functions
 * instrumentation, registered the way its README registers it for the v4 model — created (which enables it: it hooks
 * `require('@azure/functions')`) and given the global providers the distro registered — then `@azure/functions`
 * required once more so the hook applies now (it sets the worker capability and the invocation's trace context).
 */
function startAzureMonitor(connectionString: string): Pick<TelemetrySetup, 'flush' | 'shutdown'> {
  const monitor = require('@azure/monitor-opentelemetry') as typeof MonitorModule;
  monitor.useAzureMonitor({ azureMonitorExporterOptions: { connectionString } });
  const { AzureFunctionsInstrumentation } =
    require('@azure/functions-opentelemetry-instrumentation') as typeof FunctionsInstrumentationModule;
  const functions = new AzureFunctionsInstrumentation();
  functions.setTracerProvider(trace.getTracerProvider());
  functions.setMeterProvider(metrics.getMeterProvider());
  require('@azure/functions');
  return {
    // The distro's providers, behind the API's globals (the tracer provider behind its proxy).
    flush: async () => {
      const proxy = trace.getTracerProvider() as { getDelegate?: () => unknown };
      const tracers = (proxy.getDelegate?.() ?? proxy) as Flushable;
      const meters = metrics.getMeterProvider() as Flushable;
      await Promise.all([tracers.forceFlush?.(), meters.forceFlush?.()]);
    },
    shutdown: () => monitor.shutdownAzureMonitor(),
  };
}

function start(
  config: TelemetryConfig,
  options: SetupOptions,
  log: (message: string) => void,
): Pick<TelemetrySetup, 'flush' | 'shutdown'> {
  const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  switch (config.exporter) {
    case 'off':
      return { flush: nothing, shutdown: nothing };
    case 'azure-monitor':
      return startAzureMonitor(config.connectionString);
    case 'console': {
      const { CompactSpanExporter } = require('./compactSpanExporter') as typeof CompactSpanModule;
      const { CompactMetricExporter } = require('./compactMetricExporter') as typeof CompactMetricModule;
      return registerSdk(
        (sdk) => new sdk.SimpleSpanProcessor(new CompactSpanExporter(write)),
        (sdk) =>
          new sdk.PeriodicExportingMetricReader({
            exporter: new CompactMetricExporter(write, TELEMETRY_SCOPE),
            exportIntervalMillis: options.metricIntervalMs ?? 60_000,
          }),
        log,
      );
    }
    case 'otlp': {
      const base = config.endpoint.endsWith('/') ? config.endpoint : `${config.endpoint}/`;
      const { OTLPTraceExporter } =
        require('@opentelemetry/exporter-trace-otlp-http') as typeof TraceExporterModule;
      const { OTLPMetricExporter } =
        require('@opentelemetry/exporter-metrics-otlp-http') as typeof MetricsExporterModule;
      return registerSdk(
        (sdk) =>
          new sdk.BatchSpanProcessor(new OTLPTraceExporter({ url: new URL('v1/traces', base).href }), {
            scheduledDelayMillis: 1000,
          }),
        (sdk) =>
          new sdk.PeriodicExportingMetricReader({
            exporter: new OTLPMetricExporter({ url: new URL('v1/metrics', base).href }),
            exportIntervalMillis: options.metricIntervalMs ?? 15_000,
          }),
        log,
      );
    }
  }
}

/**
 * Sets telemetry up once per process, from `loadTelemetryConfig(env)`: Azure Monitor when
 * `APPLICATIONINSIGHTS_CONNECTION_STRING` is set, else OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is, else compact
 * console lines when `FAILOVERPLANE_TELEMETRY=console`, else nothing (the API's no-op providers). Later calls return
 * the first call's setup whatever their environment. Invalid settings, or an SDK that fails to start, leave
 * telemetry off with a warning naming the problems: telemetry never stops the control plane.
 */
export function setupTelemetry(
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: SetupOptions = {},
): TelemetrySetup {
  const holder = (options.global ?? globalThis) as Record<symbol, TelemetrySetup | undefined>;
  const existing = holder[SLOT];
  if (existing) return existing;
  const warn = options.log ?? ((message: string) => console.warn(message));
  // One line at load saying where telemetry goes (nothing when it is off).
  const info = options.log ?? ((message: string) => console.log(message));
  let setup: TelemetrySetup;
  let secret: string | undefined;
  try {
    const config = loadTelemetryConfig(env);
    if (config.exporter === 'azure-monitor') secret = config.connectionString;
    const started = start(config, options, warn);
    setup = { exporter: config.exporter, problems: [], ...started };
    if (config.exporter !== 'off') info(`telemetry: ${describeTelemetryConfig(config)}`);
  } catch (error) {
    const problems = (error as { problems?: unknown }).problems;
    const named = Array.isArray(problems)
      ? problems.map(String)
      : // An SDK's message could quote the connection string: never in a log.
        [`telemetry could not start: ${redact((error as Error).message, secret)}`];
    warn(`telemetry is off: ${named.join('; ')}`);
    setup = { exporter: 'off', problems: named, flush: nothing, shutdown: nothing };
  }
  holder[SLOT] = setup;
  return setup;
}
