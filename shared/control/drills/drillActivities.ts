import type { ClusterDocument } from '../../domain/clusterDocument';
import type { ClusterState } from '../../domain/clusterState';
import {
  DRILL_HISTORY_POINTS,
  judgeDrill,
  worst,
  type DrillCheck,
  type DrillLeg,
  type DrillReport,
  type DrillResult,
} from '../../domain/drills';
import type { Services } from '../../services/services';
import type { OperationRecord, OperationStatus } from '../../stores/operationStore';
import { latestHeartbeats } from '../operations/makeActivePlan';
import { nodeRef } from '../operations/nodeRef';
import { renderDrillReportHtml } from './renderDrillReportHtml';
import { runValidateChecks } from './runValidateChecks';
import { emitOperationTelemetry } from '../../telemetry/emitOperationTelemetry';
import type {
  BeginDrillOutcome,
  DrillEnd,
  DrillInput,
  DrillObservation,
  DrillPlan,
  FinishDrillInput,
  ObserveDrillInput,
  ValidateOutcome,
} from './drillTypes';

/** Checks about these nodes decide whether a switchover or failover drill acts; checks about others only report. */
const CLUSTER_WIDE_CHECKS = new Set(['witness-writable', 'fence-path']);

/** The operation status a drill's record ends with, by result. */
const STATUS_OF: Record<DrillResult, OperationStatus> = {
  passed: 'succeeded',
  failed: 'failed',
  aborted: 'superseded',
  skipped: 'refused',
};

/** How long a failover drill keeps the active silent: long enough for the failover to end before it comes back. */
export function drillSilenceMs(document: ClusterDocument): number {
  const { heartbeatIntervalMs, missedHeartbeats, leaseMs, driftMarginMs } = document.detection;
  const window = heartbeatIntervalMs * missedHeartbeats;
  return window + leaseMs + driftMarginMs + Math.max(10_000, 2 * window);
}

/** The standby a drill moves the active role to: the one named, else the healthiest by priority. */
export function drillTarget(
  document: ClusterDocument,
  state: ClusterState | undefined,
  checks: readonly DrillCheck[],
  named: string | null,
): string | null {
  if (named) return named;
  const active = state && !state.revoked ? state.activeNodeId : null;
  const failed = new Set(checks.filter((c) => c.outcome === 'failed' && c.nodeId).map((c) => c.nodeId));
  const standbys = document.nodes
    .filter((n) => n.id !== active)
    .sort((a, b) => a.priority - b.priority || a.id.localeCompare(b.id));
  return (standbys.find((n) => !failed.has(n.id)) ?? standbys[0])?.id ?? null;
}

export function drillPlan(
  document: ClusterDocument,
  state: ClusterState | undefined,
  input: DrillInput,
  checks: readonly DrillCheck[],
): DrillPlan {
  const { heartbeatIntervalMs, missedHeartbeats } = document.detection;
  const window = heartbeatIntervalMs * missedHeartbeats;
  const silenceMs = drillSilenceMs(document);
  const legTimeoutMs =
    input.mode === 'failover'
      ? silenceMs + document.failover.promoteTimeoutMs + 2 * window + 30_000
      : document.failover.promoteTimeoutMs + 2 * window + 30_000;
  return {
    mode: input.mode,
    originalActive: state && !state.revoked ? state.activeNodeId : null,
    target: drillTarget(document, state, checks, input.targetNodeId ?? document.drill?.targetNodeId ?? null),
    epoch: state?.epoch ?? 0,
    objectives: { rtoMs: document.failover.rtoObjectiveMs, rpoMs: document.failover.rpoObjectiveMs },
    silenceMs,
    legTimeoutMs,
    pollMs: Math.max(100, Math.min(1000, Math.round(heartbeatIntervalMs / 4))),
  };
}

/** Why a switchover or failover drill must not act (its checks), or undefined. */
export function drillBlocker(
  plan: DrillPlan,
  document: ClusterDocument,
  checks: readonly DrillCheck[],
): string | undefined {
  if (plan.mode === 'validate') return undefined;
  if (!plan.originalActive) return 'the cluster has no active node to drill';
  if (!plan.target) return 'the cluster has no standby to drill';
  if (plan.target === plan.originalActive) return `${plan.target} is already the active node`;
  if (!document.nodes.some((n) => n.id === plan.target)) return `${plan.target} is not a node of the cluster`;
  if (plan.mode === 'failover' && document.failover.mode === 'manual')
    return 'failover.mode is manual: a failover drill needs automatic failover to measure';
  const blocking = checks.filter(
    (c) =>
      c.outcome === 'failed' &&
      (CLUSTER_WIDE_CHECKS.has(c.name) || c.nodeId === plan.target || c.nodeId === plan.originalActive),
  );
  if (blocking.length > 0)
    return `nothing was moved: ${blocking.map((c) => `${c.name}${c.nodeId ? ` (${c.nodeId})` : ''}`).join(', ')} failed`;
  return undefined;
}

/** The node an operation promoted last (its `promote-<node>-<epoch>` step), for a failover that chose its target. */
function promotedNode(op: OperationRecord): string | null {
  const promoted = [...(op.steps ?? [])]
    .reverse()
    .find((s) => s.outcome === 'ok' && /^promote-.+-\d+$/.test(s.id));
  return promoted ? promoted.id.replace(/^promote-/, '').replace(/-\d+$/, '') : null;
}

/** The target a failover chose (its latest `target-<node>` step). */
function chosenNode(op: OperationRecord): string | null {
  const chosen = [...(op.steps ?? [])].reverse().find((s) => s.id.startsWith('target-'));
  return chosen ? chosen.id.slice('target-'.length) : null;
}

/** A failover operation in a few words: its id and what started it. */
function describeFailover(op: OperationRecord): string {
  const why = op.evidence.reason;
  return `${op.operationId}: ${typeof why === 'string' ? why : (op.trigger?.kind ?? 'started')}`;
}

const isEnded = (op: OperationRecord | undefined) =>
  op !== undefined && op.status !== 'running' && op.status !== 'pending';

/**
 * The drill's activities (`drill-<clusterId>`): begin (record, check, plan), observe, the failover drill's silence,
 * finish (legs, judgement, report). `startDrillLeg` binds a durable client and lives in functions/durable/drill.ts.
 */
export function createDrillActivities(services: Services) {
  const recordStep = (input: DrillInput, step: Parameters<Services['operations']['recordStep']>[2]) =>
    services.operations.recordStep(input.clusterId, input.drillId, step, services.now());

  async function beginDrill(input: DrillInput): Promise<BeginDrillOutcome> {
    const now = services.now();
    const stored = await services.clusters.getDocument(input.clusterId);
    if (!stored)
      return {
        ok: false,
        end: {
          drillId: input.drillId,
          clusterId: input.clusterId,
          result: 'aborted',
          reasons: [`cluster ${input.clusterId} is not declared`],
        },
      };
    const document = stored.document;
    const state = (await services.clusters.getState(input.clusterId))?.state;
    const { operation, created } = await services.operations.createOnce({
      clusterId: input.clusterId,
      operationId: input.drillId,
      kind: 'drill',
      status: 'running',
      createdAt: input.requestedAt,
      updatedAt: now,
      epoch: state?.epoch ?? 0,
      evidence: { mode: input.mode },
      trigger: {
        kind: input.trigger.kind,
        ...(input.trigger.reference ? { reference: input.trigger.reference } : {}),
      },
      actor: input.actor,
      targetNodeId: input.targetNodeId,
      drillId: input.drillId,
    });
    // Run again after it ended (a redelivered start): the record says how.
    if (!created && isEnded(operation))
      return {
        ok: false,
        end: {
          drillId: input.drillId,
          clusterId: input.clusterId,
          result: (operation.outcome?.result as DrillEnd['result'] | undefined) ?? 'aborted',
          reasons: [operation.reason ?? 'ended earlier'],
        },
      };
    if (created)
      await services.audit.append({
        clusterId: input.clusterId,
        at: now,
        actor: input.actor,
        action: 'drill-started',
        detail: { drillId: input.drillId, mode: input.mode, trigger: input.trigger },
      });
    const validation: ValidateOutcome = (await runValidateChecks(services, input.clusterId, {
      drillId: input.drillId,
    })) ?? { checks: [], prediction: { ms: 0, parts: [] } };
    await services.operations.update(input.clusterId, input.drillId, (op) => ({
      ...op,
      steps: [
        ...(op.steps ?? []).filter((s) => !s.id.startsWith('check-')),
        ...validation.checks.map((c) => ({
          id: `check-${c.name}${c.nodeId ? `-${c.nodeId}` : ''}`,
          name: `check ${c.name}${c.nodeId ? ` of ${c.nodeId}` : ''}`,
          startedAt: c.startedAt,
          endedAt: c.startedAt + c.durationMs,
          outcome: c.outcome,
          detail: { detail: c.detail, ...(c.data ?? {}) },
        })),
      ],
      updatedAt: services.now(),
    }));
    const plan = drillPlan(document, state, input, validation.checks);
    const blocker = drillBlocker(plan, document, validation.checks);
    if (blocker)
      await recordStep(input, {
        id: 'blocked',
        name: 'preconditions',
        startedAt: services.now(),
        endedAt: services.now(),
        outcome: 'failed',
        detail: { reason: blocker },
      });
    return { ok: true, plan, validation, proceed: plan.mode !== 'validate' && blocker === undefined };
  }

  /** What the drill waits for now; `abort` when a failover it did not cause ran since it began. */
  async function observeDrill({ input, plan, operationId }: ObserveDrillInput): Promise<DrillObservation> {
    const { operations } = await services.operations.list(input.clusterId, {
      limit: 20,
      since: input.requestedAt,
    });
    const since = operations.filter((o) => o.operationId !== input.drillId);
    const foreign = since.find(
      (o) => o.kind === 'failover' && o.drillId !== input.drillId && o.operationId !== operationId,
    );
    if (operationId) {
      const op = await services.operations.get(input.clusterId, operationId);
      if (foreign)
        return {
          done: isEnded(op),
          ...(op ? { status: op.status } : {}),
          abort: `a failover ran during the drill (${describeFailover(foreign)})`,
          waitingFor: 'aborted',
        };
      if (!op) return { done: false, waitingFor: `${operationId} to start` };
      const running = [...(op.steps ?? [])].reverse().find((s) => s.outcome === 'running');
      return {
        done: isEnded(op),
        status: op.status,
        waitingFor: `${operationId}: ${running?.name ?? op.status}`,
      };
    }
    // failover mode: the failover the silence caused (the begin of a failover tags it with the drill id).
    const failover = since.find((o) => o.kind === 'failover' && o.drillId === input.drillId);
    if (!failover) {
      if (foreign)
        return {
          done: false,
          abort: `a failover not caused by the drill ran (${foreign.operationId})`,
          waitingFor: 'aborted',
        };
      await services.operations.recordStepIfAbsent(
        input.clusterId,
        input.drillId,
        {
          id: 'detection',
          name: `wait for the detection of ${plan.originalActive ?? 'the active'}'s silence`,
          startedAt: services.now(),
          outcome: 'running',
        },
        services.now(),
      );
      return { done: false, waitingFor: `the detection of ${plan.originalActive ?? 'the active'}'s silence` };
    }
    await services.operations.update(input.clusterId, input.drillId, (op) => {
      const steps = op.steps ?? [];
      const waiting = steps.find((s) => s.id === 'detection' && s.outcome === 'running');
      if (!waiting) return op;
      return {
        ...op,
        steps: steps.map((s) =>
          s === waiting
            ? {
                ...s,
                outcome: 'ok' as const,
                endedAt: failover.createdAt,
                detail: { failover: failover.operationId },
              }
            : s,
        ),
      };
    });
    const chosen = failover.targetNodeId ?? chosenNode(failover);
    if (chosen)
      await services.operations.recordStepIfAbsent(
        input.clusterId,
        input.drillId,
        {
          id: `rpo-${failover.operationId}`,
          name: `replication lag of ${chosen} at the switch`,
          startedAt: services.now(),
          endedAt: services.now(),
          outcome: 'ok',
          detail: {
            nodeId: chosen,
            rpoMs: await lagOf(input.clusterId, chosen),
          },
        },
        services.now(),
      );
    if (!isEnded(failover))
      return {
        done: false,
        failoverOperationId: failover.operationId,
        waitingFor: `failover ${failover.operationId}`,
      };
    if (failover.status !== 'succeeded')
      return {
        done: true,
        status: failover.status,
        failoverOperationId: failover.operationId,
        waitingFor: 'ended',
      };
    // The failover may have fenced the old active by powering its VM off: start it again (once), so it can come
    // back — a drill leaves the cluster as it found it, with the roles swapped.
    if (plan.originalActive) await restartIfFenced(input, plan.originalActive);
    const back = plan.originalActive
      ? (await services.heartbeats.get(input.clusterId, plan.originalActive))?.record
      : undefined;
    const isBack =
      back !== undefined &&
      back.role === 'standby' &&
      back.receivedAt > (failover.endedAt ?? 0) &&
      back.epoch >= (failover.toEpoch ?? 0);
    const backStep = {
      id: 'back-as-standby',
      name: `${plan.originalActive ?? ''} back as standby`,
      startedAt: failover.endedAt ?? services.now(),
    };
    if (isBack)
      await services.operations.recordStep(
        input.clusterId,
        input.drillId,
        { ...backStep, endedAt: back.receivedAt, outcome: 'ok', detail: { epoch: back.epoch } },
        services.now(),
      );
    else
      await services.operations.recordStepIfAbsent(
        input.clusterId,
        input.drillId,
        { ...backStep, outcome: 'running' },
        services.now(),
      );
    return {
      done: isBack,
      status: failover.status,
      failoverOperationId: failover.operationId,
      waitingFor: `${plan.originalActive ?? 'the old active'} back as standby`,
    };
  }

  /** Starts the old active's VM again when the failover's fence left it stopped; recorded as a step, once. */
  async function restartIfFenced(input: DrillInput, nodeId: string): Promise<void> {
    const stepId = `restart-${nodeId}`;
    const drillOp = await services.operations.get(input.clusterId, input.drillId);
    if (drillOp?.steps?.some((s) => s.id === stepId)) return;
    const document = (await services.clusters.getDocument(input.clusterId))?.document;
    const found = document && nodeRef(document, nodeId);
    if (!found) return;
    const provider = services.providers.forSite(found.site);
    const startedAt = services.now();
    let outcome: 'ok' | 'failed' | 'skipped' = 'ok';
    let detail: Record<string, unknown>;
    try {
      const power = await provider.getPowerState(found.ref, { abortSignal: AbortSignal.timeout(5000) });
      if (power === 'running' || power === 'starting') {
        outcome = 'skipped';
        detail = { powerState: power };
      } else {
        await provider.start(found.ref, { idempotencyKey: `${input.drillId}-${stepId}`, deadlineMs: 10_000 });
        detail = { powerState: power, started: true };
      }
    } catch (error) {
      outcome = 'failed';
      detail = { error: error instanceof Error ? error.message : String(error) };
    }
    await services.operations.recordStepIfAbsent(
      input.clusterId,
      input.drillId,
      {
        id: stepId,
        name: `start ${nodeId} again (the failover's fence may have stopped it)`,
        startedAt,
        endedAt: services.now(),
        outcome,
        detail,
      },
      services.now(),
    );
  }

  async function foreignFailover(input: DrillInput): Promise<string | undefined> {
    const { operations } = await services.operations.list(input.clusterId, {
      limit: 20,
      since: input.requestedAt,
    });
    const foreign = operations.find((o) => o.kind === 'failover' && o.drillId !== input.drillId);
    return foreign ? `a failover ran during the drill (${describeFailover(foreign)})` : undefined;
  }

  async function lagOf(clusterId: string, nodeId: string): Promise<number | null> {
    const [rows, state] = await Promise.all([
      services.heartbeats.listForCluster(clusterId),
      services.clusters.getState(clusterId),
    ]);
    const hb = latestHeartbeats(rows, state?.state).find((h) => h.nodeId === nodeId);
    return hb?.replicationLagMs ?? null;
  }

  async function requestDrillSilence({ input, plan }: ObserveDrillInput) {
    for (let attempt = 0; attempt < 8; attempt++) {
      const stored = await services.clusters.getState(input.clusterId);
      const state = stored?.state;
      if (
        !stored ||
        !state ||
        state.revoked ||
        !state.activeNodeId ||
        state.activeNodeId !== plan.originalActive ||
        state.epoch !== plan.epoch
      )
        return {
          requested: false,
          reason: 'the cluster changed since the drill began: nothing was silenced',
        };
      if (state.drillSilence?.drillId === input.drillId) return { requested: true };
      const write = await services.clusters.replaceState(
        {
          ...state,
          drillSilence: {
            nodeId: state.activeNodeId,
            epoch: state.epoch,
            silenceMs: plan.silenceMs,
            drillId: input.drillId,
          },
        },
        stored.etag,
      );
      if (write.ok) {
        await recordStep(input, {
          id: 'silence',
          name: `tell ${state.activeNodeId} to go silent for ${plan.silenceMs} ms`,
          startedAt: services.now(),
          endedAt: services.now(),
          outcome: 'ok',
          detail: { nodeId: state.activeNodeId, epoch: state.epoch, silenceMs: plan.silenceMs },
        });
        return { requested: true };
      }
    }
    return { requested: false, reason: 'the cluster state kept changing: nothing was silenced' };
  }

  async function endDrillSilence({ input }: ObserveDrillInput): Promise<null> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const stored = await services.clusters.getState(input.clusterId);
      if (!stored || stored.state.drillSilence?.drillId !== input.drillId) return null;
      const { drillSilence: _ended, ...rest } = stored.state;
      if ((await services.clusters.replaceState(rest, stored.etag)).ok) return null;
    }
    throw new Error(`the drill silence of ${input.clusterId} could not be cleared; retrying`);
  }

  async function finishDrill(finish: FinishDrillInput): Promise<DrillEnd> {
    const { input, plan, validation } = finish;
    const now = services.now();
    // A real failover while the drill ran (e.g. during its checks) wins: the drill's findings no longer describe
    // the cluster, so it ends aborted, naming the failover.
    const abort = finish.abort ?? (await foreignFailover(input));
    const drillOp = await services.operations.get(input.clusterId, input.drillId);
    const legs: DrillLeg[] = [];
    for (const operationId of finish.legOperationIds) {
      const op = await services.operations.get(input.clusterId, operationId);
      if (!op) continue;
      const rpoStep = drillOp?.steps?.find((s) => s.id === `rpo-${operationId}`);
      const rpo = rpoStep?.detail?.rpoMs;
      const from =
        op.kind === 'make-active'
          ? legs.length === 0
            ? plan.originalActive
            : plan.target
          : plan.originalActive;
      const to = op.targetNodeId ?? promotedNode(op);
      legs.push({
        name: `${from ?? '?'} → ${to ?? '?'}`,
        kind: op.kind === 'failover' ? 'failover' : 'make-active',
        operationId,
        from,
        to,
        status: op.status,
        startedAt: op.createdAt,
        ...(op.endedAt !== undefined ? { endedAt: op.endedAt } : {}),
        ...(op.rtoMs !== undefined ? { rtoMs: op.rtoMs } : {}),
        ...(typeof rpo === 'number' ? { rpoMs: rpo } : {}),
        steps: (op.steps ?? []).map((s) => ({
          name: s.name,
          outcome: s.outcome,
          startedAt: s.startedAt,
          ...(s.endedAt !== undefined ? { endedAt: s.endedAt, durationMs: s.endedAt - s.startedAt } : {}),
        })),
      });
    }
    const measured: DrillReport['measured'] = {
      ...(worst(legs.map((l) => l.rtoMs)) !== undefined ? { rtoMs: worst(legs.map((l) => l.rtoMs)) } : {}),
      ...(worst(legs.map((l) => l.rpoMs)) !== undefined ? { rpoMs: worst(legs.map((l) => l.rpoMs)) } : {}),
      predictedRtoMs: validation.prediction.ms,
      predictedRtoParts: validation.prediction.parts,
    };
    const judged = judgeDrill({
      mode: plan.mode,
      checks: validation.checks,
      legs,
      objectives: plan.objectives,
      measured,
    });
    const blocked = drillOp?.steps?.find((s) => s.id === 'blocked')?.detail?.reason;
    const reasons = [
      ...(abort ? [abort] : []),
      ...(typeof blocked === 'string' ? [blocked] : []),
      ...finish.notes,
      ...judged.reasons,
    ];
    const result: DrillResult = abort ? 'aborted' : reasons.length > 0 ? 'failed' : 'passed';
    const history = (await services.drills.history(input.clusterId, DRILL_HISTORY_POINTS)).filter(
      (p) => p.drillId !== input.drillId,
    );
    const report: DrillReport = {
      drillId: input.drillId,
      clusterId: input.clusterId,
      mode: plan.mode,
      trigger: input.trigger,
      actor: input.actor,
      startedAt: input.requestedAt,
      endedAt: now,
      result,
      reasons,
      objectives: plan.objectives,
      measured,
      checks: validation.checks,
      legs,
      history,
    };
    await services.drills.save(report, renderDrillReportHtml(report));
    const summary = reasons.length > 0 ? reasons.join('; ') : `drill ${result}`;
    const ended = await services.operations.update(input.clusterId, input.drillId, (op) =>
      op.endedAt !== undefined
        ? op
        : {
            ...op,
            status: STATUS_OF[result],
            reason: summary.slice(0, 2000),
            endedAt: now,
            updatedAt: now,
            outcome: { result, ...measured, predictedRtoParts: undefined },
            ...(measured.rtoMs !== undefined ? { rtoMs: measured.rtoMs } : {}),
          },
    );
    emitOperationTelemetry(ended);
    const missed = [
      measured.rtoMs !== undefined && measured.rtoMs > plan.objectives.rtoMs ? 'rto' : undefined,
      measured.rpoMs !== undefined && measured.rpoMs > plan.objectives.rpoMs ? 'rpo' : undefined,
      plan.mode === 'validate' && (measured.predictedRtoMs ?? 0) > plan.objectives.rtoMs
        ? 'predicted-rto'
        : undefined,
    ].filter((m): m is string => m !== undefined);
    await services.audit.append({
      clusterId: input.clusterId,
      at: now,
      actor: input.actor,
      action: missed.length > 0 ? 'drill-objective-missed' : 'drill-ended',
      detail: {
        drillId: input.drillId,
        mode: plan.mode,
        result,
        reasons,
        ...(missed.length > 0 ? { missed } : {}),
        ...(measured.rtoMs !== undefined ? { rtoMs: measured.rtoMs } : {}),
        ...(measured.rpoMs !== undefined ? { rpoMs: measured.rpoMs } : {}),
        predictedRtoMs: measured.predictedRtoMs,
      },
    });
    return { drillId: input.drillId, clusterId: input.clusterId, result, reasons };
  }

  return { beginDrill, observeDrill, requestDrillSilence, endDrillSilence, finishDrill };
}
