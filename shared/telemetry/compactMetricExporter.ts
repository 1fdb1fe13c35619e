import {
  AggregationTemporality,
  DataPointType,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';

type ExportResult = Parameters<Parameters<PushMetricExporter['export']>[1]>[0];

/**
 * A metric exporter for the devhost (`FAILOVERPLANE_TELEMETRY=console`): one line per data point of the control
 * plane's own meter (`metric <name>{attributes} <value>`; a histogram shows its count, sum and max), cumulative.
 */
export class CompactMetricExporter implements PushMetricExporter {
  constructor(
    private readonly write: (line: string) => void,
    private readonly scope: string,
  ) {}

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    for (const scope of metrics.scopeMetrics) {
      if (scope.scope.name !== this.scope) continue;
      for (const metric of scope.metrics) {
        for (const point of metric.dataPoints) {
          const attributes = Object.entries(point.attributes)
            .map(([k, v]) => `${k.replace(/^failoverplane\./, '')}=${String(v)}`)
            .join(',');
          const name = `${metric.descriptor.name}${attributes ? `{${attributes}}` : ''}`;
          const value = point.value;
          if (
            metric.dataPointType === DataPointType.HISTOGRAM &&
            typeof value === 'object' &&
            'count' in value
          )
            this.write(`metric ${name} count=${value.count} sum=${value.sum ?? 0} max=${value.max ?? 0}`);
          else if (typeof value === 'number') this.write(`metric ${name} ${value}`);
        }
      }
    }
    resultCallback({ code: 0 });
  }

  selectAggregationTemporality(): AggregationTemporality {
    return AggregationTemporality.CUMULATIVE;
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
