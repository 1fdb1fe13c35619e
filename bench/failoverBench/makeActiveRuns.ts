import { paths } from '../../shared/contracts/routes';
import { sleep } from '../benchKit';
import type { ControlPlaneApi, OperationView } from './controlPlaneApi';
import type { LocalCluster } from './localCluster';

/** How long the bench "reads" a shown plan before confirming it (a person takes longer). */
export const PLAN_READING_MS = 2000;

/** One planned make-active with real agents running quick hooks: confirmed at once, or after the plan was shown. */
export interface MakeActiveRun {
  from: string;
  to: string;
  operationId: string;
  /** The operation record's createdAt (the request's control-plane time) and endedAt (succeeded, verified). */
  createdAt: number;
  endedAt: number;
  durationMs: number;
  /** Σ durationMs of the hook steps in the acknowledgements recorded during the operation (audit). */
  hookMs: number;
  acks: number;
  overheadMs: number;
  /** Agent-log times (this machine's clock): the old active's answer with its demote command, its ack, ... */
  demoteDeliveredAt: number | undefined;
  demoteAckedAt: number | undefined;
  promoteDeliveredAt: number | undefined;
  promoteAckedAt: number | undefined;
  verified: boolean;
  /** `succeeded`, or how it ended otherwise (a roll-back ends `failed`), with the reason and its steps. */
  status: string;
  reason: string;
  steps: string;
  /** The audit entries recorded while it ran (what else changed the cluster), for one that did not succeed. */
  auditDuring: string;
}

async function ended(api: ControlPlaneApi, clusterId: string, operationId: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // 404 until the operation's first activity recorded it (the 202 answers before).
    const answer = await api.call('GET', paths.operation(clusterId, operationId));
    if (answer.status !== 200 && answer.status !== 404)
      throw new Error(`GET operation ${operationId}: ${answer.status} ${answer.text.slice(0, 300)}`);
    const operation = (answer.json as { operation?: OperationView } | undefined)?.operation;
    if (operation && operation.status !== 'running' && operation.status !== 'pending') return operation;
    if (Date.now() > deadline)
      throw new Error(
        `make-active ${operationId} still ${operation?.status ?? 'not recorded'} after ${timeoutMs} ms`,
      );
    await sleep(50);
  }
}

/**
 * `POST …/makeactive {nodeId, confirm: true}` to the standby (after `POST …/makeactive {nodeId}`, the plan, and
 * `PLAN_READING_MS` when `planFirst`), then the operation read back: its duration
 * (createdAt → endedAt) minus the hook time the agents reported in their acknowledgements.
 */
export async function makeActiveRun(
  api: ControlPlaneApi,
  cluster: LocalCluster,
  options: { planFirst: boolean; timeoutMs?: number },
): Promise<MakeActiveRun> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const before = await cluster.settle();
  const from = before.activeNodeId as string;
  const to = cluster.other(from);
  if (options.planFirst) {
    // As the portal and the CLI do: the plan (the confirmation screen), read for a while, then the confirmation.
    const shown = (await api.expect(200, 'POST', paths.makeActive(cluster.id), { nodeId: to })) as {
      plan: { canRun: boolean; blockers: string[] };
    };
    if (!shown.plan.canRun) throw new Error(`make-active plan blocked: ${shown.plan.blockers.join(', ')}`);
    await sleep(PLAN_READING_MS);
  }
  const requestedAt = Date.now();
  const started = (await api.expect(202, 'POST', paths.makeActive(cluster.id), {
    nodeId: to,
    confirm: true,
    reason: 'bench:failover make-active',
  })) as { operationId: string };
  const operation = await ended(api, cluster.id, started.operationId, timeoutMs);
  const endedAt = operation.endedAt ?? operation.updatedAt;
  const audit = await api.audit(cluster.id, 50);
  const acks = audit.filter(
    (e) => e.action === 'command-acknowledged' && e.at >= operation.createdAt && e.at <= endedAt,
  );
  const hookMs = acks.reduce(
    (sum, e) =>
      sum +
      ((e.detail.steps as { durationMs?: number }[] | undefined) ?? []).reduce(
        (s, step) => s + (step.durationMs ?? 0),
        0,
      ),
    0,
  );
  const ackLog = (nodeId: string, type: string) =>
    cluster
      .agent(nodeId)
      .logs.find(
        (r) =>
          r.at >= requestedAt &&
          r.msg === 'command acknowledged' &&
          String(r.fields.commandId).startsWith(`${type}-`),
      )?.at;
  const durationMs = endedAt - operation.createdAt;
  return {
    from,
    to,
    operationId: operation.operationId,
    createdAt: operation.createdAt,
    endedAt,
    durationMs,
    hookMs,
    acks: acks.length,
    overheadMs: durationMs - hookMs,
    demoteDeliveredAt: cluster.agent(from).commandReceived('demote', requestedAt)?.at,
    demoteAckedAt: ackLog(from, 'demote'),
    promoteDeliveredAt: cluster.agent(to).commandReceived('promote', requestedAt)?.at,
    promoteAckedAt: ackLog(to, 'promote'),
    verified: operation.status === 'succeeded' && !/not verified/.test(operation.reason ?? ''),
    status: operation.status,
    reason: operation.reason ?? '',
    auditDuring: audit
      .filter((e) => e.at >= operation.createdAt && e.at <= endedAt)
      .sort((a, b) => a.at - b.at)
      .map((e) => `${e.action} by ${e.actor} +${e.at - operation.createdAt}`)
      .join(', '),
    steps: (operation.steps ?? [])
      .map(
        (s) =>
          `${s.name} ${s.outcome} +${s.startedAt - operation.createdAt}..${s.endedAt === undefined ? '' : s.endedAt - operation.createdAt}`,
      )
      .join(', '),
  };
}
