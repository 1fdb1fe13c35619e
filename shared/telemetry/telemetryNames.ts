/**
 * The names telemetry uses: the tracer and meter, the metric instruments and the attributes, in one place so that
 * the docs, dashboards and tests use the same spelling.
 */
export const TELEMETRY_SCOPE = 'failover-plane';

export const Metrics = {
  /** Counter: heartbeats the heartbeat service accepted. */
  heartbeatsAccepted: 'failoverplane.heartbeats.accepted',
  /** Counter: heartbeats refused, by `failoverplane.reason` (the refusal code: BadSignature, ReplayedSequence…). */
  heartbeatsRejected: 'failoverplane.heartbeats.rejected',
  /** Counter: failures detected (a detection recorded, once per silence), by cluster. */
  detections: 'failoverplane.detections',
  /** Counter: operations ended, by kind and outcome. */
  operations: 'failoverplane.operations',
  /** Counter: failovers ended, by outcome (succeeded, failed, refused, superseded) and cluster. */
  failovers: 'failoverplane.failovers',
  /** Histogram (ms): the measured recovery time of a failover or make-active that recorded one, by kind. */
  rto: 'failoverplane.rto',
} as const;

export const Attributes = {
  clusterId: 'failoverplane.cluster.id',
  operationId: 'failoverplane.operation.id',
  kind: 'failoverplane.operation.kind',
  outcome: 'failoverplane.operation.outcome',
  code: 'failoverplane.operation.code',
  reason: 'failoverplane.reason',
  epochFrom: 'failoverplane.epoch.from',
  epochTo: 'failoverplane.epoch.to',
  triggerKind: 'failoverplane.trigger.kind',
  triggerReference: 'failoverplane.trigger.reference',
  actor: 'failoverplane.actor',
  targetNodeId: 'failoverplane.target.node',
  drillId: 'failoverplane.drill.id',
  rtoMs: 'failoverplane.rto_ms',
  stepId: 'failoverplane.step.id',
  stepOutcome: 'failoverplane.step.outcome',
  stepDetail: 'failoverplane.step.detail',
} as const;

/** The operation kinds that get a trace when they end. */
export const TRACED_KINDS: ReadonlySet<string> = new Set(['failover', 'make-active', 'drill', 'spillover']);
