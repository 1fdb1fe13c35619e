import * as api from '@opentelemetry/api';
import * as sdkMetrics from '@opentelemetry/sdk-metrics';
import * as sdkTrace from '@opentelemetry/sdk-trace-base';
import type { OperationRecord } from '../../../shared/stores/operationStore';
import { countDetection } from '../../../shared/telemetry/countDetection';
import { countHeartbeat } from '../../../shared/telemetry/countHeartbeat';
import { emitOperationTelemetry } from '../../../shared/telemetry/emitOperationTelemetry';
import { operationTraceParent } from '../../../shared/telemetry/operationTraceParent';
import { msOf, startOtelTestKit, type OtelTestKit } from './otelTestKit';

const T0 = Date.UTC(2026, 11, 1, 8, 0, 0);

/** A failover as the operation store ends it: steps in the order recorded, one still running when it ended. */
function failover(overrides: Partial<OperationRecord> = {}): OperationRecord {
  return {
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
    trigger: { kind: 'detector', reference: 'detect-3-123' },
    actor: 'controller',
    reason: 'head-b is active under epoch 4',
    steps: [
      {
        id: 'revoke-3',
        name: 'revoke the lease of epoch 3',
        startedAt: T0 + 100,
        endedAt: T0 + 100,
        outcome: 'ok',
      },
      // An acknowledgement's hooks ran before the record was created (control-plane time less their durations).
      {
        id: 'ack-head-a-demote-3',
        name: 'head-a ran demote (epoch 3): ok',
        startedAt: T0 - 300,
        endedAt: T0 + 200,
        outcome: 'ok',
        detail: { commandId: 'demote-3' },
      },
      {
        id: 'fence-head-a-3',
        name: 'fence head-a (power-off)',
        startedAt: T0 + 300,
        endedAt: T0 + 2000,
        outcome: 'failed',
        detail: { error: 'the cloud did not answer' },
      },
      { id: 'promote-head-b-4', name: 'promote head-b', startedAt: T0 + 2500, outcome: 'running' },
    ],
    ...overrides,
  };
}

let kit: OtelTestKit;
beforeEach(() => {
  kit = startOtelTestKit(api, sdkTrace, sdkMetrics);
});
afterEach(async () => {
  await kit.stop();
});

describe('emitOperationTelemetry', () => {
  it('emits one trace per ended operation: the root with its attributes, a child per step in order, inside it', () => {
    emitOperationTelemetry(failover());
    const spans = kit.spans();
    const root = spans.find((s) => s.name === 'operation failover');
    expect(root).toBeDefined();
    if (!root) return;
    const parent = operationTraceParent('hpc-1', 'failover-7');
    expect(root.spanContext().traceId).toBe(parent.traceId);
    expect(root.parentSpanContext?.spanId).toBe(parent.spanId);
    expect(root.attributes).toEqual({
      'failoverplane.cluster.id': 'hpc-1',
      'failoverplane.operation.id': 'failover-7',
      'failoverplane.operation.kind': 'failover',
      'failoverplane.operation.outcome': 'succeeded',
      'failoverplane.epoch.from': 3,
      'failoverplane.epoch.to': 4,
      'failoverplane.reason': 'head-b is active under epoch 4',
      'failoverplane.trigger.kind': 'detector',
      'failoverplane.trigger.reference': 'detect-3-123',
      'failoverplane.actor': 'controller',
      'failoverplane.rto_ms': 4200,
    });
    expect(root.status.code).toBe(api.SpanStatusCode.OK);
    // The root covers the acknowledgement that started before the record.
    expect(msOf(root.startTime)).toBe(T0 - 300);
    expect(msOf(root.endTime)).toBe(T0 + 5000);

    const children = spans.filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId);
    // Exported as they end (children first), one per step, in the recorded order.
    expect(children.map((s) => s.attributes['failoverplane.step.id'])).toEqual([
      'revoke-3',
      'ack-head-a-demote-3',
      'fence-head-a-3',
      'promote-head-b-4',
    ]);
    expect(children.map((s) => s.name)).toEqual([
      'revoke the lease of epoch 3',
      'head-a ran demote (epoch 3): ok',
      'fence head-a (power-off)',
      'promote head-b',
    ]);
    expect(children.map((s) => [msOf(s.startTime) - T0, msOf(s.endTime) - T0])).toEqual([
      [100, 100],
      [-300, 200],
      [300, 2000],
      // Still running when the operation ended: it ends with it.
      [2500, 5000],
    ]);
    for (const child of children) {
      expect(child.spanContext().traceId).toBe(parent.traceId);
      expect(msOf(child.startTime)).toBeGreaterThanOrEqual(msOf(root.startTime));
      expect(msOf(child.endTime)).toBeLessThanOrEqual(msOf(root.endTime));
    }
    const fence = children[2];
    expect(fence?.attributes['failoverplane.step.outcome']).toBe('failed');
    expect(fence?.status).toEqual({ code: api.SpanStatusCode.ERROR, message: 'the cloud did not answer' });
    expect(fence?.attributes['failoverplane.step.detail']).toBe('{"error":"the cloud did not answer"}');
    expect(spans).toHaveLength(5);
  });

  it('puts every emission of one operation in the same trace, and different operations in different traces', () => {
    emitOperationTelemetry(failover());
    emitOperationTelemetry(failover());
    emitOperationTelemetry(failover({ operationId: 'failover-8' }));
    const roots = kit.spans().filter((s) => s.name === 'operation failover');
    expect(roots).toHaveLength(3);
    expect(roots[0]?.spanContext().traceId).toBe(roots[1]?.spanContext().traceId);
    expect(roots[2]?.spanContext().traceId).not.toBe(roots[0]?.spanContext().traceId);
    // The cluster is part of the identity: the same operation id in another cluster is another trace.
    expect(operationTraceParent('hpc-2', 'failover-7').traceId).not.toBe(roots[0]?.spanContext().traceId);
  });

  it('emits nothing for an operation that has not ended', async () => {
    emitOperationTelemetry(failover({ endedAt: undefined, status: 'running' }));
    emitOperationTelemetry(undefined);
    expect(kit.spans()).toEqual([]);
    expect(await kit.points('failoverplane.operations')).toEqual([]);
  });

  it('marks a failed operation as an error with its reason', () => {
    emitOperationTelemetry(
      failover({
        status: 'failed',
        reason: 'rolled back: head-a is active again',
        code: 'RolledBack',
        steps: [],
      }),
    );
    const [root] = kit.spans();
    expect(root?.status).toEqual({
      code: api.SpanStatusCode.ERROR,
      message: 'rolled back: head-a is active again',
    });
    expect(root?.attributes['failoverplane.operation.code']).toBe('RolledBack');
  });

  it('traces drills and spillovers with the same shape', () => {
    emitOperationTelemetry(
      failover({
        kind: 'drill',
        operationId: 'drill-1',
        status: 'succeeded',
        drillId: 'drill-1',
        toEpoch: undefined,
      }),
    );
    emitOperationTelemetry(
      failover({ kind: 'spillover', operationId: 'spill-1', epoch: 0, toEpoch: undefined }),
    );
    const roots = kit.spans().filter((s) => s.name.startsWith('operation '));
    expect(roots.map((s) => s.name)).toEqual(['operation drill', 'operation spillover']);
    expect(roots[0]?.attributes['failoverplane.drill.id']).toBe('drill-1');
    expect(roots[0]?.attributes['failoverplane.epoch.to']).toBeUndefined();
  });

  it('counts operations by kind and outcome, failovers by outcome, and records the RTO of failovers and make-actives', async () => {
    emitOperationTelemetry(failover());
    emitOperationTelemetry(
      failover({ operationId: 'failover-8', status: 'refused', rtoMs: undefined, code: 'CoolingDown' }),
    );
    emitOperationTelemetry(failover({ kind: 'make-active', operationId: 'ma-1', rtoMs: 900 }));
    emitOperationTelemetry(failover({ kind: 'drill', operationId: 'drill-1', rtoMs: 4200 }));
    expect(await kit.points('failoverplane.operations')).toEqual(
      expect.arrayContaining([
        {
          attributes: {
            'failoverplane.operation.kind': 'failover',
            'failoverplane.operation.outcome': 'succeeded',
          },
          value: 1,
        },
        {
          attributes: {
            'failoverplane.operation.kind': 'failover',
            'failoverplane.operation.outcome': 'refused',
          },
          value: 1,
        },
        {
          attributes: {
            'failoverplane.operation.kind': 'make-active',
            'failoverplane.operation.outcome': 'succeeded',
          },
          value: 1,
        },
        {
          attributes: {
            'failoverplane.operation.kind': 'drill',
            'failoverplane.operation.outcome': 'succeeded',
          },
          value: 1,
        },
      ]),
    );
    expect(await kit.points('failoverplane.failovers')).toEqual([
      {
        attributes: { 'failoverplane.operation.outcome': 'succeeded', 'failoverplane.cluster.id': 'hpc-1' },
        value: 1,
      },
      {
        attributes: { 'failoverplane.operation.outcome': 'refused', 'failoverplane.cluster.id': 'hpc-1' },
        value: 1,
      },
    ]);
    const rto = await kit.points('failoverplane.rto');
    // The drill's RTO is its legs' (already recorded by them): not recorded again.
    expect(
      rto.map((p) => [p.attributes['failoverplane.operation.kind'], p.value.count, p.value.sum]),
    ).toEqual([
      ['failover', 1, 4200],
      ['make-active', 1, 900],
    ]);
  });
});

describe('heartbeat and detection counters', () => {
  it('counts accepted and rejected heartbeats (by reason) and detections', async () => {
    countHeartbeat({ ok: true });
    countHeartbeat({ ok: true });
    countHeartbeat({ ok: false, code: 'ReplayedSequence' });
    countHeartbeat({ ok: false, code: 'BadSignature' });
    countHeartbeat({ ok: false, code: 'BadSignature' });
    countDetection('hpc-1');
    expect(await kit.points('failoverplane.heartbeats.accepted')).toEqual([{ attributes: {}, value: 2 }]);
    expect(await kit.points('failoverplane.heartbeats.rejected')).toEqual([
      { attributes: { 'failoverplane.reason': 'ReplayedSequence' }, value: 1 },
      { attributes: { 'failoverplane.reason': 'BadSignature' }, value: 2 },
    ]);
    expect(await kit.points('failoverplane.detections')).toEqual([
      { attributes: { 'failoverplane.cluster.id': 'hpc-1' }, value: 1 },
    ]);
  });

  it('follows the global meter provider when it changes (instruments made before it would stay no-ops)', async () => {
    countHeartbeat({ ok: true });
    await kit.stop();
    countHeartbeat({ ok: true }); // no provider: a no-op, no error
    kit = startOtelTestKit(api, sdkTrace, sdkMetrics);
    countHeartbeat({ ok: true });
    expect(await kit.points('failoverplane.heartbeats.accepted')).toEqual([{ attributes: {}, value: 1 }]);
  });
});
