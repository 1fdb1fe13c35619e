import path from 'node:path';
import { sleep } from '../benchKit';
import type { ClusterStatusView, ControlPlaneApi } from './controlPlaneApi';
import { RealAgent } from './realAgent';

/** A detection policy of the cluster document (`detection`). */
export interface Policy {
  name: string;
  heartbeatIntervalMs: number;
  missedHeartbeats: number;
  leaseMs: number;
  driftMarginMs: number;
}

export const windowOf = (p: Policy) => p.heartbeatIntervalMs * p.missedHeartbeats;

/**
 * The anti-flapping policy of the bench clusters: 20 failovers back to back would be refused by the default
 * (cooldown 5 min, 3 an hour), which is the point of it in production and not what is measured here.
 */
export const BENCH_FAILOVER_POLICY = { cooldownMs: 0, maxFailoversPerPeriod: 100, periodMs: 60_000 };

export interface LocalClusterOptions {
  api: ControlPlaneApi;
  bin: string;
  dir: string;
  clusterId: string;
  policy: Policy;
}

/** Two-node cluster (head-a active in westeurope, head-b standby in northeurope) with a real agent on each node. */
export class LocalCluster {
  readonly agents: Record<string, RealAgent> = {};
  readonly nodeIds = ['head-a', 'head-b'] as const;

  private constructor(private readonly options: LocalClusterOptions) {}

  static async declare(options: LocalClusterOptions): Promise<LocalCluster> {
    const { api, clusterId, policy } = options;
    await api.declare({
      id: clusterId,
      kind: 'active-passive',
      nodes: [
        { id: 'head-a', role: 'active', site: { cloud: 'azure', region: 'westeurope' }, priority: 10 },
        { id: 'head-b', role: 'standby', site: { cloud: 'azure', region: 'northeurope' }, priority: 10 },
      ],
      detection: {
        heartbeatIntervalMs: policy.heartbeatIntervalMs,
        missedHeartbeats: policy.missedHeartbeats,
        leaseMs: policy.leaseMs,
        driftMarginMs: policy.driftMarginMs,
      },
      failover: BENCH_FAILOVER_POLICY,
    });
    const cluster = new LocalCluster(options);
    for (const nodeId of cluster.nodeIds) {
      const key = await api.issueKey(clusterId, nodeId);
      cluster.agents[nodeId] = new RealAgent({
        bin: options.bin,
        dir: path.join(options.dir, clusterId),
        clusterId,
        nodeId,
        baseUrl: api.baseUrl,
        key,
        heartbeatIntervalMs: policy.heartbeatIntervalMs,
        // The default (1000) but at most half the lease, as the agent itself caps it.
        fenceMarginMs: Math.min(1000, Math.floor(policy.leaseMs / 2)),
        hooks: {
          promote: ['/bin/sh', '-c', 'echo promoted'],
          demote: ['/bin/sh', '-c', 'echo demoted'],
          fence: ['/bin/sh', '-c', 'echo fenced'],
        },
      });
    }
    return cluster;
  }

  get id(): string {
    return this.options.clusterId;
  }

  get policy(): Policy {
    return this.options.policy;
  }

  agent(nodeId: string): RealAgent {
    const agent = this.agents[nodeId];
    if (!agent) throw new Error(`no agent for ${nodeId}`);
    return agent;
  }

  other(nodeId: string): string {
    return nodeId === 'head-a' ? 'head-b' : 'head-a';
  }

  /**
   * Polls the status until the cluster is settled: `activeNodeId` active and heard as active under the current
   * epoch, every other node heard recently as a standby, no operation running; then one more heartbeat interval.
   */
  async settle(timeoutMs = 30_000): Promise<ClusterStatusView> {
    const interval = this.policy.heartbeatIntervalMs;
    const deadline = Date.now() + timeoutMs;
    let last: ClusterStatusView | undefined;
    for (;;) {
      last = await this.options.api.status(this.id);
      const active = last.nodes.find((n) => n.nodeId === last?.activeNodeId);
      const others = last.nodes.filter((n) => n.nodeId !== last?.activeNodeId);
      const ok =
        active?.reportedRole === 'active' &&
        (active.lastHeartbeatAgeMs ?? Infinity) < 2 * interval &&
        others.every(
          (n) => n.reportedRole === 'standby' && (n.lastHeartbeatAgeMs ?? Infinity) < 2 * interval,
        ) &&
        (last.runningOperations ?? []).length === 0;
      if (ok) {
        await sleep(interval);
        return last;
      }
      if (Date.now() > deadline)
        throw new Error(`cluster ${this.id} did not settle within ${timeoutMs} ms: ${JSON.stringify(last)}`);
      await sleep(100);
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all(Object.values(this.agents).map((a) => a.stop('SIGTERM')));
  }
}
