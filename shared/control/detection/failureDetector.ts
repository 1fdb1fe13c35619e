import { activeHeardAt, detectionView, type DetectionView } from '../../domain/clusterState';
import { detectFailure, orphanedEpochDue } from '../../domain/decisions';
import type { OperationRecord, OperationStatus } from '../../stores/operationStore';
import { mapLimit } from '../../util/mapLimit';
import type { Services } from '../../services/services';
import { countDetection } from '../../telemetry/countDetection';

export interface Detection {
  clusterId: string;
  epoch: number;
  activeNodeId: string;
  operationId: string;
  created: boolean;
}

/**
 * The deterministic id of the detection of one silence: the epoch and the last evidence of the active's life (ms): its
 * last heartbeat, or the end of a peer's confirmation that came after it.
 */
export const detectionId = (epoch: number, lastHeardAt: number) => `detect-${epoch}-${lastHeardAt}`;

/**
 * One detector round. Its storage cost does not depend on the number of clusters beyond paging (ARCHITECTURE.md
 * "Detection at scale"): one query over the state table selecting each cluster's small detection view, one query of
 * the pending detections, then one conditional write per detection created or ended.
 *
 * - A detection is recorded for an active that was heard from as the active under the current epoch and has been
 *   silent for `missedHeartbeats` intervals since. Its id is `detect-<epoch>-<last heartbeat ms>`, created
 *   conditionally: exactly once per (cluster, epoch, silence) whichever host instances run the round.
 * - An active never heard from under its epoch (agent not installed yet, a promoted node that never took its lease)
 *   is not detected: there is no silence to measure, and the status says "active never heard from".
 * - A pending detection is ended as `superseded` when the epoch moved on or the active was heard again after it.
 */
export async function detectFailures(services: Services, concurrency = 16): Promise<Detection[]> {
  const [rows, pending] = await Promise.all([
    services.clusters.listDetectionViews(),
    services.operations.listPendingDetections(),
  ]);
  const views = new Map<string, DetectionView>();
  await mapLimit(rows, concurrency, async ({ clusterId, view }) => {
    const complete = view?.policy ? view : await fullView(services, clusterId, view);
    if (complete) views.set(clusterId, complete);
  });
  const now = services.now();
  const pendingIds = new Set(pending.map((op) => `${op.clusterId}/${op.operationId}`));
  await mapLimit(pending, concurrency, async (op) => {
    const reason = supersededBecause(op, views.get(op.clusterId));
    if (reason) await endDetection(services, op.clusterId, op.operationId, 'superseded', { reason });
  });
  const found = [...views].flatMap(([clusterId, view]) => {
    const silent = silence(view, now, services.startedAt);
    return silent ? [{ clusterId, view, ...silent }] : [];
  });
  // A cluster a failover left without an active (its epoch revoked, nobody promoted): another failover, once
  // per state version, when the state has not changed for `orphanRetryDelayMs`.
  const orphans = [...views].flatMap(([clusterId, view]) =>
    view.policy &&
    !view.policy.manual &&
    view.updatedAt !== undefined &&
    orphanedEpochDue(view, now, view.policy)
      ? [{ clusterId, view, updatedAt: view.updatedAt }]
      : [],
  );
  const retried = await mapLimit(orphans, concurrency, async ({ clusterId, view, updatedAt }) => {
    const operationId = orphanRetryId(view.epoch, updatedAt);
    const detection = {
      clusterId,
      epoch: view.epoch,
      activeNodeId: view.activeNodeId ?? 'none',
      operationId,
    };
    if (pendingIds.has(`${clusterId}/${operationId}`)) return { ...detection, created: false };
    // Only a cluster nothing works on: a failover waiting out a long lease, a drill or a make-active still running
    // has its own way forward (one query, and only for a cluster in this rare state).
    const unfinished = await services.operations.listUnfinished(clusterId);
    if (unfinished.some((op) => op.kind !== 'failure-detected')) return undefined;
    const evidence = {
      activeNodeId: view.activeNodeId,
      reason: `epoch ${view.epoch} was revoked and no node promoted since ${new Date(updatedAt).toISOString()}`,
      revokedSince: new Date(updatedAt).toISOString(),
    };
    const created = await createDetection(services, detection, evidence, now, 'failover-retry-due');
    return { ...detection, created };
  });
  const detected = await mapLimit(found, concurrency, async (silent) => {
    const operationId = detectionId(silent.view.epoch, silent.evidenceAt);
    // Already recorded and still pending: nothing to write (a round costs no request per known detection).
    if (pendingIds.has(`${silent.clusterId}/${operationId}`))
      return {
        clusterId: silent.clusterId,
        epoch: silent.view.epoch,
        activeNodeId: silent.activeNodeId,
        operationId,
        created: false,
      };
    return recordDetection(services, silent, now);
  });
  return [...detected, ...retried.filter((r): r is Detection => r !== undefined)];
}

/** The id of the retry of a revoked epoch left without an active, once per state version. */
export const orphanRetryId = (epoch: number, stateUpdatedAt: number) =>
  `detect-${epoch}-retry-${stateUpdatedAt}`;

/**
 * The detection of one cluster on a fresh read of its state, outside the detector's round: what a standby's
 * heartbeat asks for when the state it was answered from says the active has been silent for the window (the
 * heartbeat path's cached state may be up to a second old; this read is not). Recorded exactly as the round
 * records it (the same id), so whichever sees the silence first records it once. Undefined: no silence.
 */
export async function detectFailureOf(services: Services, clusterId: string): Promise<Detection | undefined> {
  const stored = await services.clusters.getState(clusterId);
  if (!stored) return undefined;
  const view = await fullView(services, clusterId, detectionView(stored.state));
  if (!view) return undefined;
  const now = services.now();
  const silent = silence(view, now, services.startedAt);
  return silent ? recordDetection(services, { clusterId, view, ...silent }, now) : undefined;
}

/** Records the detection of a silence once (conditional create) and audits it. */
async function recordDetection(
  services: Services,
  silent: { clusterId: string; view: DetectionView } & NonNullable<ReturnType<typeof silence>>,
  now: number,
): Promise<Detection> {
  const { clusterId, view, activeNodeId, heardAt, evidenceAt, verdict } = silent;
  const operationId = detectionId(view.epoch, evidenceAt);
  const detection = { clusterId, epoch: view.epoch, activeNodeId, operationId };
  const evidence = {
    activeNodeId,
    lastHeartbeatAt: new Date(heardAt).toISOString(),
    missedHeartbeats: verdict.missed,
    silentForMs: verdict.silentForMs,
    heartbeatIntervalMs: view.policy?.heartbeatIntervalMs,
    threshold: view.policy?.missedHeartbeats,
  };
  const created = await createDetection(services, detection, evidence, now, 'failure-detected');
  if (created) countDetection(clusterId);
  return { ...detection, created };
}

/** Records a detection once (conditional create) and audits it when this call created it. */
async function createDetection(
  services: Services,
  detection: { clusterId: string; operationId: string; epoch: number },
  evidence: Record<string, unknown>,
  now: number,
  action: string,
): Promise<boolean> {
  const { clusterId, operationId, epoch } = detection;
  const result = await services.operations.createOnce({
    clusterId,
    operationId,
    kind: 'failure-detected',
    status: 'pending',
    createdAt: now,
    updatedAt: now,
    epoch,
    evidence,
  });
  if (result.created)
    await services.audit.append({
      clusterId,
      at: now,
      actor: 'controller',
      action,
      detail: { operationId, ...evidence },
    });
  return result.created;
}

/**
 * The view of a state written before the `DetectionView` property or the policy copy existed: read in full (and
 * the document for the policy). Costs two reads for such a cluster, once: its next state write stores the view.
 */
async function fullView(
  services: Services,
  clusterId: string,
  partial: DetectionView | undefined,
): Promise<DetectionView | undefined> {
  const view =
    partial ?? (await services.clusters.getState(clusterId).then((s) => s && detectionView(s.state)));
  if (!view || view.policy) return view;
  const stored = await services.clusters.getDocument(clusterId);
  if (!stored) return undefined;
  const { heartbeatIntervalMs, missedHeartbeats } = stored.document.detection;
  return { ...view, policy: { heartbeatIntervalMs, missedHeartbeats } };
}

/**
 * The active's silence in a detection view, when it has lasted the detection window (pure).
 *
 * - None while a standby's promise confirms the active alive (`peerConfirmedUntil`, peer promises): the active
 *   reaches its peer, so its silence to the control plane alone is no failure. Detection resumes once it ends.
 * - The silence is counted from the later of the last heartbeat and `since` — when this host's detector started —
 *   so a control plane that was down (or unreachable) itself does not count its own outage as the node's silence:
 *   after a restart an active is detected a full window after the start at the earliest. `heardAt` stays the last
 *   heartbeat (the detection's id).
 */
export function silence(view: DetectionView, now: number, since = Number.NEGATIVE_INFINITY) {
  if (view.revoked || !view.activeNodeId || !view.policy) return undefined;
  if (view.peerConfirmedUntil !== undefined && now < view.peerConfirmedUntil) return undefined;
  const heardAt = activeHeardAt(view);
  if (heardAt === undefined) return undefined;
  const verdict = detectFailure(Math.max(heardAt, since), now, view.policy);
  // The detection's id names the last evidence of life: the last heartbeat, or the end of a peer's confirmation
  // after it. So a silence that outlived a peer confirmation is a new detection, even if a failover for the same
  // heartbeat was refused meanwhile (the active was confirmed alive then).
  const evidenceAt = Math.max(heardAt, view.peerConfirmedUntil ?? Number.NEGATIVE_INFINITY);
  return verdict.failed ? { activeNodeId: view.activeNodeId, heardAt, evidenceAt, verdict } : undefined;
}

/** Why a pending detection no longer stands, or undefined while it does. */
export function supersededBecause(op: OperationRecord, view: DetectionView | undefined): string | undefined {
  if (!view) return 'the cluster has no state any more';
  // Only a later epoch: a view read a moment before the detection was created must not end it.
  if (view.epoch > op.epoch) return `the epoch moved on from ${op.epoch} to ${view.epoch}`;
  const heardAt = activeHeardAt(view);
  const lastHeartbeatAt = Date.parse(String(op.evidence.lastHeartbeatAt));
  if (heardAt !== undefined && heardAt > lastHeartbeatAt)
    return `the active ${view.activeNodeId ?? ''} was heard again at ${new Date(heardAt).toISOString()}`;
  return undefined;
}

export type EndedStatus = Exclude<OperationStatus, 'pending' | 'running'>;
export type EndDetectionResult =
  | { ended: true; operation: OperationRecord }
  | { ended: false; reason: 'not-found' | 'already-ended' | 'conflict'; operation?: OperationRecord };

/**
 * Ends a detection (for the failover orchestration: `succeeded`/`failed`/`refused` for one it handled; the detector
 * uses `superseded`). Conditional on the record's ETag and re-read on a lost race, so it never overwrites another
 * ending: a detection ends once, and an ended one stays as it ended.
 */
export async function endDetection(
  services: Services,
  clusterId: string,
  operationId: string,
  status: EndedStatus,
  detail: Record<string, unknown>,
): Promise<EndDetectionResult> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const stored = await services.operations.getWithEtag(clusterId, operationId);
    if (!stored) return { ended: false, reason: 'not-found' };
    const { operation, etag } = stored;
    if (operation.status !== 'pending' && operation.status !== 'running')
      return { ended: false, reason: 'already-ended', operation };
    const now = services.now();
    const ended: OperationRecord = { ...operation, status, updatedAt: now, outcome: { ...detail, at: now } };
    const write = await services.operations.replace(ended, etag);
    if (write.ok) return { ended: true, operation: ended };
    if (write.reason === 'not-found') return { ended: false, reason: 'not-found' };
  }
  return { ended: false, reason: 'conflict' };
}
