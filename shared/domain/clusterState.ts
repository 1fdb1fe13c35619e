import type { CheckReport } from '../contracts/agentApi';

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
}

export function initialClusterState(clusterId: string, activeNodeId: string, now: number): ClusterState {
  return {
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
