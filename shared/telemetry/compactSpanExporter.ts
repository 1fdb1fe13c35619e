import type { HrTime } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { Attributes } from './telemetryNames';

type ExportResult = Parameters<Parameters<SpanExporter['export']>[1]>[0];

/** The attributes a console line shows, by their short name (the step's detail is left out: too long for a line). */
const SHOWN: [string, string][] = [
  [Attributes.clusterId, 'cluster'],
  [Attributes.operationId, 'operation'],
  [Attributes.outcome, 'outcome'],
  [Attributes.epochFrom, 'epoch'],
  [Attributes.epochTo, 'to'],
  [Attributes.triggerKind, 'trigger'],
  [Attributes.actor, 'actor'],
  [Attributes.rtoMs, 'rto_ms'],
  [Attributes.stepOutcome, 'outcome'],
  [Attributes.code, 'code'],
];

const ms = (time: HrTime) => time[0] * 1000 + time[1] / 1e6;

/** One line for a span: `span <trace id prefix> [root|  step] <name> <duration> key=value…`. */
export function compactSpanLine(span: ReadableSpan): string {
  const traceId = span.spanContext().traceId.slice(0, 8);
  const duration = Math.round(ms(span.duration));
  const fields = SHOWN.flatMap(([key, label]) => {
    const value = span.attributes[key];
    return value === undefined ? [] : [`${label}=${String(value)}`];
  });
  const child = span.parentSpanContext !== undefined && !span.parentSpanContext.isRemote;
  return `span ${traceId} ${child ? '  ' : ''}${span.name} ${duration}ms ${fields.join(' ')}`.trimEnd();
}

/**
 * A span exporter for the devhost (`FAILOVERPLANE_TELEMETRY=console`): one compact line per span, written as it
 * ends — an operation's steps first, then its root (`operation <kind>`), all with the same trace id prefix.
 */
export class CompactSpanExporter implements SpanExporter {
  constructor(private readonly write: (line: string) => void) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    for (const span of spans) this.write(compactSpanLine(span));
    resultCallback({ code: 0 });
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}
