/**
 * The API's answers as the portal reads them (a subset; see shared/contracts and shared/domain/clusterStatus.ts on
 * the server). Answers are read leniently: fields the portal does not know are ignored.
 */
export type Role = 'viewer' | 'operator' | 'admin';

export interface ClusterListItem {
  id: string;
  kind: string;
  nodes: number;
  epoch: number;
  activeNodeId: string | null;
}

export interface NodeStatus {
  nodeId: string;
  site: string;
  active: boolean;
  role: 'active' | 'standby';
  reportedRole: 'active' | 'standby' | null;
  reportedEpoch: number | null;
  lastHeartbeatAgeMs: number | null;
  checks: { name: string; status: 'ok' | 'warn' | 'fail'; detail?: string }[];
  replicationLagMs: number | null;
  gpu: unknown;
  hooks: string[] | null;
  clockSkewMs: number | null;
  /** The promise binding it now (peer promises; absent from servers that predate them). */
  promise?: { to: string; epoch: number; remainingMs: number } | null;
}

export interface GpuReport {
  index: number;
  utilizationPercent?: number;
  memoryUsedMiB?: number;
  memoryTotalMiB?: number;
  eccErrors?: number;
  xidErrors?: number;
}

export interface LastDrill {
  drillId: string;
  mode: string;
  result: string;
  endedAt: string;
  rtoMs: number | null;
  predictedRtoMs: number | null;
  missedObjectives: string[];
}

export interface ClusterStatus {
  clusterId: string;
  kind: string;
  epoch: number;
  activeNodeId: string | null;
  revoked: boolean;
  noActiveReason: string | null;
  leaseExpiresAt: string | null;
  leaseRemainingMs: number | null;
  leaseExpired: boolean;
  activeSteppedDown: boolean;
  activeNeverHeard: boolean;
  /** The active is silent to the control plane but its peer confirms it alive (absent from older servers). */
  activePeerConfirmed?: { by: string; epoch: number; until: string } | null;
  witness: {
    epoch: number;
    activeNodeId: string | null;
    decidedAt: string;
    decidedBy: string;
    behindState: boolean;
  } | null;
  runningOperations: {
    operationId: string;
    kind: string;
    status: string;
    createdAt: string;
    step?: string;
  }[];
  nodes: NodeStatus[];
  lastDrill: LastDrill | null;
  at: string;
}

export interface ClusterDocument {
  id: string;
  kind: string;
  description?: string;
  nodes: { id: string; role: string; site: { cloud: string; region: string; zone?: string } }[];
  detection?: { heartbeatIntervalMs?: number; missedHeartbeats?: number };
  failover?: { rtoObjectiveMs?: number; rpoObjectiveMs?: number };
  drill?: { allowFailover?: boolean; targetNodeId?: string };
  pools?: { id: string }[];
}

export interface ClusterAnswer {
  cluster: ClusterDocument;
  status: ClusterStatus;
}

export interface Precondition {
  name: string;
  ok: boolean;
  value: unknown;
  limit?: number;
  detail: string;
}

export interface MakeActivePlan {
  clusterId: string;
  epoch: number;
  currentActive: string | null;
  target: string;
  becomesActive: string;
  becomesPassive: string[];
  preconditions: Precondition[];
  hooks: { node: string; command: string; runs: string }[];
  blockers: string[];
  canRun: boolean;
}

export interface OperationStep {
  id: string;
  name: string;
  startedAt: number;
  endedAt?: number;
  outcome: 'running' | 'ok' | 'warn' | 'failed' | 'skipped';
  detail?: Record<string, unknown>;
}

export interface Operation {
  clusterId: string;
  operationId: string;
  kind: string;
  status: string;
  createdAt: number;
  updatedAt: number;
  epoch: number;
  trigger?: { kind: string; reference?: string };
  actor?: string;
  targetNodeId?: string | null;
  toEpoch?: number;
  steps?: OperationStep[];
  rtoMs?: number;
  reason?: string;
  endedAt?: number;
}

export interface AuditEntry {
  at: number;
  actor: string;
  action: string;
  detail: Record<string, unknown>;
}

export interface DrillSummary {
  drillId: string;
  mode: string;
  startedAt: number;
  endedAt: number;
  result: string;
  reasons: string[];
  objectives: { rtoMs: number; rpoMs: number };
  rtoMs?: number;
  rpoMs?: number;
  predictedRtoMs?: number;
}

export interface PoolSite {
  siteId: string;
  cloud: string;
  region: string;
  zone: string | null;
  size: string;
  placed: number;
  headroom: {
    quotaNodes: number;
    capacityNodes: number | 'unknown';
    restricted?: string;
    error?: string;
    readAt: string;
  } | null;
  coolingDown: { kind: string; reason: string; until: string } | null;
}

export interface PoolView {
  clusterId: string;
  poolId: string;
  demand: number;
  demandSource: 'api' | 'document';
  demandSetAt: string | null;
  demandSetBy: string | null;
  sites: PoolSite[];
  placed: number;
  shortfall: number;
  runningOperation: string | null;
  lastRun: { operationId: string; endedAt: string; shortfall: number; reason: string } | null;
}

export interface PoolNode {
  nodeId: string;
  siteId: string;
  status: string;
  reason: string;
  placedAt: string;
  idleSince: string | null;
}
