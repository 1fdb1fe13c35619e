import type { ClusterDocument } from '../../domain/clusterDocument';
import type { ClusterState } from '../../domain/clusterState';
import { NO_ACTIVE } from '../../domain/clusterStatus';
import {
  currentEpoch,
  defaultFenceMethod,
  legFenceMethod,
  nextFailoverStep,
  recordStep,
  type FailoverEvidence,
  type FailoverPlan,
  type FailoverProgress,
  type FailoverStep,
  type FencingEvidence,
  type NodeEvidence,
} from '../../domain/failoverSteps';
import type { PowerState } from '../../providers/computeProvider';
import type { Services } from '../../services/services';
import type { CommandAckRecord } from '../../stores/commandAckStore';
import type { OperationStatus, OperationStep } from '../../stores/operationStore';
import { withWitnessDecision } from '../common/witnessDecision';
import { nodeRef } from './nodeRef';
import { AUTOMATIC_TRIGGERS, automaticFailoverRefusal } from './failoverPolicy';
import { endDetection } from '../detection/failureDetector';
import { emitOperationTelemetry } from '../../telemetry/emitOperationTelemetry';
import type {
  AdvanceInput,
  AdvanceOutcome,
  BeginOutcome,
  ClusterOperationInput,
  ClusterOperationResult,
} from './clusterOperationTypes';

/** Whether the cluster uses peer promises: document `detection.peerLeases`, default true. */
export function peerLeasesOn(document: ClusterDocument): boolean {
  return (document.detection as { peerLeases?: boolean }).peerLeases !== false;
}

/** How many decisions one turn may take before it hands back to the orchestrator (steps that write nothing loop). */
const MAX_STEPS_PER_TURN = 12;

const end = (
  input: ClusterOperationInput,
  status: OperationStatus,
  reason: string,
  state: ClusterState | undefined,
  code?: string,
): ClusterOperationResult => ({
  operationId: input.operationId,
  status,
  reason,
  ...(code ? { code } : {}),
  activeNodeId: state && !state.revoked ? state.activeNodeId : null,
  epoch: state?.epoch ?? 0,
});

/**
 * The first activity of an operation: records it (once, under its id) and makes its plan from the document and the
 * state as they are now. A cluster that does not exist, or a make-active without a target, ends here.
 */
export async function beginClusterOperation(
  services: Services,
  input: ClusterOperationInput,
): Promise<BeginOutcome> {
  const [stored, state] = await Promise.all([
    services.clusters.getDocument(input.clusterId),
    services.clusters.getState(input.clusterId),
  ]);
  const now = services.now();
  // A failover drill silenced this active on purpose: the failover it causes is the drill's measurement, so the
  // anti-flapping policy neither refuses it nor counts it against a real failover later. The record names the drill
  // from its creation, so the drill never mistakes it for a real failure. A make-active leg names its drill too.
  const silence = state?.state.drillSilence;
  const drillId =
    input.kind === 'failover' &&
    silence &&
    silence.epoch === state.state.epoch &&
    silence.nodeId === state.state.activeNodeId
      ? silence.drillId
      : input.trigger.kind === 'drill'
        ? input.trigger.reference
        : undefined;
  const record = await services.operations.createOnce({
    clusterId: input.clusterId,
    operationId: input.operationId,
    kind: input.kind,
    status: 'pending',
    createdAt: input.requestedAt,
    updatedAt: now,
    epoch: state?.state.epoch ?? 0,
    evidence: { reason: input.reason, avoidRegions: input.avoidRegions, force: input.force },
    trigger: input.trigger,
    actor: input.actor,
    targetNodeId: input.targetNodeId,
    ...(drillId ? { drillId } : {}),
  });
  // The same operation again (a redelivered webhook, a replayed activity): once it has ended it starts nothing.
  if (!record.created && record.operation.endedAt !== undefined) {
    const ended = record.operation;
    return {
      ok: false,
      result: {
        operationId: input.operationId,
        status: ended.status,
        reason: ended.reason ?? 'already ended',
        activeNodeId: null,
        epoch: ended.toEpoch ?? ended.epoch,
      },
    };
  }
  // The detection that started a failover is in its hands now: running, so the detector no longer supersedes it.
  // A detection the detector already superseded (its active was heard again) starts nothing.
  if (input.trigger.kind === 'detector' && input.trigger.reference) {
    const detection = await services.operations.update(input.clusterId, input.trigger.reference, (op) =>
      op.status === 'pending'
        ? { ...op, status: 'running', updatedAt: now, outcome: { handledBy: input.operationId } }
        : op,
    );
    const handled = detection?.status === 'running' && detection.outcome?.handledBy === input.operationId;
    if (!handled) {
      const result = end(
        input,
        'superseded',
        `detection ${input.trigger.reference} no longer stands (${detection?.status ?? 'not found'})`,
        state?.state,
      );
      await finish(services, input, result, now);
      return { ok: false, result };
    }
  }
  if (!stored || !state) {
    const result = end(
      input,
      'refused',
      `cluster ${input.clusterId} is not declared`,
      undefined,
      'ClusterNotFound',
    );
    await finish(services, input, result, now);
    return { ok: false, result };
  }
  const document = stored.document;
  const automatic = AUTOMATIC_TRIGGERS.has(input.trigger.kind);
  const drillFailover = input.kind === 'failover' && record.operation.drillId !== undefined;
  if (input.kind === 'failover' && automatic && !input.force && !drillFailover) {
    const refusal = await automaticFailoverRefusal(services, input.clusterId, document.failover, now, {
      operationId: input.operationId,
    });
    if (refusal) {
      const result = end(input, 'refused', refusal.reason, state.state, refusal.code);
      await finish(services, input, result, now);
      return { ok: false, result };
    }
  }
  const oldActive = state.state.revoked ? null : state.state.activeNodeId || null;
  const fenceNode = document.nodes.find((n) => n.id === oldActive);
  const plan: FailoverPlan = {
    kind: input.kind,
    clusterId: input.clusterId,
    epoch: state.state.epoch,
    oldActive,
    target: input.targetNodeId,
    candidates: document.nodes
      .filter((n) => input.kind === 'make-active' || !input.avoidRegions.includes(n.site.region))
      .map((n) => ({ nodeId: n.id, priority: n.priority })),
    fencing: fenceNode ? defaultFenceMethod(fenceNode.compute) : 'lease-wait',
    nodes: document.nodes.map((n) => n.id),
    peerLeases: peerLeasesOn(document),
    // A failover drill's own failover is the drill's measurement, not the detector's judgement of a silent active.
    trigger: drillFailover ? 'drill' : input.trigger.kind,
  };
  await services.audit.append({
    clusterId: input.clusterId,
    at: now,
    actor: input.actor,
    action: `${input.kind}-started`,
    detail: {
      operationId: input.operationId,
      target: input.targetNodeId,
      reason: input.reason,
      epoch: plan.epoch,
    },
  });
  return { ok: true, plan, progress: {} };
}

/**
 * What the agents and the clouds say now: each node's latest heartbeat (and, for a promoted target, its promote
 * acknowledgement and its healthy heartbeats as the active), and fencing evidence about the holder of the epoch the
 * leg ends: its demotion (acknowledged, or said in its heartbeat), the fencer's fence-peer acknowledgement, the
 * cloud's power state once a power-off was asked for.
 */
async function gatherEvidence(
  services: Services,
  document: ClusterDocument,
  state: ClusterState,
  plan: FailoverPlan,
  progress: FailoverProgress,
): Promise<{ evidence: FailoverEvidence; acks: CommandAckRecord[] }> {
  const epoch = currentEpoch(plan, progress);
  const leg = progress.rollBack ?? progress.retry ?? progress;
  const promoted = leg.promoted;
  const [rows, promoteAck] = await Promise.all([
    services.heartbeats.listForCluster(document.id),
    promoted
      ? services.commandAcks.get(document.id, promoted.nodeId, `promote-${promoted.epoch}`)
      : Promise.resolve(undefined),
  ]);
  const streak = state.activeStreak;
  const nodes: NodeEvidence[] = document.nodes.map((node) => {
    const row = rows.find((r) => r.nodeId === node.id);
    const heard = state.activeHeartbeat?.nodeId === node.id ? state.activeHeartbeat : undefined;
    const latest = heard && (!row || heard.receivedAt >= row.receivedAt) ? heard : row;
    const ack =
      promoteAck && promoted?.nodeId === node.id && promoteAck.event.epoch === promoted.epoch
        ? { epoch: promoted.epoch, outcome: promoteAck.event.outcome }
        : undefined;
    return {
      nodeId: node.id,
      ...(latest ? { lastHeartbeatAt: latest.receivedAt, checks: latest.checks } : {}),
      ...(latest?.replicationLagMs !== undefined ? { replicationLagMs: latest.replicationLagMs } : {}),
      // Peer promises: the promise binding it, the epoch it closed (the step rules' rules on promises read them).
      ...(latest?.peer !== undefined ? { peer: latest.peer } : {}),
      ...(ack ? { promoteAck: ack } : {}),
      ...(streak?.nodeId === node.id
        ? { activeHeartbeats: { epoch: streak.epoch, count: streak.count } }
        : {}),
    };
  });
  const fencing: FencingEvidence[] = [];
  const acks: CommandAckRecord[] = promoteAck ? [promoteAck] : [];
  // The holder of the revoked epoch's lease: the node the leg must see fenced before its lease runs out.
  const fenced = state.revoked && state.epoch === epoch ? state.activeNodeId : null;
  if (fenced) {
    // The agent acknowledged its demotion under this epoch (the command the heartbeat path sends a revoked active).
    const demotions = await Promise.all(
      [`demote-${epoch}`, `fence-${epoch}`].map((id) => services.commandAcks.get(document.id, fenced, id)),
    );
    for (const ack of demotions) {
      if (ack) acks.push(ack);
      if (ack && ack.event.epoch === epoch && ack.event.outcome !== 'failed')
        fencing.push({ kind: 'demotion-ack', nodeId: fenced, epoch });
    }
    // Or its heartbeat says it stepped down under this epoch.
    const row = rows.find((r) => r.nodeId === fenced);
    if (row && (row.demotedAtEpoch ?? 0) >= epoch)
      fencing.push({ kind: 'demotion-ack', nodeId: fenced, epoch });
    // Or the cluster's fencer powered it off through its BMC.
    const request = state.fenceRequest;
    if (request && request.nodeId === fenced && request.epoch === epoch) {
      const ack = await services.commandAcks.get(
        document.id,
        request.fencer,
        `fence-peer-${fenced}-${epoch}`,
      );
      if (ack) acks.push(ack);
      if (ack && ack.event.epoch === epoch && ack.event.outcome !== 'failed')
        fencing.push({ kind: 'peer-fenced', nodeId: fenced, epoch, by: request.fencer });
    }
    if (legFenceMethod(plan, progress) === 'power-off' && leg.fencingStartedAt !== undefined) {
      const power = await powerStateOf(services, document, fenced);
      fencing.push({ kind: 'power-state', nodeId: fenced, epoch, power });
    }
  }
  return { evidence: { fencing, nodes }, acks };
}

/** An agent's acknowledgement as a step of the operation: what the command's hooks did, step by step. */
function ackStep(ack: CommandAckRecord): OperationStep {
  const e = ack.event;
  // Control-plane times: received, minus the hooks' own durations (the agent's clock is not ours).
  const received = Date.parse(e.receivedAt);
  const hookMs = e.steps.reduce((sum, step) => sum + step.durationMs, 0);
  return {
    id: `ack-${e.nodeId}-${e.commandId}`,
    name: `${e.nodeId} ran ${e.type} (epoch ${e.epoch}): ${e.outcome}`,
    outcome: e.outcome,
    startedAt: received - hookMs,
    endedAt: received,
    detail: {
      commandId: e.commandId,
      epoch: e.epoch,
      hookSteps: e.steps,
      ...(ack.message !== undefined ? { message: ack.message } : {}),
    },
  };
}

/**
 * Activities run at least once: re-run after a crash, a turn starts from the progress its crashed run was given,
 * which may lack the promotion that run committed. The state at the leg's epoch + 1 with the witness decided by
 * this operation for that epoch and node is that promotion: taken back into the progress (at the witness's
 * decision time), so the operation verifies its own promotion instead of mistaking it for somebody else's.
 */
async function withOwnPromotion(
  services: Services,
  input: ClusterOperationInput,
  plan: FailoverPlan,
  progress: FailoverProgress,
  state: ClusterState,
): Promise<FailoverProgress> {
  const leg = progress.rollBack ?? progress.retry ?? progress;
  const epoch = currentEpoch(plan, progress);
  if (leg.promoted || state.epoch !== epoch + 1 || state.revoked || !state.activeNodeId) return progress;
  const { record } = await services.witness.read(input.clusterId);
  if (
    record.decidedBy !== input.operationId ||
    record.epoch !== state.epoch ||
    record.activeNodeId !== state.activeNodeId
  )
    return progress;
  return recordStep(
    progress,
    { step: 'promote', target: state.activeNodeId, epoch: state.epoch, state },
    Date.parse(record.decidedAt),
  );
}

/** The nodes' evidence with the power state of each cloud node not heard from for a detection window. */
async function withPowerStates(
  services: Services,
  document: ClusterDocument,
  nodes: readonly NodeEvidence[],
  now: number,
): Promise<NodeEvidence[]> {
  const window = document.detection.heartbeatIntervalMs * document.detection.missedHeartbeats;
  return Promise.all(
    nodes.map(async (node) => {
      const silent = node.lastHeartbeatAt === undefined || now - node.lastHeartbeatAt >= window;
      if (!silent || !nodeRef(document, node.nodeId)) return node;
      return { ...node, power: await powerStateOf(services, document, node.nodeId) };
    }),
  );
}

/** How long a turn waits for a power state: a cloud slower than this counts as not answering (`unknown`). */
const POWER_READ_MS = 3000;

/** How long a fence's power-off is followed: never past the old lease, at most 10 s; the turns then read it back. */
function fenceCallMs(document: ClusterDocument): number {
  return Math.max(1000, Math.min(10_000, document.detection.leaseMs));
}

async function powerStateOf(
  services: Services,
  document: ClusterDocument,
  nodeId: string,
): Promise<'stopped' | 'running' | 'unknown'> {
  const found = nodeRef(document, nodeId);
  if (!found) return 'unknown';
  let power: PowerState;
  try {
    power = await services.providers
      .forSite(found.site)
      .getPowerState(found.ref, { abortSignal: AbortSignal.timeout(POWER_READ_MS) });
  } catch {
    // A cloud that does not answer (a region down) cannot confirm a fence: the lease wait still applies.
    return 'unknown';
  }
  return power === 'stopped' || power === 'deallocated'
    ? 'stopped'
    : power === 'unknown'
      ? 'unknown'
      : 'running';
}

/** A step as the operation record shows it; its id makes recording it again a replacement, not a duplicate. */
function describe(step: FailoverStep, now: number): OperationStep | undefined {
  const at = { startedAt: now, endedAt: now };
  switch (step.step) {
    case 'revoke':
      return {
        id: `revoke-${step.epoch}`,
        name: `revoke the lease of epoch ${step.epoch}`,
        outcome: 'ok',
        ...at,
      };
    case 'fence':
      return {
        id: `fence-${step.nodeId}-${step.epoch}`,
        name: `fence ${step.nodeId} (${step.method})`,
        outcome: 'running',
        startedAt: now,
      };
    case 'demote-gracefully':
      return {
        id: `demote-${step.nodeId}-${step.epoch}`,
        name: `demote ${step.nodeId} gracefully`,
        outcome: 'running',
        startedAt: now,
        detail: { deadline: new Date(step.deadline).toISOString() },
      };
    case 'confirm-fenced':
      return {
        id: `fenced-${step.nodeId}-${step.epoch}`,
        name: `${step.nodeId} is fenced`,
        outcome: 'ok',
        detail: { evidence: step.evidence },
        ...at,
      };
    case 'choose-target':
      return {
        id: `target-${step.target}`,
        name: `choose ${step.target}`,
        outcome: 'ok',
        detail: { reason: step.reason },
        ...at,
      };
    case 'promote':
      return {
        id: `promote-${step.target}-${step.epoch}`,
        name: `promote ${step.target} under epoch ${step.epoch}`,
        outcome: 'ok',
        ...at,
      };
    case 'roll-back':
      return {
        id: `roll-back-${step.epoch}`,
        name: `roll back to ${step.to}`,
        outcome: 'warn',
        detail: { reason: step.reason },
        ...at,
      };
    case 'start-target':
      return {
        id: `start-${step.nodeId}`,
        name: `start ${step.nodeId} through its cloud`,
        outcome: 'ok',
        detail: { reason: step.reason },
        ...at,
      };
    case 'retry':
      return {
        id: `retry-${step.from}-${step.epoch}`,
        name: `${step.from} did not take over: try the next candidate`,
        outcome: 'warn',
        detail: { reason: step.reason },
        ...at,
      };
    default:
      return undefined;
  }
}

async function finish(
  services: Services,
  input: ClusterOperationInput,
  result: ClusterOperationResult,
  now: number,
  rtoFrom?: number,
): Promise<void> {
  const ended = await services.operations.finish(input.clusterId, input.operationId, {
    status: result.status,
    reason: result.reason,
    at: now,
    toEpoch: result.epoch,
    ...(result.code !== undefined ? { code: result.code } : {}),
    ...(rtoFrom !== undefined ? { rtoMs: Math.max(0, now - rtoFrom) } : {}),
  });
  emitOperationTelemetry(ended);
  // The detection that started a failover ends with it (the detector no longer shows it as running).
  if (
    input.trigger.kind === 'detector' &&
    input.trigger.reference &&
    result.status !== 'running' &&
    result.status !== 'pending'
  )
    await endDetection(services, input.clusterId, input.trigger.reference, result.status, {
      operationId: input.operationId,
      reason: result.reason,
    });
  await services.audit.append({
    clusterId: input.clusterId,
    at: now,
    actor: input.actor,
    action: `${input.kind}-${result.status}`,
    detail: {
      operationId: input.operationId,
      reason: result.reason,
      ...(result.code !== undefined ? { code: result.code } : {}),
      epoch: result.epoch,
      active: result.activeNodeId,
    },
  });
}

/** Ends the fencing step of `nodeId` under `epoch` (fence or graceful demotion) if it is still running. */
async function endFencingStep(
  services: Services,
  input: ClusterOperationInput,
  nodeId: string,
  epoch: number,
  outcome: OperationStep['outcome'],
  detail: Record<string, unknown>,
  now: number,
): Promise<void> {
  const ids = new Set([`fence-${nodeId}-${epoch}`, `demote-${nodeId}-${epoch}`]);
  await services.operations.update(input.clusterId, input.operationId, (op) => ({
    ...op,
    ...(op.steps
      ? {
          steps: op.steps.map((step) =>
            ids.has(step.id) && step.outcome === 'running'
              ? { ...step, outcome, endedAt: now, detail: { ...step.detail, ...detail } }
              : step,
          ),
        }
      : {}),
  }));
}

/** Steps that write the state: recorded on the operation only once the write succeeded. */
const WRITE_STEPS: ReadonlySet<FailoverStep['step']> = new Set(['revoke', 'confirm-fenced', 'promote']);

type Turn = { kind: 'again'; progress: AdvanceInput['progress'] } | { kind: 'out'; outcome: AdvanceOutcome };

/**
 * One turn of an operation: under the cluster's witness lease, read the state and the evidence, ask the step rules
 * what to do, do it, and repeat until the rules say to wait (a durable timer in the orchestrator) or the operation
 * ends. Write steps are conditional on the state just read; a lost race decides again on a fresh read.
 */
export async function advanceClusterOperation(
  services: Services,
  turn: AdvanceInput,
): Promise<AdvanceOutcome> {
  const { input, plan } = turn;
  let progress = turn.progress;
  const stored = await services.clusters.getDocument(input.clusterId);
  if (!stored) {
    const result = end(
      input,
      'failed',
      `cluster ${input.clusterId} was removed`,
      undefined,
      'ClusterNotFound',
    );
    await finish(services, input, result, services.now());
    return { next: 'end', result };
  }
  const document = stored.document;
  const interval = document.detection.heartbeatIntervalMs;
  for (let i = 0; i < MAX_STEPS_PER_TURN; i++) {
    const decided: Turn = await withWitnessDecision<Turn>(services, input.clusterId, input.operationId, {
      reconciled: (): Turn => ({ kind: 'again', progress }),
      decide: async ({ lease, state, etag }): Promise<Turn> => {
        const now = services.now();
        progress = await withOwnPromotion(services, input, plan, progress, state);
        const { evidence, acks } = await gatherEvidence(services, document, state, plan, progress);
        for (const ack of acks)
          await services.operations.recordStepIfAbsent(input.clusterId, input.operationId, ackStep(ack), now);
        const decide = (nodes = evidence.nodes) =>
          nextFailoverStep({
            plan,
            progress,
            state,
            evidence: { ...evidence, nodes },
            policy: {
              detection: document.detection,
              rpoMs: input.force ? Number.MAX_SAFE_INTEGER : document.failover.rpoObjectiveMs,
              verifyHeartbeats: document.failover.verifyHeartbeats,
              verifyTimeoutMs: document.failover.promoteTimeoutMs,
            },
            now,
          });
        let step = decide();
        // Nobody healthy: ask the clouds which silent nodes are stopped (a cold standby can be started), and decide
        // again. Only then: a provider call per silent cloud node is not for every turn.
        if (step.step === 'refuse' && step.code === 'NoHealthyTarget')
          step = decide(await withPowerStates(services, document, evidence.nodes, now));
        // A write step is recorded once its write succeeded (a lost race decides again); the others before acting.
        const recorded = describe(step, now);
        const record = async () => {
          if (recorded)
            await services.operations.recordStep(input.clusterId, input.operationId, recorded, now);
        };
        if (!WRITE_STEPS.has(step.step)) await record();
        switch (step.step) {
          case 'superseded': {
            const result = end(input, 'superseded', `the cluster moved on to epoch ${step.epoch}`, state);
            await finish(services, input, result, now);
            return { kind: 'out', outcome: { next: 'end', result } };
          }
          case 'refuse': {
            // A failover that revoked the active and found nobody to promote leaves the cluster with no active:
            // the state says why, so the status does too (a refusal before the revoke changed nothing).
            const noActive = state.revoked && state.epoch === currentEpoch(plan, progress);
            if (noActive)
              await services.clusters.replaceState(
                { ...state, updatedAt: now, reason: `${NO_ACTIVE}${step.message}` },
                etag,
              );
            // Refused before it changed anything; failed when it had (revoked, promoted, rolled back).
            const changed = state.revoked || state.epoch !== plan.epoch;
            const result = end(input, changed ? 'failed' : 'refused', step.message, state, step.code);
            await finish(services, input, result, now);
            return { kind: 'out', outcome: { next: 'end', result } };
          }
          case 'done': {
            const status: OperationStatus = step.outcome === 'rolled-back' ? 'failed' : 'succeeded';
            const reason =
              step.outcome === 'already-active'
                ? `${step.activeNodeId} is already active`
                : step.outcome === 'rolled-back'
                  ? `rolled back: ${step.activeNodeId} is active again under epoch ${step.epoch}`
                  : `${step.activeNodeId} is active under epoch ${step.epoch}${step.verified ? '' : ' (not verified in time)'}`;
            const result = {
              ...end(input, status, reason, state),
              activeNodeId: step.activeNodeId,
              epoch: step.epoch,
            };
            if (step.outcome !== 'already-active')
              await services.operations.recordStep(
                input.clusterId,
                input.operationId,
                {
                  id: `verify-${step.activeNodeId}-${step.epoch}`,
                  name: `${step.activeNodeId} verified as the active`,
                  outcome: step.verified ? 'ok' : 'warn',
                  startedAt: progress.promoted?.at ?? now,
                  endedAt: now,
                },
                now,
              );
            await finish(services, input, result, now, input.requestedAt);
            return { kind: 'out', outcome: { next: 'end', result } };
          }
          case 'wait':
            // Evidence (an acknowledgement, a power state, a heartbeat) can end a wait early: look again after one
            // heartbeat interval at the latest.
            return {
              kind: 'out',
              outcome: {
                next: 'wait',
                until: Math.max(Math.min(step.until, now + interval), now + 1),
                progress,
                waitingFor: step.reason,
              },
            };
          case 'verify':
            return {
              kind: 'out',
              outcome: {
                next: 'wait',
                until: Math.max(Math.min(step.until, now + interval), now + 1),
                progress,
                waitingFor: `verify ${step.target} under epoch ${step.epoch}`,
              },
            };
          case 'fence':
            if (step.method === 'power-off') {
              const found = nodeRef(document, step.nodeId);
              if (found)
                await services.providers
                  .forSite(found.site)
                  .powerOff(found.ref, {
                    idempotencyKey: `${input.operationId}-fence-${step.nodeId}-${step.epoch}`,
                    // Raced with the lease wait, not awaited past it: a region that does not answer must not hold
                    // the failover (the next turns read the power state, the rules keep the lease wait).
                    deadlineMs: fenceCallMs(document),
                  })
                  .catch(() => undefined); // an unreachable cloud leaves the lease wait, which the rules keep
            }
            {
              // The cluster's fencer races the other fences: the state asks it (its heartbeat replies carry the
              // fence-peer command) until the epoch is recorded fenced.
              const fencer = document.failover.fencerNodeId;
              const primary = plan.kind === 'failover' && !progress.retry && !progress.rollBack;
              if (primary && fencer && fencer !== step.nodeId) {
                const write = await services.clusters.replaceState(
                  { ...state, fenceRequest: { nodeId: step.nodeId, epoch: step.epoch, fencer } },
                  etag,
                );
                if (!write.ok) return { kind: 'again', progress };
                await services.heartbeats.nudge(input.clusterId, fencer, now);
              }
            }
            return { kind: 'again', progress: recordStep(progress, step, now) };
          case 'start-target': {
            const found = nodeRef(document, step.nodeId);
            if (found)
              await services.providers
                .forSite(found.site)
                .start(found.ref, {
                  idempotencyKey: `${input.operationId}-start-${step.nodeId}`,
                  deadlineMs: 10_000, // its heartbeat says when it is up, not the cloud's operation
                })
                .catch(() => undefined); // not started: it sends no heartbeat, and the wait for it times out
            return { kind: 'again', progress: recordStep(progress, step, now) };
          }
          case 'choose-target':
          case 'roll-back':
          case 'retry':
          case 'demote-gracefully':
            return { kind: 'again', progress: recordStep(progress, step, now) };
          case 'revoke': {
            const write = await services.clusters.replaceState(step.state, etag);
            if (!write.ok) return { kind: 'again', progress };
            await record();
            // The other nodes read the revocation at their next heartbeat (not a cached state) and heartbeat at the
            // urgent interval from then on, so the promotion that follows reaches its target within one of those.
            await Promise.all(
              document.nodes
                .filter((n) => n.id !== step.state.activeNodeId)
                .map((n) => services.heartbeats.nudge(input.clusterId, n.id, now)),
            );
            return { kind: 'again', progress: recordStep(progress, step, now) };
          }
          case 'confirm-fenced': {
            const write = await services.clusters.replaceState(step.state, etag);
            if (!write.ok) return { kind: 'again', progress };
            await record();
            await endFencingStep(
              services,
              input,
              step.nodeId,
              step.epoch,
              'ok',
              { evidence: step.evidence },
              now,
            );
            return { kind: 'again', progress: recordStep(progress, step, now) };
          }
          case 'promote': {
            const { etag: witnessEtag } = await services.witness.read(input.clusterId);
            await services.witness.writeDecision(
              lease,
              {
                epoch: step.state.epoch,
                activeNodeId: step.state.activeNodeId,
                decidedAt: new Date(now).toISOString(),
                decidedBy: input.operationId,
                reason: step.state.reason,
              },
              witnessEtag,
            );
            const write = await services.clusters.replaceState(step.state, etag);
            if (!write.ok) return { kind: 'again', progress };
            await record();
            // A fence still running was not needed: the old lease and the drift margin ran out first.
            if (plan.oldActive && !progress.rollBack)
              await endFencingStep(
                services,
                input,
                plan.oldActive,
                plan.epoch,
                'warn',
                { endedBy: 'the old lease and the drift margin ran out' },
                now,
              );
            // Its next heartbeat is answered from the state just written (the promote command), not a cached read.
            await services.heartbeats.nudge(input.clusterId, step.target, now);
            await services.audit.append({
              clusterId: input.clusterId,
              at: now,
              actor: input.actor,
              action: 'promoted',
              detail: { operationId: input.operationId, nodeId: step.target, epoch: step.epoch },
            });
            return { kind: 'again', progress: recordStep(progress, step, now) };
          }
        }
      },
    });
    if (decided.kind === 'out') return decided.outcome;
    progress = decided.progress;
  }
  // Many decisions without a wait (evidence changing under us): come back shortly rather than loop here.
  return { next: 'wait', until: services.now() + interval, progress, waitingFor: 'settling' };
}

/** The operation's activities, bound to their dependencies. */
export function createClusterOperationActivities(services: Services) {
  return {
    beginClusterOperation: (input: ClusterOperationInput) => beginClusterOperation(services, input),
    advanceClusterOperation: (input: AdvanceInput) => advanceClusterOperation(services, input),
  };
}
