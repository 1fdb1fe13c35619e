import type { CheckReport, PeerHeartbeat } from '../contracts/agentApi';

export type { CheckReport } from '../contracts/agentApi';

/** What one heartbeat said, and the request sequence it came with (replay protection). */
export interface NodeHeartbeat {
  clusterId: string;
  nodeId: string;
  seq: number;
  /** The key version `seq` was signed with: each key version has its own sequence (absent in older rows: 1). */
  keyVersion?: number;
  receivedAt: number;
  role: 'active' | 'standby';
  epoch: number;
  checks: CheckReport[];
  replicationLagMs?: number;
  gpu?: unknown;
  /** The epoch the node said it demoted itself under (it takes no grant under it), if it said so. */
  demotedAtEpoch?: number;
  /** The hooks the agent reports it has configured (what a validate drill checks). */
  hooks?: string[];
  /**
   * The control plane's receive time minus the agent's signed request timestamp: the agent's clock offset plus the
   * transit time (positive: the agent's clock is behind). What a validate drill's agent-clock check reads.
   */
  clockSkewMs?: number;
  /** What the node said of peer promises (its listener URL, the promise binding it, the epoch it closed). */
  peer?: PeerHeartbeat;
}

/** What the failure detector needs of the cluster document, copied into the state (see ARCHITECTURE.md). */
export interface DetectionPolicyCopy {
  heartbeatIntervalMs: number;
  missedHeartbeats: number;
  /**
   * The document's `failover.mode` is `manual`: the detector retries no failover for a cluster left without an
   * active (an operator decides). Absent: automatic.
   */
  manual?: boolean;
}

/**
 * The cluster-state entity: the single record through which every role change, lease grant and revocation of a
 * cluster is serialised (a Table entity written with If-Match). Times are the control plane's clock, in ms.
 */
export interface ClusterState {
  clusterId: string;
  /** Raised by every role change; agents refuse commands carrying a lower one. */
  epoch: number;
  /** The node granted the active role under `epoch`, or null while nobody is (between revoke and promote). */
  activeNodeId: string | null;
  /** The latest lease expiry recorded for the active node under `epoch` (null: none granted yet). */
  leaseExpiresAt: number | null;
  /** Set by a revocation: no lease may be granted under this epoch any more. */
  revoked: boolean;
  /** The lease of the revoked epoch is known to have ended early: its holder was fenced (stopped or demoted). */
  fenced: boolean;
  updatedAt: number;
  reason: string;
  /**
   * The active's latest heartbeat, kept in this entity so that the active's heartbeat costs one conditional write
   * (lease extension and heartbeat together) instead of two.
   */
  activeHeartbeat?: NodeHeartbeat;
  /**
   * The document's detection policy, copied here by the declaration (and kept equal to the document's on every
   * re-declaration), so that a detector round reads the state table only. Absent in states written before it existed.
   */
  detection?: DetectionPolicyCopy;
  /**
   * How many healthy heartbeats in a row `nodeId` sent as the active under `epoch` (reported role active, no failing
   * check): what a failover verifies its new active by. Kept by the active's heartbeat write, so it costs nothing.
   */
  activeStreak?: { nodeId: string; epoch: number; count: number };
  /**
   * A failover asks the cluster's fencer node to fence `nodeId`, the holder of the revoked `epoch`: the fencer's
   * heartbeat replies carry a `fence-peer` command until the state records the epoch fenced.
   */
  fenceRequest?: { nodeId: string; epoch: number; fencer: string };
  /**
   * Until when every node is told to heartbeat at the urgent interval although nothing else calls for it: a
   * make-active plan was just shown, so the operator's confirmation reaches the agents within an urgent interval.
   * A hint only (no decision reads it); absent in states written before it existed.
   */
  hastenUntil?: number;
  /**
   * A failover drill asks the active `nodeId` (under `epoch`) to go silent for `silenceMs`: its heartbeat replies
   * carry a `drill-silence` command (id `drill-silence-<drillId>`) until the drill ends or the epoch moves on.
   */
  drillSilence?: { nodeId: string; epoch: number; silenceMs: number; drillId: string };
  /**
   * Peer promises (shared/domain/peerPromises.ts): the promotable set of `epoch`, fixed when the epoch began (the
   * promotion, reaffirmation or first grant that started it) and never changed within it: the active's grants carry
   * it, and the active holds a peer lease only with a promise from every node in it. Absent: peer leases are off
   * under this epoch (document `detection.peerLeases: false`, or a state written before they existed).
   */
  promotable?: string[];
  /**
   * A standby's promise to the active under `epoch`, as its heartbeat reported it: the active is alive and reaches its
   * peer although the control plane does not hear it. Until `until` the detector records no failure. Written by the
   * heartbeat path (at most once per heartbeat interval while it holds).
   */
  peerConfirmed?: { by: string; epoch: number; until: number; at: number };
}

/** The next `activeStreak` after a heartbeat granted to `record.nodeId` under `epoch` (pure). */
export function nextActiveStreak(
  previous: ClusterState['activeStreak'],
  record: Pick<NodeHeartbeat, 'nodeId' | 'role' | 'checks'>,
  epoch: number,
): ClusterState['activeStreak'] {
  const healthy = record.role === 'active' && !record.checks.some((c) => c.status === 'fail');
  if (!healthy) return { nodeId: record.nodeId, epoch, count: 0 };
  const same = previous !== undefined && previous.nodeId === record.nodeId && previous.epoch === epoch;
  return { nodeId: record.nodeId, epoch, count: (same ? previous.count : 0) + 1 };
}

/**
 * The few fields of a cluster's state a failure-detector round needs, stored beside the state's JSON as one small
 * property (`DetectionView`) by every state write (ClusterStore), so that a round is one query selecting that property over the
 * whole state table instead of a read per cluster (ARCHITECTURE.md "Detection at scale").
 */
export interface DetectionView {
  epoch: number;
  activeNodeId: string | null;
  revoked: boolean;
  leaseExpiresAt: number | null;
  /** The heartbeat kept in the state (the active's latest): who sent it and when it was received. */
  heard: { nodeId: string; at: number } | null;
  /** The detection policy copied from the document (null: a state written before the copy existed). */
  policy: DetectionPolicyCopy | null;
  /** Until when a standby's promise confirms the active alive under `epoch` (absent: no such promise). */
  peerConfirmedUntil?: number;
  /** The state's last write (absent in views stored before it was kept): how long a revoked epoch has waited. */
  updatedAt?: number;
}

export function detectionView(state: ClusterState): DetectionView {
  return {
    epoch: state.epoch,
    activeNodeId: state.activeNodeId,
    revoked: state.revoked,
    leaseExpiresAt: state.leaseExpiresAt,
    heard: state.activeHeartbeat
      ? { nodeId: state.activeHeartbeat.nodeId, at: state.activeHeartbeat.receivedAt }
      : null,
    policy: state.detection ?? null,
    updatedAt: state.updatedAt,
    ...(state.peerConfirmed && state.peerConfirmed.epoch === state.epoch
      ? { peerConfirmedUntil: state.peerConfirmed.until }
      : {}),
  };
}

/**
 * When the active was last heard from *as the active under the current epoch*: its heartbeat is the one kept in the
 * state and a lease was granted under this epoch (a promotion clears the lease; only an active's heartbeat grants
 * one). Undefined: never heard from since it became active — nothing to measure a silence from.
 */
export function activeHeardAt(view: DetectionView): number | undefined {
  if (!view.activeNodeId || view.leaseExpiresAt === null) return undefined;
  return view.heard?.nodeId === view.activeNodeId ? view.heard.at : undefined;
}

export function initialClusterState(
  clusterId: string,
  activeNodeId: string,
  now: number,
  detection?: DetectionPolicyCopy,
  promotable?: readonly string[],
): ClusterState {
  return {
    ...(promotable ? { promotable: [...promotable] } : {}),
    ...(detection
      ? {
          detection: {
            heartbeatIntervalMs: detection.heartbeatIntervalMs,
            missedHeartbeats: detection.missedHeartbeats,
            ...(detection.manual ? { manual: true } : {}),
          },
        }
      : {}),
    clusterId,
    epoch: 1,
    activeNodeId,
    leaseExpiresAt: null,
    revoked: false,
    fenced: false,
    updatedAt: now,
    reason: 'cluster declared',
  };
}
