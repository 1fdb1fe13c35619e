import { storageCall } from '../../stores/storageCall';
import { BlobWitness } from '../../witness/blobWitness';
import { WitnessNotFoundError } from '../../errors';
import type { Services } from '../../services/services';
import { refuse, type Outcome } from '../common/outcome';

/** What deleting a cluster would remove, and what stands in the way: the confirmation screen of `DELETE`. */
export interface DeleteClusterPlan {
  clusterId: string;
  nodes: string[];
  /** What goes: the document and state always (when present), and per kind the rows and blobs that exist. */
  removes: {
    document: true;
    state: boolean;
    /** Nodes with a heartbeat row. */
    heartbeats: string[];
    /** The witness record (blob) exists. */
    witness: boolean;
    /**
     * Nodes with an issued key, including nodes removed from the document earlier (retired: a re-declared cluster
     * never gets these versions again).
     */
    nodeKeys: string[];
    /** Pools with live state (demand, headroom, cool-downs) and their placement records. */
    pools: string[];
  };
  /** Pool nodes running in the clouds (placement records): deleting the cluster would leave them unmanaged. */
  poolNodes: { poolId: string; running: number }[];
  /** Kept: the audit log and the operations and drill history stay readable under the cluster id. */
  keeps: string[];
  /** The detection window (interval × missed heartbeats): a node heard from within it is live. */
  detectionWindowMs: number;
  /** Nodes heard from within the detection window, with their heartbeat age. */
  heartbeating: { nodeId: string; ageMs: number }[];
  /** Unfinished operations (a pending failure detection does not count: it ends with the state). */
  runningOperations: { operationId: string; kind: string; status: string }[];
  /** Why a confirmed deletion would be refused (empty: it can run; `force` lifts only the heartbeat one). */
  blockers: string[];
  canRun: boolean;
}

export type DeleteClusterCode =
  'ClusterNotFound' | 'NodesHeartbeating' | 'OperationRunning' | 'PoolNodesRunning';

export type DeleteClusterOutcome = Outcome<
  { deleted: false; plan: DeleteClusterPlan } | { deleted: true; plan: DeleteClusterPlan },
  DeleteClusterCode
>;

export interface DeleteClusterOptions {
  /** Without it the answer is the plan and nothing changes. */
  confirm?: boolean;
  /**
   * Delete even though nodes heartbeat or pool nodes run (never while an operation runs); pool nodes are then left
   * running in their clouds, no longer managed.
   */
  force?: boolean;
  /** Who asked (the audit entry's actor). Default `admin`. */
  actor?: string;
}

/** The plan of a cluster's deletion, read now (undefined: no such cluster). */
export async function deleteClusterPlan(
  services: Services,
  clusterId: string,
): Promise<DeleteClusterPlan | undefined> {
  const stored = await services.clusters.getDocument(clusterId);
  if (!stored) return undefined;
  const { document } = stored;
  const nodes = document.nodes.map((n) => n.id);
  const poolIds = (document.pools ?? []).map((p) => p.id);
  const [state, heartbeats, witness, credentials, pools, operations] = await Promise.all([
    services.clusters.getState(clusterId),
    services.heartbeats.listForCluster(clusterId),
    services.witness.read(clusterId).then(
      () => true,
      (error: unknown) => {
        if (error instanceof WitnessNotFoundError) return false;
        throw error;
      },
    ),
    services.credentials.nodesWithKeys(clusterId),
    Promise.all(poolIds.map((p) => services.pools.get(clusterId, p))),
    services.operations.listUnfinished(clusterId),
  ]);
  const placed = await Promise.all(poolIds.map((p) => services.placements.list(clusterId, p)));
  const poolNodes = poolIds
    .map((poolId, i) => ({ poolId, running: placed[i]?.length ?? 0 }))
    .filter((p) => p.running > 0);
  const now = services.now();
  const windowMs = document.detection.heartbeatIntervalMs * document.detection.missedHeartbeats;
  const latest = new Map<string, number>();
  for (const hb of [...heartbeats, ...(state?.state.activeHeartbeat ? [state.state.activeHeartbeat] : [])])
    latest.set(hb.nodeId, Math.max(latest.get(hb.nodeId) ?? 0, hb.receivedAt));
  const heartbeating = nodes.flatMap((nodeId) => {
    const at = latest.get(nodeId);
    return at !== undefined && now - at <= windowMs ? [{ nodeId, ageMs: Math.max(0, now - at) }] : [];
  });
  const running = operations
    .filter((o) => !(o.kind === 'failure-detected' && o.status === 'pending'))
    .map((o) => ({ operationId: o.operationId, kind: o.kind, status: o.status }));
  const blockers = [
    ...running.map((o) => `${o.kind} ${o.operationId} is ${o.status}: wait for it to end`),
    ...heartbeating.map(
      (h) =>
        `${h.nodeId} heartbeated ${h.ageMs} ms ago (within the ${windowMs} ms detection window): stop its agent, or force`,
    ),
    ...poolNodes.map(
      (p) =>
        `pool ${p.poolId} has ${p.running} node(s) running: set its demand to 0 first, or force (they keep running, unmanaged)`,
    ),
  ];
  return {
    clusterId,
    nodes,
    removes: {
      document: true,
      state: state !== undefined,
      heartbeats: nodes.filter((n) => heartbeats.some((hb) => hb.nodeId === n)),
      witness,
      // Nodes removed from the document earlier keep their keys until the cluster goes: retire those too.
      nodeKeys: [
        ...nodes.filter((n) => credentials.includes(n)),
        ...credentials.filter((n) => !nodes.includes(n)),
      ],
      pools: poolIds.filter((_p, i) => pools[i] !== undefined || (placed[i]?.length ?? 0) > 0),
    },
    poolNodes,
    keeps: ['audit log', 'operations history', 'drill reports'],
    detectionWindowMs: windowMs,
    heartbeating,
    runningOperations: running,
    blockers,
    canRun: blockers.length === 0,
  };
}

/**
 * `DELETE /api/v1/clusters/{clusterId}`: without `confirm` the plan (nothing changes); confirmed, removes the
 * cluster's state, heartbeats, command acknowledgements, witness record, node keys (retired, never re-issued) and pool
 * state, then its document,
 * and audits `cluster-deleted`. Refused (409, with the plan) while an operation runs, and while a node heartbeats
 * within the detection window unless `force`. The document goes last, so a deletion interrupted half-way is finished
 * by asking again.
 */
export async function deleteCluster(
  services: Services,
  clusterId: string,
  options: DeleteClusterOptions = {},
): Promise<DeleteClusterOutcome> {
  const plan = await deleteClusterPlan(services, clusterId);
  if (!plan) return refuse('not-found', 'ClusterNotFound', `cluster ${clusterId} is not declared`);
  if (!options.confirm) return { ok: true, deleted: false, plan };
  if (plan.runningOperations.length > 0)
    return refuse(
      'conflict',
      'OperationRunning',
      `cluster ${clusterId} has an operation running (${plan.runningOperations.map((o) => o.operationId).join(', ')}): wait for it to end`,
      { plan },
    );
  if (plan.heartbeating.length > 0 && !options.force)
    return refuse(
      'conflict',
      'NodesHeartbeating',
      `nodes of ${clusterId} heartbeated within the detection window (${plan.heartbeating.map((h) => h.nodeId).join(', ')}): stop their agents first, or force`,
      { plan },
    );
  if (plan.poolNodes.length > 0 && !options.force)
    return refuse(
      'conflict',
      'PoolNodesRunning',
      `pools of ${clusterId} have nodes running (${plan.poolNodes.map((p) => `${p.poolId}: ${p.running}`).join(', ')}): set their demand to 0 first, or force`,
      { plan },
    );
  const at = services.now();
  // Keys first: from here on the agents' requests are refused (this process forgets its cached versions now).
  for (const nodeId of plan.removes.nodeKeys) {
    await services.credentials.retire(clusterId, nodeId, at);
    services.agents.directory.forgetNode(clusterId, nodeId);
  }
  await services.clusters.deleteState(clusterId);
  await Promise.all(plan.nodes.map((n) => services.heartbeats.delete(clusterId, n)));
  // Command ids repeat per epoch (`promote-2`): a cluster declared again must not find these acknowledgements.
  await Promise.all(plan.nodes.map((n) => services.commandAcks.deleteForNode(clusterId, n)));
  await Promise.all(plan.removes.pools.map((p) => services.pools.delete(clusterId, p)));
  await Promise.all(plan.removes.pools.map((p) => services.placements.deleteForPool(clusterId, p)));
  await services.witness.breakLease(clusterId, { breakPeriodSeconds: 0 });
  await storageCall(`witness of ${clusterId}`, () =>
    services.witness.container.getBlockBlobClient(BlobWitness.blobName(clusterId)).deleteIfExists(),
  );
  await services.clusters.deleteDocument(clusterId);
  await services.audit.append({
    clusterId,
    at,
    actor: options.actor ?? 'admin',
    action: 'cluster-deleted',
    detail: {
      nodes: plan.nodes,
      forced: plan.heartbeating.length > 0,
      heartbeating: plan.heartbeating.map((h) => h.nodeId),
      removed: plan.removes,
    },
  });
  return { ok: true, deleted: true, plan };
}
