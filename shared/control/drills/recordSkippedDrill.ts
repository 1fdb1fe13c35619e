import type { DrillReport } from '../../domain/drills';
import type { Services } from '../../services/services';
import type { DrillInput } from './drillTypes';
import { renderDrillReportHtml } from './renderDrillReportHtml';
import { emitOperationTelemetry } from '../../telemetry/emitOperationTelemetry';

/**
 * A drill that could not start because another operation (or drill) was running on the cluster: recorded as
 * `skipped` with why — an operation record (refused, code `Skipped`), a report in the drill history, an audit
 * entry — so a schedule that never gets its drill shows it. Recording the same drill id again changes nothing.
 */
export async function recordSkippedDrill(services: Services, input: DrillInput, why: string): Promise<void> {
  const now = services.now();
  const stored = await services.clusters.getDocument(input.clusterId);
  const { created, operation } = await services.operations.createOnce({
    clusterId: input.clusterId,
    operationId: input.drillId,
    kind: 'drill',
    status: 'refused',
    code: 'Skipped',
    reason: `skipped: ${why}`,
    createdAt: input.requestedAt,
    updatedAt: now,
    endedAt: now,
    epoch: (await services.clusters.getState(input.clusterId))?.state.epoch ?? 0,
    evidence: { mode: input.mode },
    trigger: {
      kind: input.trigger.kind,
      ...(input.trigger.reference ? { reference: input.trigger.reference } : {}),
    },
    actor: input.actor,
    targetNodeId: input.targetNodeId,
    drillId: input.drillId,
    outcome: { result: 'skipped' },
  });
  if (!created) return;
  emitOperationTelemetry(operation);
  const report: DrillReport = {
    drillId: input.drillId,
    clusterId: input.clusterId,
    mode: input.mode,
    trigger: input.trigger,
    actor: input.actor,
    startedAt: input.requestedAt,
    endedAt: now,
    result: 'skipped',
    reasons: [why],
    objectives: {
      rtoMs: stored?.document.failover.rtoObjectiveMs ?? 0,
      rpoMs: stored?.document.failover.rpoObjectiveMs ?? 0,
    },
    measured: {},
    checks: [],
    legs: [],
    history: [],
  };
  await services.drills.save(report, renderDrillReportHtml(report));
  await services.audit.append({
    clusterId: input.clusterId,
    at: now,
    actor: input.actor,
    action: 'drill-skipped',
    detail: { drillId: input.drillId, mode: input.mode, reason: why },
  });
}
