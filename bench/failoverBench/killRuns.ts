import { sleep } from '../benchKit';
import type { AuditEntryView, ControlPlaneApi, OperationView } from './controlPlaneApi';
import type { LocalCluster } from './localCluster';

/** One crash of the active and the failover that followed, from server-side records (ms since the epoch). */
export interface KillRun {
  killedNodeId: string;
  /** The cluster's epoch in the status before the kill. */
  epochBefore: number;
  newActiveNodeId: string;
  killedAt: number;
  /** The killed active's last heartbeat as the control plane received it (the detection's `lastHeartbeatAt`). */
  lastHeartbeatAt: number;
  /** The same heartbeat as the agent logged its answer (cross-check of the server-side figure). */
  agentLastHeartbeatAt: number | undefined;
  detectedAt: number;
  operationCreatedAt: number;
  /** The promotion written (audit `promoted`): from then on the target's heartbeat answers carry the command. */
  promotedAt: number | undefined;
  /** The target's first heartbeat answer carrying its promote command (the target agent's log). */
  promoteDeliveredAt: number | undefined;
  /** The target's promote acknowledgement recorded (audit `command-acknowledged`). */
  promoteAckedAt: number | undefined;
  promoteHookMs: number;
  /** The operation ended `succeeded` (verified: the new active took its lease). */
  endedAt: number;
  verified: boolean;
  /** The target's first heartbeat sent as the active under the new epoch and answered active (its agent log). */
  firstActiveHeartbeatAt: number | undefined;
  /**
   * The new active verified: the operation's endedAt when it ended verified; when it ended "not verified in time",
   * the target's first heartbeat as the active (so an early end does not shorten the figure).
   */
  verifiedAt: number;
  rtoMs: number | undefined;
  operationId: string;
  fromEpoch: number;
  toEpoch: number | undefined;
}

/** Newest-first pages: the failover operation started after `since`, once it ended. */
async function endedFailover(
  api: ControlPlaneApi,
  clusterId: string,
  since: number,
  timeoutMs: number,
): Promise<OperationView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ops = await api.operations(clusterId, 10);
    const failover = ops.find((o) => o.kind === 'failover' && o.createdAt >= since);
    if (failover && failover.status !== 'running' && failover.status !== 'pending') return failover;
    if (Date.now() > deadline)
      throw new Error(
        `no failover of ${clusterId} ended within ${timeoutMs} ms of the kill: ${JSON.stringify(ops.slice(0, 3))}`,
      );
    await sleep(100);
  }
}

const hookMs = (entry: AuditEntryView | undefined) =>
  ((entry?.detail.steps as { durationMs?: number }[] | undefined) ?? []).reduce(
    (sum, step) => sum + (step.durationMs ?? 0),
    0,
  );

/**
 * SIGKILL of the active's agent, then the failover the detector starts, read back from the operation, its
 * detection, the audit log and the target agent's log. Afterwards the killed agent is started again (it recovers
 * as a standby) and the cluster is settled, so the next run kills the other node.
 */
export async function killRun(
  api: ControlPlaneApi,
  cluster: LocalCluster,
  timeoutMs = 60_000,
): Promise<KillRun> {
  const before = await cluster.settle();
  const killedNodeId = before.activeNodeId as string;
  const targetNodeId = cluster.other(killedNodeId);
  const killed = cluster.agent(killedNodeId);
  const target = cluster.agent(targetNodeId);
  const killedAt = Date.now();
  await killed.stop('SIGKILL');
  const operation = await endedFailover(api, cluster.id, killedAt, timeoutMs);
  if (operation.status !== 'succeeded')
    throw new Error(`failover ${operation.operationId} ended ${operation.status}: ${operation.reason ?? ''}`);
  const reference = operation.trigger?.reference;
  if (operation.trigger?.kind !== 'detector' || !reference)
    throw new Error(
      `failover ${operation.operationId} was not started by the detector: ${JSON.stringify(operation)}`,
    );
  const detection = await api.operation(cluster.id, reference);
  const lastHeartbeatAt = Date.parse(String(detection.evidence.lastHeartbeatAt));
  const after = (audit: AuditEntryView[], action: string, at: number) =>
    audit.filter((e) => e.action === action && e.at >= at).sort((x, y) => x.at - y.at);
  const promoteAckOf = (audit: AuditEntryView[]) =>
    after(audit, 'command-acknowledged', detection.createdAt).find(
      (e) => e.actor === `node:${targetNodeId}` && e.detail.type === 'promote',
    );
  const firstActiveOf = () =>
    target.logs.find(
      (r) =>
        r.at >= detection.createdAt &&
        r.msg === 'heartbeat' &&
        r.fields.sentRole === 'active' &&
        r.fields.replyRole === 'active' &&
        r.fields.sentEpoch === operation.toEpoch,
    )?.at;
  // The operation can end before the acknowledgement is recorded and before the target's first heartbeat as the
  // active (verification counts the lease grant): wait a little for both, so the breakdown is complete.
  let audit = await api.audit(cluster.id, 50);
  for (const deadline = Date.now() + 5_000; Date.now() < deadline;) {
    if (promoteAckOf(audit) && firstActiveOf() !== undefined) break;
    await sleep(100);
    audit = await api.audit(cluster.id, 50);
  }
  const promoted = after(audit, 'promoted', detection.createdAt)[0];
  const promoteAck = promoteAckOf(audit);
  const heartbeats = killed.logs.filter((r) => r.msg === 'heartbeat' && r.at <= killedAt);
  const status = await api.status(cluster.id);
  if (status.activeNodeId !== targetNodeId)
    throw new Error(`after the failover the active is ${status.activeNodeId}, not ${targetNodeId}`);
  const endedAt = operation.endedAt ?? operation.updatedAt;
  const verified = !/not verified/.test(operation.reason ?? '');
  const firstActive = firstActiveOf();
  // Start the killed node's agent again: it demotes itself (it was active) and heartbeats as a standby.
  killed.start();
  return {
    killedNodeId,
    epochBefore: before.epoch,
    newActiveNodeId: targetNodeId,
    killedAt,
    lastHeartbeatAt,
    agentLastHeartbeatAt: heartbeats.at(-1)?.at,
    detectedAt: detection.createdAt,
    operationCreatedAt: operation.createdAt,
    promotedAt: promoted?.at,
    promoteDeliveredAt: target.commandReceived('promote', detection.createdAt)?.at,
    promoteAckedAt: promoteAck?.at,
    promoteHookMs: hookMs(promoteAck),
    endedAt,
    verified,
    firstActiveHeartbeatAt: firstActive,
    verifiedAt: verified ? endedAt : Math.max(endedAt, firstActive ?? endedAt),
    rtoMs: operation.rtoMs,
    operationId: operation.operationId,
    fromEpoch: operation.epoch,
    toEpoch: operation.toEpoch,
  };
}
