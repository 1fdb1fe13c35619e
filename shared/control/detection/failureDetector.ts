import { detectFailure } from '../../domain/decisions';
import type { ClusterDocument } from '../../domain/clusterDocument';
import { mapLimit } from '../../util/mapLimit';
import type { Services } from '../../services/services';

export interface Detection {
  clusterId: string;
  epoch: number;
  activeNodeId: string;
  created: boolean;
}

/**
 * Finds active nodes whose heartbeats stopped beyond the policy and records one detection per (cluster, epoch):
 * the operation id is `detect-<epoch>` and creating it is conditional, so several host instances running this
 * at once record it exactly once.
 */
export async function detectFailures(services: Services, concurrency = 16): Promise<Detection[]> {
  const documents = await services.clusters.listDocuments();
  // Clusters are checked in parallel (bounded): a round must stay well under the 1 s timer period as clusters grow.
  const results = await mapLimit(documents, concurrency, ({ document }) => checkCluster(services, document));
  return results.filter((d): d is Detection => d !== undefined);
}

async function checkCluster(services: Services, document: ClusterDocument): Promise<Detection | undefined> {
  const stored = await services.clusters.getState(document.id);
  const state = stored?.state;
  if (!state || state.revoked || !state.activeNodeId) return undefined;
  const activeNodeId = state.activeNodeId;
  const lastAsActive =
    state.activeHeartbeat?.nodeId === activeNodeId ? state.activeHeartbeat.receivedAt : undefined;
  const row =
    lastAsActive === undefined ? await services.heartbeats.get(document.id, activeNodeId) : undefined;
  // A cluster that never heard from its active counts from when its state last changed (declaration, promotion).
  const lastHeartbeatAt = lastAsActive ?? row?.record.receivedAt ?? state.updatedAt;
  const now = services.now();
  const verdict = detectFailure(lastHeartbeatAt, now, document.detection);
  if (!verdict.failed) return undefined;
  const result = await services.operations.createOnce({
    clusterId: document.id,
    operationId: `detect-${state.epoch}`,
    kind: 'failure-detected',
    status: 'pending',
    createdAt: now,
    updatedAt: now,
    epoch: state.epoch,
    evidence: {
      activeNodeId,
      lastHeartbeatAt: new Date(lastHeartbeatAt).toISOString(),
      missedHeartbeats: verdict.missed,
      silentForMs: verdict.silentForMs,
      heartbeatIntervalMs: document.detection.heartbeatIntervalMs,
      threshold: document.detection.missedHeartbeats,
    },
  });
  if (result.created) {
    await services.audit.append({
      clusterId: document.id,
      at: now,
      actor: 'controller',
      action: 'failure-detected',
      detail: result.operation.evidence,
    });
  }
  return { clusterId: document.id, epoch: state.epoch, activeNodeId, created: result.created };
}
