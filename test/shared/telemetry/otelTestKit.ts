import type * as Api from '@opentelemetry/api';
import type * as SdkMetrics from '@opentelemetry/sdk-metrics';
import type * as SdkTrace from '@opentelemetry/sdk-trace-base';

/**
 * In-memory OpenTelemetry for tests: a BasicTracerProvider with an InMemorySpanExporter and a MeterProvider with a
 * pull reader, registered as the global providers of the given API module. The modules are parameters: the unit
 * tests pass jest's, the end-to-end test passes the ones Node loads for the app in the devhost (another registry).
 */
export interface OtelTestKit {
  spans(): SdkTrace.ReadableSpan[];
  /** The data points of one metric of the meter `failover-plane`, as `{ attributes, value }`. */
  points(name: string): Promise<{ attributes: Record<string, unknown>; value: any }[]>;
  /** Unregisters the providers (the API's globals go back to no-op). */
  stop(): Promise<void>;
}

export function startOtelTestKit(
  api: typeof Api,
  sdkTrace: typeof SdkTrace,
  sdkMetrics: typeof SdkMetrics,
): OtelTestKit {
  const exporter = new sdkTrace.InMemorySpanExporter();
  const tracerProvider = new sdkTrace.BasicTracerProvider({
    spanProcessors: [new sdkTrace.SimpleSpanProcessor(exporter)],
  });
  class PullReader extends sdkMetrics.MetricReader {
    protected override onForceFlush(): Promise<void> {
      return Promise.resolve();
    }
    protected override onShutdown(): Promise<void> {
      return Promise.resolve();
    }
  }
  const reader = new PullReader();
  const meterProvider = new sdkMetrics.MeterProvider({ readers: [reader] });
  // Whatever an earlier test file of this worker left registered goes first.
  api.trace.disable();
  api.metrics.disable();
  if (!api.trace.setGlobalTracerProvider(tracerProvider)) throw new Error('tracer provider not registered');
  if (!api.metrics.setGlobalMeterProvider(meterProvider)) throw new Error('meter provider not registered');
  return {
    spans: () => exporter.getFinishedSpans(),
    async points(name) {
      const { resourceMetrics } = await reader.collect();
      return resourceMetrics.scopeMetrics
        .filter((s) => s.scope.name === 'failover-plane')
        .flatMap((s) => s.metrics)
        .filter((m) => m.descriptor.name === name)
        .flatMap((m) => m.dataPoints.map((p) => ({ attributes: { ...p.attributes }, value: p.value })));
    },
    async stop() {
      api.trace.disable();
      api.metrics.disable();
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}

/** A span's time in epoch milliseconds (start or end). */
export const msOf = (time: Api.HrTime): number => time[0] * 1000 + time[1] / 1e6;
