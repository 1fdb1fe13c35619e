import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { paths } from '../../shared/contracts/routes';
import { mapLimit, sleep } from '../benchKit';
import type { ControlPlaneApi, OperationView } from './controlPlaneApi';
import { BENCH_FAILOVER_POLICY, type Policy } from './localCluster';
import { SignedAgent } from './signedAgent';

export interface OutageCluster {
  clusterId: string;
  active: SignedAgent;
  standby: SignedAgent;
}

/** Per cluster: from the alert sent to its failover started and to its new active verified (ms). */
export interface OutageResult {
  alertSentAt: number;
  webhookAnswerMs: number;
  webhookStatus: number;
  /** Per cluster, alert sent → operation created (the webhook starts them one after the other). */
  startedMs: number[];
  /** Per cluster, alert sent → operation ended succeeded (the new active verified). */
  activeElsewhereMs: number[];
  /** Per cluster, its operation created → ended succeeded (the failover's own run, without the start lag). */
  runningMs: number[];
  failed: string[];
  notMovedClusters: string[];
}

const SETUP_CONCURRENCY = 8;

/** Declares `ids` clusters (active in `activeRegion`, standby in northeurope) with played agents. */
export async function declareOutageClusters(
  api: ControlPlaneApi,
  ids: string[],
  activeRegion: (index: number) => string,
  policy: Policy,
): Promise<OutageCluster[]> {
  return mapLimit(
    ids.map((id, index) => ({ id, index })),
    SETUP_CONCURRENCY,
    async ({ id, index }) => {
      await api.declare({
        id,
        kind: 'active-passive',
        nodes: [
          { id: 'head-a', role: 'active', site: { cloud: 'azure', region: activeRegion(index) } },
          { id: 'head-b', role: 'standby', site: { cloud: 'azure', region: 'northeurope' } },
        ],
        detection: {
          heartbeatIntervalMs: policy.heartbeatIntervalMs,
          missedHeartbeats: policy.missedHeartbeats,
          leaseMs: policy.leaseMs,
          driftMarginMs: policy.driftMarginMs,
        },
        failover: BENCH_FAILOVER_POLICY,
      });
      const agent = async (nodeId: string) =>
        new SignedAgent(
          api.baseUrl,
          id,
          nodeId,
          Buffer.from(await api.issueKey(id, nodeId), 'base64'),
          policy.heartbeatIntervalMs,
        );
      return { clusterId: id, active: await agent('head-a'), standby: await agent('head-b') };
    },
  );
}

/** Starts every played agent (spread over one interval) and waits until each active holds its lease. */
export async function startOutageAgents(clusters: OutageCluster[], intervalMs: number, timeoutMs = 60_000) {
  const agents = clusters.flatMap((c) => [c.active, c.standby]);
  agents.forEach((a, i) => a.start(Math.floor((i / agents.length) * intervalMs)));
  const deadline = Date.now() + timeoutMs;
  while (!clusters.every((c) => c.active.role === 'active' && c.standby.ok > 0)) {
    if (Date.now() > deadline) {
      const stuck = clusters.filter((c) => c.active.role !== 'active').map((c) => c.clusterId);
      throw new Error(
        `played actives not active within ${timeoutMs} ms: ${stuck.slice(0, 5).join(', ')}; ` +
          `problems: ${agents
            .flatMap((a) => a.problems)
            .slice(0, 3)
            .join(' | ')}`,
      );
    }
    await sleep(100);
  }
  // Two more heartbeats each: the actives' leases granted and heard under epoch 1, standbys heard.
  await sleep(2 * intervalMs);
}

/** The Service Health incident fixture with a fresh alert id, naming `regions` (display names) as impacted. */
export function serviceHealthAlert(fixturePath: string, regions: string[]): unknown {
  const alert = JSON.parse(readFileSync(fixturePath, 'utf8')) as {
    data: {
      essentials: Record<string, unknown>;
      alertContext: { properties: Record<string, unknown> } & Record<string, unknown>;
    };
  };
  const id = randomUUID();
  const now = new Date().toISOString();
  alert.data.essentials.alertId = `/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.AlertsManagement/alerts/${id}`;
  alert.data.essentials.originAlertId = id;
  alert.data.essentials.firedDateTime = now;
  const props = alert.data.alertContext.properties;
  props.title = `Virtual Machines - ${regions.join(', ')} - Connectivity issues`;
  props.region = regions.join(', ');
  props.trackingId = id.slice(0, 8).toUpperCase();
  props.impactedServices = JSON.stringify([
    { ImpactedRegions: regions.map((RegionName) => ({ RegionName })), ServiceName: 'Virtual Machines' },
  ]);
  alert.data.alertContext.eventDataId = id;
  alert.data.alertContext.eventTimestamp = now;
  return alert;
}

/**
 * The outage: the actives of `clusters` fall silent (their region is down: they send nothing any more) as one
 * Service Health alert for the region reaches `POST /api/v1/webhooks/azure-monitor`; then each cluster's failover is
 * read back until it ended. Start is the alert's send time; end each operation's endedAt (succeeded = verified).
 */
export async function regionOutage(
  api: ControlPlaneApi,
  clusters: OutageCluster[],
  alert: unknown,
  timeoutMs = 120_000,
): Promise<OutageResult> {
  for (const c of clusters) c.active.stop();
  const alertSentAt = Date.now();
  const answer = await api.call('POST', paths.webhookAzureMonitor(), alert, api.functionKey);
  const webhookAnswerMs = Date.now() - alertSentAt;
  if (answer.status !== 202 && answer.status !== 200)
    throw new Error(`the webhook answered ${answer.status}: ${answer.text.slice(0, 500)}`);
  const started = new Map<string, string>();
  for (const op of ((answer.json as { operations?: { clusterId: string; operationId: string }[] })
    .operations ?? []) as { clusterId: string; operationId: string }[])
    started.set(op.clusterId, op.operationId);
  const ended = new Map<string, OperationView>();
  const deadline = Date.now() + timeoutMs;
  while (ended.size < clusters.length && Date.now() < deadline) {
    await sleep(250);
    await mapLimit(
      clusters.filter((c) => !ended.has(c.clusterId)),
      SETUP_CONCURRENCY,
      async (c) => {
        const operationId = started.get(c.clusterId);
        // The webhook answers once the orchestration is started; its record appears with its first activity.
        const operation = (await api.operations(c.clusterId, 5)).find((o) =>
          operationId ? o.operationId === operationId : o.kind === 'failover',
        );
        if (operation && operation.status !== 'running' && operation.status !== 'pending')
          ended.set(c.clusterId, operation);
      },
    );
  }
  const startedMs: number[] = [];
  const activeElsewhereMs: number[] = [];
  const runningMs: number[] = [];
  const failed: string[] = [];
  for (const c of clusters) {
    const operation = ended.get(c.clusterId);
    if (!operation) {
      failed.push(`${c.clusterId}: not ended within ${timeoutMs} ms`);
      continue;
    }
    startedMs.push(operation.createdAt - alertSentAt);
    if (operation.status === 'succeeded' && !/not verified/.test(operation.reason ?? '')) {
      activeElsewhereMs.push((operation.endedAt ?? operation.updatedAt) - alertSentAt);
      runningMs.push((operation.endedAt ?? operation.updatedAt) - operation.createdAt);
    } else failed.push(`${c.clusterId}: ${operation.status} ${operation.reason ?? ''}`);
  }
  const statuses = await mapLimit(clusters, SETUP_CONCURRENCY, async (c) => ({
    clusterId: c.clusterId,
    status: await api.status(c.clusterId),
  }));
  const notMovedClusters = statuses
    .filter(({ status }) => status.activeNodeId !== 'head-b' || status.epoch < 2)
    .map(({ clusterId }) => clusterId);
  return {
    alertSentAt,
    webhookAnswerMs,
    webhookStatus: answer.status,
    startedMs,
    activeElsewhereMs,
    runningMs,
    failed,
    notMovedClusters,
  };
}
