import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes as SpanAttributes,
  type Link,
  type Tracer,
} from '@opentelemetry/api';
import type { OperationRecord, OperationStep } from '../stores/operationStore';
import { version } from '../version';
import { instruments } from './instruments';
import { operationTraceParent } from './operationTraceParent';
import { Attributes, TELEMETRY_SCOPE, TRACED_KINDS } from './telemetryNames';

/** The most of a step's detail a span carries (as JSON). */
const DETAIL_LIMIT = 1024;

const errorOf = (step: OperationStep): string | undefined => {
  const error = step.detail?.error;
  return typeof error === 'string' ? error : undefined;
};

function operationAttributes(op: OperationRecord): SpanAttributes {
  const attributes: SpanAttributes = {
    [Attributes.clusterId]: op.clusterId,
    [Attributes.operationId]: op.operationId,
    [Attributes.kind]: op.kind,
    [Attributes.outcome]: op.status,
    [Attributes.epochFrom]: op.epoch,
  };
  if (op.toEpoch !== undefined) attributes[Attributes.epochTo] = op.toEpoch;
  if (op.code !== undefined) attributes[Attributes.code] = op.code;
  if (op.reason !== undefined) attributes[Attributes.reason] = op.reason;
  if (op.trigger) {
    attributes[Attributes.triggerKind] = op.trigger.kind;
    if (op.trigger.reference !== undefined) attributes[Attributes.triggerReference] = op.trigger.reference;
  }
  if (op.actor !== undefined) attributes[Attributes.actor] = op.actor;
  if (op.targetNodeId) attributes[Attributes.targetNodeId] = op.targetNodeId;
  if (op.drillId !== undefined) attributes[Attributes.drillId] = op.drillId;
  if (op.rtoMs !== undefined) attributes[Attributes.rtoMs] = op.rtoMs;
  return attributes;
}

function stepAttributes(step: OperationStep): SpanAttributes {
  const attributes: SpanAttributes = {
    [Attributes.stepId]: step.id,
    [Attributes.stepOutcome]: step.outcome,
  };
  if (step.detail !== undefined) {
    const json = JSON.stringify(step.detail);
    attributes[Attributes.stepDetail] = json.length > DETAIL_LIMIT ? `${json.slice(0, DETAIL_LIMIT)}…` : json;
  }
  return attributes;
}

/** The trace of an ended operation, from its record: a root span and a child span per recorded step, in order. */
function emitTrace(op: OperationRecord & { endedAt: number }, tracer: Tracer): void {
  const steps = op.steps ?? [];
  const stepEnd = (step: OperationStep) => Math.max(step.startedAt, step.endedAt ?? op.endedAt);
  // The root covers its steps (an acknowledgement's hooks can start before the record was created).
  const start = Math.min(op.createdAt, ...steps.map((s) => s.startedAt));
  const end = Math.max(op.endedAt, start, ...steps.map(stepEnd));
  const parent = trace.setSpanContext(ROOT_CONTEXT, operationTraceParent(op.clusterId, op.operationId));
  // What emitted it (an activity's invocation, when the Functions instrumentation traces it): linked, not a parent.
  const active = trace.getActiveSpan()?.spanContext();
  const links: Link[] = active && trace.isSpanContextValid(active) ? [{ context: active }] : [];
  const root = tracer.startSpan(
    `operation ${op.kind}`,
    { kind: SpanKind.INTERNAL, startTime: new Date(start), attributes: operationAttributes(op), links },
    parent,
  );
  if (op.status === 'failed')
    root.setStatus({ code: SpanStatusCode.ERROR, ...(op.reason ? { message: op.reason } : {}) });
  else if (op.status === 'succeeded') root.setStatus({ code: SpanStatusCode.OK });
  const inRoot = trace.setSpan(parent, root);
  for (const step of steps) {
    const span = tracer.startSpan(
      step.name,
      { kind: SpanKind.INTERNAL, startTime: new Date(step.startedAt), attributes: stepAttributes(step) },
      inRoot,
    );
    if (step.outcome === 'failed') {
      const error = errorOf(step);
      span.setStatus({ code: SpanStatusCode.ERROR, ...(error ? { message: error } : {}) });
    }
    span.end(new Date(stepEnd(step)));
  }
  root.end(new Date(end));
}

/**
 * Emits what an ended operation tells telemetry: its trace (failover, make-active, drill, spillover) and its metrics
 * (operations by kind and outcome, failovers by outcome, the measured RTO). Called by the activity that ended it,
 * with the record as stored — never from an orchestrator (replays would emit again). An unfinished record emits
 * nothing. A retried activity may emit an operation twice: the copies share the trace id (derived from the
 * operation), and the counters count it twice (see ARCHITECTURE.md "Telemetry from recorded steps").
 * Telemetry never fails the operation: an error here is swallowed.
 */
export function emitOperationTelemetry(
  operation: OperationRecord | undefined,
  options: { tracer?: Tracer } = {},
): void {
  if (!operation || operation.endedAt === undefined) return;
  const op = operation as OperationRecord & { endedAt: number };
  try {
    if (TRACED_KINDS.has(op.kind)) emitTrace(op, options.tracer ?? trace.getTracer(TELEMETRY_SCOPE, version));
    const meters = instruments();
    meters.operations.add(1, { [Attributes.kind]: op.kind, [Attributes.outcome]: op.status });
    if (op.kind === 'failover')
      meters.failovers.add(1, { [Attributes.outcome]: op.status, [Attributes.clusterId]: op.clusterId });
    if (op.rtoMs !== undefined && (op.kind === 'failover' || op.kind === 'make-active'))
      meters.rto.record(op.rtoMs, { [Attributes.kind]: op.kind, [Attributes.clusterId]: op.clusterId });
  } catch {
    // Telemetry is best effort: the operation has ended whatever an exporter or provider does.
  }
}
