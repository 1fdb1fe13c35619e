import type { GpuReport } from '../../shared/contracts/agentApi';
import {
  peerConfirmedSentence,
  promiseSentence,
  type ClusterStatus,
  type NodeStatus,
} from '../../shared/domain/clusterStatus';
import { duration, mark, pad, safe, time } from './text';

/** What the status block needs beyond the status body: the document's objectives. */
export interface StatusObjectives {
  /** `failover.rpoObjectiveMs` (undefined: not known). */
  rpoObjectiveMs?: number | undefined;
  /** The detection window (interval × missed heartbeats): a heartbeat older than it is marked late. */
  detectionWindowMs?: number | undefined;
}

function gpuLine(gpu: GpuReport): string {
  const parts = [`gpu${gpu.index}`];
  if (gpu.utilizationPercent !== undefined) parts.push(`util ${gpu.utilizationPercent}%`);
  if (gpu.memoryUsedMiB !== undefined || gpu.memoryTotalMiB !== undefined)
    parts.push(`mem ${gpu.memoryUsedMiB ?? '?'}/${gpu.memoryTotalMiB ?? '?'} MiB`);
  if (gpu.eccErrors !== undefined) parts.push(`ecc ${gpu.eccErrors}`);
  if (gpu.xidErrors !== undefined) parts.push(`xid ${gpu.xidErrors}`);
  const bad = (gpu.eccErrors ?? 0) > 0 || (gpu.xidErrors ?? 0) > 0;
  return `${pad(parts[0] ?? '', 22)} ${bad ? '[WARN]' : '[ OK ]'} ${parts.slice(1).join(', ')}`.trimEnd();
}

function gpus(node: NodeStatus): GpuReport[] {
  return Array.isArray(node.gpu)
    ? (node.gpu as unknown[]).filter(
        (g): g is GpuReport =>
          typeof g === 'object' && g !== null && typeof (g as GpuReport).index === 'number',
      )
    : [];
}

function heartbeat(node: NodeStatus, windowMs: number | undefined): string {
  if (node.lastHeartbeatAgeMs === null) return 'never heard';
  const late = windowMs !== undefined && node.lastHeartbeatAgeMs > windowMs ? ' (LATE)' : '';
  return `${duration(node.lastHeartbeatAgeMs)} ago${late}`;
}

function replication(node: NodeStatus, rpo: number | undefined): string | undefined {
  if (node.replicationLagMs === null) return undefined;
  if (rpo === undefined) return `${pad('replication lag', 22)} ${duration(node.replicationLagMs)}`;
  const ok = node.replicationLagMs <= rpo;
  return `${pad('replication lag', 22)} ${ok ? '[ OK ]' : '[FAIL]'} ${duration(node.replicationLagMs)} (RPO ${duration(rpo)})`;
}

/**
 * The `cmha status` block of a cluster: a header with the epoch, then one line per node (the active marked `*`) with
 * its role, site and heartbeat age, each of its checks, GPUs and replication lag against the RPO with an outcome
 * mark, then the witness holder and epoch, the lease, the running operation and the last drill.
 */
export function renderStatusBlock(status: ClusterStatus, objectives: StatusObjectives = {}): string {
  const lines: string[] = [];
  const state =
    status.noActiveReason !== null
      ? `NO ACTIVE: ${safe(status.noActiveReason)}`
      : status.revoked
        ? 'revoked: failover in progress'
        : status.activeNodeId
          ? `active ${safe(status.activeNodeId)}`
          : 'no active';
  lines.push(`Cluster ${safe(status.clusterId)} (${safe(status.kind)})  epoch ${status.epoch}  ${state}`);
  lines.push('');
  for (const node of status.nodes) {
    const reports =
      node.reportedRole && node.reportedRole !== node.role ? ` (reports ${safe(node.reportedRole)})` : '';
    // A server from before peer promises sends no `promise`: read it leniently.
    const promise = (node as Partial<NodeStatus>).promise;
    lines.push(
      `${node.active ? '*' : ' '} ${pad(safe(node.nodeId), 20)} ${pad(node.role, 8)} ${pad(safe(node.site), 28)} heartbeat ${heartbeat(node, objectives.detectionWindowMs)}${reports}${promise ? `, ${promiseSentence(promise)}` : ''}`,
    );
    for (const check of node.checks)
      lines.push(
        `      ${pad(safe(check.name), 22)} ${mark(check.status)}${check.detail ? ` ${safe(check.detail)}` : ''}`,
      );
    for (const gpu of gpus(node)) lines.push(`      ${gpuLine(gpu)}`);
    const lag = replication(node, objectives.rpoObjectiveMs);
    if (lag) lines.push(`      ${lag}`);
  }
  lines.push('');
  const w = status.witness;
  lines.push(
    w
      ? `Witness: holder ${safe(w.activeNodeId ?? '-')}, epoch ${w.epoch}, decided ${time(w.decidedAt)} by ${safe(w.decidedBy)}${w.behindState ? ` (behind the state's epoch ${w.stateEpoch})` : ''}`
      : 'Witness: no decision recorded',
  );
  lines.push(
    `Lease:   ${
      !status.leaseExpiresAt
        ? 'none'
        : status.leaseExpired
          ? `EXPIRED (recorded until ${time(status.leaseExpiresAt)})`
          : `until ${time(status.leaseExpiresAt)} (${duration(status.leaseRemainingMs)} left)`
    }`,
  );
  const confirmed = (status as Partial<ClusterStatus>).activePeerConfirmed;
  if (status.activeSteppedDown) lines.push(`Active:  ${safe(status.activeNodeId)} stepped down`);
  else if (confirmed) lines.push(`Active:  ${safe(status.activeNodeId)} ${peerConfirmedSentence(confirmed)}`);
  else if (status.activeNeverHeard)
    lines.push(`Active:  ${safe(status.activeNodeId)} never heard from under epoch ${status.epoch}`);
  lines.push(
    `Running: ${
      status.runningOperations.length
        ? status.runningOperations
            .map(
              (o) =>
                `${safe(o.kind)} ${safe(o.operationId)} (${safe(o.status)}${o.step ? `: ${safe(o.step)}` : ''})`,
            )
            .join(', ')
        : 'nothing'
    }`,
  );
  const d = status.lastDrill;
  lines.push(
    d
      ? `Drill:   ${safe(d.mode)} ${safe(d.result).toUpperCase()} at ${time(d.endedAt)}, ${
          d.rtoMs !== null
            ? `RTO ${duration(d.rtoMs)}`
            : d.predictedRtoMs !== null
              ? `predicted RTO ${duration(d.predictedRtoMs)}`
              : 'no RTO'
        } (objective ${duration(d.objectives.rtoMs)})${d.missedObjectives.length ? ` MISSED ${d.missedObjectives.join(', ')}` : ''}`
      : 'Drill:   never',
  );
  return lines.join('\n') + '\n';
}
