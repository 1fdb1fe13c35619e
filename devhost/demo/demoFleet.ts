import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import type { LogFn } from '../durable/engineContext';
import { putArmScaleSet, putArmVm } from '../cloudSimulator/armResources';
import { LOCAL_AZURE_SUBSCRIPTION, type LocalCloud } from '../cloudSimulator/startLocalCloud';
import { DemoAgent } from './demoAgent';
import {
  DEMO_DETECTION,
  DEMO_SCALE_SETS,
  demoClusterDocument,
  demoClusters,
  demoVmId,
  type DemoCluster,
  type DemoNode,
  type DemoStep,
} from './demoClusters';
import { PartitionProxy } from './partitionProxy';
import { PeerSwitch } from './peerSwitch';

export interface DemoFleetOptions {
  /** The devhost's URL (`http://127.0.0.1:<port>`): the fleet declares its clusters there. */
  url: string;
  /** The devhost's master key (admin): declaring clusters, issuing node keys. */
  masterKey: string;
  /** Where agent configurations, keys, state, hook scripts and logs go (`<dataDir>/demo`). */
  dir: string;
  /** The cloud simulator, to run the cloud nodes' VMs and the pools' scale sets. Without it nodes have no compute. */
  cloud?: LocalCloud | undefined;
  /** The control plane's storage is new (not kept on disk): whatever `dir` holds from an earlier run is stale. */
  fresh: boolean;
  log: LogFn;
  /** Log the agents' role changes and hook steps (the devhost's console). Default true. */
  echo?: boolean;
}

/** One demo cluster's health, as its status shows it. */
export interface DemoClusterHealth {
  clusterId: string;
  healthy: boolean;
  epoch: number | null;
  activeNodeId: string | null;
  /** Why it is not healthy. */
  why?: string;
}

export interface DemoFleet {
  dir: string;
  clusters: DemoCluster[];
  agents: DemoAgent[];
  /** The agent of a node (`master1`, or `bcm-head/master1`). */
  find(node: string): DemoAgent | undefined;
  /** Every demo cluster's health: a verified active heartbeating under the epoch, its standbys heartbeating. */
  health(): Promise<DemoClusterHealth[]>;
  /** Resolves once every demo cluster was healthy at once (the fleet logs "all demo clusters healthy"). */
  allHealthy: Promise<void>;
  stop(): Promise<void>;
}

export class DemoFleetError extends Error {
  override readonly name = 'DemoFleetError';
}

export const ALL_HEALTHY_MESSAGE = 'all demo clusters healthy';

const HOOK_SCRIPT = `#!/bin/sh
# A demo hook step (written by the devhost): says what the real step would do and takes about as long.
# $1: seconds, $2: what the real step would do.
line="$(date +%H:%M:%S) $FP_CLUSTER/$FP_NODE $FP_OPERATION $FP_STEP (epoch $FP_EPOCH): $2"
echo "$line"
if [ -n "$DEMO_HOOK_LOG" ]; then echo "$line" >> "$DEMO_HOOK_LOG"; fi
sleep "$1"
echo "done in $1 s"
`;

/** Stands in for nvidia-smi's query (index, utilization, memory used, memory total, uncorrected ECC errors). */
const NVIDIA_SMI_SCRIPT = `#!/bin/sh
# A stand-in for nvidia-smi --query-gpu=... (written by the devhost). $1: how many GPUs.
i=0
while [ "$i" -lt "\${1:-1}" ]; do echo "$i, $((20 + i * 7)), 20480, 81920, 0"; i=$((i + 1)); done
`;

/** Finds this repository's `bin/failover-agent.js` (built), from `dist/devhost/demo` or `devhost/demo`. */
export function findAgentBin(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const bin = path.join(dir, 'bin', 'failover-agent.js');
    if (existsSync(bin) && existsSync(path.join(dir, 'package.json'))) {
      if (!existsSync(path.join(dir, 'dist', 'agent', 'cli.js')))
        throw new DemoFleetError('the agent is not built: run "npm run build" first');
      return bin;
    }
  }
  throw new DemoFleetError('bin/failover-agent.js was not found above the devhost');
}

/**
 * Declares the demo clusters on a running devhost and starts a real agent process for each of their nodes, with
 * hooks that stand in for the real steps. Each agent reaches the devhost through its own proxy (so it can be
 * partitioned). `stop` SIGKILLs every agent; an exit handler does too should the devhost exit without it.
 */
export async function startDemoFleet(options: DemoFleetOptions): Promise<DemoFleet> {
  const { log } = options;
  const dir = path.resolve(options.dir);
  const agentBin = findAgentBin();
  if (options.fresh) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hookScript = path.join(dir, 'hook-step.sh');
  writeFileSync(hookScript, HOOK_SCRIPT);
  chmodSync(hookScript, 0o755);
  const nvidiaSmi = path.join(dir, 'nvidia-smi.sh');
  writeFileSync(nvidiaSmi, NVIDIA_SMI_SCRIPT);
  chmodSync(nvidiaSmi, 0o755);
  const hookLog = path.join(dir, 'hooks.log');
  const cloud = options.cloud;
  if (cloud) seedDemoVms(cloud);

  const api = async (method: string, urlPath: string, body?: unknown) => {
    const response = await fetch(`${options.url}${urlPath}`, {
      method,
      headers: {
        'x-functions-key': options.masterKey,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, json, text };
  };

  const clusters = demoClusters();
  const agents: DemoAgent[] = [];
  // The peer network: a node's peer traffic goes through the switch in front of its listener, cut while either end
  // is partitioned (a demo partition cuts the node off its peers as well as off the control plane).
  const switches: PeerSwitch[] = [];
  const proxies = new Map<string, PartitionProxy>();
  const peerCut = (clusterId: string) => (from: string | undefined, to: string) =>
    from === undefined ||
    proxies.get(`${clusterId}/${from}`)?.partitioned !== false ||
    proxies.get(`${clusterId}/${to}`)?.partitioned !== false;
  const stopSwitches = () => Promise.all(switches.map((s) => s.stop()));
  const echo = options.echo ?? true;
  const onLog = (agentName: string) => (record: Record<string, unknown>) => {
    if (!echo) return;
    const line = describeAgentEvent(record);
    if (line) log('info', `[demo] ${agentName} ${line}`);
  };
  try {
    for (const cluster of clusters) {
      const clusterDir = path.join(dir, cluster.id);
      const document = demoClusterDocument(cluster, cloud !== undefined);
      const put = await api('PUT', `/api/v1/clusters/${cluster.id}`, document);
      if (put.status !== 201 && put.status !== 200)
        throw new DemoFleetError(`declaring ${cluster.id}: ${put.status} ${put.text.slice(0, 500)}`);
      const created = put.status === 201;
      // A new cluster: agent state from an earlier run (other epochs, other keys) would only confuse it.
      if (created) rmSync(clusterDir, { recursive: true, force: true });
      mkdirSync(clusterDir, { recursive: true, mode: 0o700 });
      for (const node of cluster.nodes) {
        const keyFile = path.join(clusterDir, `${node.id}.key`);
        const versionFile = `${keyFile}-version`;
        // The cluster's peer key (peer promises), the same for every node: written with each node's key.
        const peerKeyFile = path.join(clusterDir, 'peer.key');
        if (created || !existsSync(keyFile) || !existsSync(versionFile) || !existsSync(peerKeyFile)) {
          const issued = await api(
            'POST',
            `/api/v1/clusters/${cluster.id}/nodes/${node.id}/key${created ? '' : '?rotate=true'}`,
          );
          const answer = issued.json as { key?: string; keyVersion?: number; peerKey?: string } | undefined;
          if (issued.status !== 201 || !answer?.key || !answer.peerKey)
            throw new DemoFleetError(`the key of ${cluster.id}/${node.id}: ${issued.status}`);
          writeFileSync(keyFile, `${answer.key}\n`, { mode: 0o600 });
          writeFileSync(peerKeyFile, `${answer.peerKey}\n`, { mode: 0o600 });
          writeFileSync(versionFile, `${answer.keyVersion ?? 1}\n`);
        }
        const keyVersion = Number(readFileSync(versionFile, 'utf8').trim()) || 1;
        const proxy = await PartitionProxy.start(Number(new URL(options.url).port));
        proxies.set(`${cluster.id}/${node.id}`, proxy);
        const peerPort = await freeLoopbackPort();
        const peerSwitch = await PeerSwitch.start(node.id, peerPort, peerCut(cluster.id));
        switches.push(peerSwitch);
        const configPath = path.join(clusterDir, `${node.id}.yaml`);
        writeFileSync(
          configPath,
          YAML.stringify(
            agentConfig(cluster, node, {
              url: proxy.url,
              keyFile,
              keyVersion,
              stateDir: path.join(clusterDir, `${node.id}-state`),
              peerPort,
              peerUrl: peerSwitch.url,
              peerKeyFile,
              hookScript,
              hookLog,
              nvidiaSmi,
            }),
          ),
        );
        const agent = new DemoAgent({
          clusterId: cluster.id,
          nodeId: node.id,
          agentBin,
          configPath,
          stateDir: path.join(clusterDir, `${node.id}-state`),
          logFile: path.join(clusterDir, `${node.id}.log`),
          proxy,
          onLog: onLog(`${cluster.id}/${node.id}`),
        });
        agents.push(agent);
        track(agent);
        await agent.start();
      }
    }
  } catch (error) {
    await Promise.all(agents.map((a) => a.stop()));
    await stopSwitches();
    throw error;
  }

  const health = async (): Promise<DemoClusterHealth[]> =>
    Promise.all(
      clusters.map(async (cluster) => {
        const r = await api('GET', `/api/v1/clusters/${cluster.id}/status`);
        if (r.status !== 200)
          return {
            clusterId: cluster.id,
            healthy: false,
            epoch: null,
            activeNodeId: null,
            why: `status ${r.status}`,
          };
        return clusterHealth(cluster.id, r.json as StatusView);
      }),
    );

  let stopped = false;
  const started = Date.now();
  const allHealthy = new Promise<void>((resolve) => {
    const poll = () => {
      if (stopped) return;
      health()
        .then((all) => {
          if (stopped) return;
          if (all.every((c) => c.healthy)) {
            log(
              'info',
              `[demo] ${ALL_HEALTHY_MESSAGE} (${all.length} clusters, ${agents.length} agents) after ${((Date.now() - started) / 1000).toFixed(1)} s`,
            );
            resolve();
          } else setTimeout(poll, 250).unref();
        })
        .catch(() => {
          if (!stopped) setTimeout(poll, 500).unref();
        });
    };
    poll();
  });

  return {
    dir,
    clusters,
    agents,
    find(node) {
      const [clusterId, nodeId] = node.includes('/') ? node.split('/', 2) : [undefined, node];
      return agents.find(
        (a) => a.nodeId === nodeId && (clusterId === undefined || a.clusterId === clusterId),
      );
    },
    health,
    allHealthy,
    async stop() {
      stopped = true;
      await Promise.all(agents.map((a) => a.stop()));
      await stopSwitches();
    },
  };
}

/** Adds the demo nodes' VMs and the pools' scale sets the local cloud does not seed (running, fresh each start). */
function seedDemoVms(cloud: LocalCloud): void {
  const model = cloud.simulator.model;
  for (const scaleSet of DEMO_SCALE_SETS)
    putArmScaleSet(model, {
      subscriptionId: LOCAL_AZURE_SUBSCRIPTION,
      resourceGroup: 'hpc-demo',
      ...scaleSet,
      instances: 0,
    });
  for (const cluster of demoClusters())
    for (const node of cluster.nodes) {
      const vm = node.vm;
      if (!vm || vm.seeded) continue;
      if (vm.cloud === 'azure')
        putArmVm(model, {
          subscriptionId: LOCAL_AZURE_SUBSCRIPTION,
          resourceGroup: 'hpc-demo',
          name: vm.name,
          region: vm.region,
          size: vm.size,
          powerState: 'running',
        });
      else
        model.vms.set(demoVmId(vm), {
          id: demoVmId(vm),
          name: vm.name,
          cloud: 'oci',
          region: vm.region,
          size: vm.size,
          powerState: 'running',
          createdAt: model.clock.now(),
        });
    }
}

interface AgentConfigPaths {
  url: string;
  keyFile: string;
  keyVersion: number;
  stateDir: string;
  /** The loopback port of the agent's peer listener (peer promises). */
  peerPort: number;
  /**
   * The URL the agent advertises for it (default `http://127.0.0.1:<peerPort>`): the demo fleet's peer switch in
   * front of the listener, so a demo partition cuts the peer traffic too.
   */
  peerUrl?: string;
  /** The cluster's peer key file. */
  peerKeyFile: string;
  hookScript: string;
  hookLog: string;
  nvidiaSmi: string;
}

/** The agent configuration of a demo node (YAML in `<dir>/<cluster>/<node>.yaml`). */
export function agentConfig(
  cluster: DemoCluster,
  node: DemoNode,
  paths: AgentConfigPaths,
): Record<string, unknown> {
  const steps = (list: DemoStep[]) =>
    list.map((s) => ({
      name: s.name,
      command: [paths.hookScript, (s.ms / 1000).toFixed(3), s.says],
      env: { DEMO_HOOK_LOG: paths.hookLog },
      timeoutMs: 30_000,
    }));
  return {
    cluster: cluster.id,
    node: node.id,
    controlPlane: { url: paths.url, allowInsecureHttp: true, firstContactTimeoutMs: 0 },
    key: { file: paths.keyFile, version: paths.keyVersion },
    peerListener: {
      address: '127.0.0.1',
      port: paths.peerPort,
      advertiseUrl: paths.peerUrl ?? `http://127.0.0.1:${paths.peerPort}`,
      keyFile: paths.peerKeyFile,
    },
    stateDir: paths.stateDir,
    heartbeat: { initialIntervalMs: DEMO_DETECTION.heartbeatIntervalMs, maxBackoffMs: 2000 },
    lease: { fenceMarginMs: 300 },
    checkIntervalMs: 5000,
    checks: node.gpus ? [{ type: 'gpu', command: [paths.nvidiaSmi, String(node.gpus)] }] : [],
    hooks: { promote: steps(node.promote), demote: steps(node.demote), fence: steps(node.fence) },
    shutdown: { timeoutMs: 5000 },
    log: { level: 'info' },
  };
}

/**
 * A loopback TCP port free right now (the OS picks it; closed again at once): where a demo agent's peer listener
 * goes. Another process could take it before the agent binds it; the demo agents then fail to start, loudly.
 */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

/** The part of `GET …/status` the health check reads. */
interface StatusView {
  epoch: number;
  activeNodeId: string | null;
  revoked: boolean;
  leaseExpired: boolean;
  nodes: {
    nodeId: string;
    reportedRole: 'active' | 'standby' | null;
    reportedEpoch: number | null;
    lastHeartbeatAgeMs: number | null;
  }[];
}

/** Heard from within this long: heartbeating (a detection window). */
const HEARD_MS = DEMO_DETECTION.heartbeatIntervalMs * DEMO_DETECTION.missedHeartbeats;

export function clusterHealth(clusterId: string, s: StatusView): DemoClusterHealth {
  const base = { clusterId, epoch: s.epoch, activeNodeId: s.activeNodeId };
  const unhealthy = (why: string) => ({ ...base, healthy: false, why });
  if (!s.activeNodeId) return unhealthy('no active');
  if (s.revoked) return unhealthy('epoch revoked (a failover is running)');
  if (s.leaseExpired) return unhealthy(`the lease of ${s.activeNodeId} expired`);
  for (const node of s.nodes) {
    const heard = node.lastHeartbeatAgeMs !== null && node.lastHeartbeatAgeMs <= HEARD_MS;
    if (!heard) return unhealthy(`${node.nodeId} is not heartbeating`);
    if (node.nodeId === s.activeNodeId) {
      if (node.reportedRole !== 'active' || node.reportedEpoch !== s.epoch)
        return unhealthy(`${node.nodeId} does not report itself active under epoch ${s.epoch} yet`);
    } else if (node.reportedRole !== 'standby') return unhealthy(`${node.nodeId} does not report standby`);
  }
  return { ...base, healthy: true };
}

/** The agent log records worth a line on the devhost's console. */
export function describeAgentEvent(record: Record<string, unknown>): string | undefined {
  const epoch = typeof record.epoch === 'number' ? ` (epoch ${record.epoch})` : '';
  switch (record.msg) {
    case 'connected to the control plane':
      return 'agent connected';
    case 'hook step started':
      return `${String(record.operation)}: step ${String(record.step)}${epoch}`;
    case 'active':
      return `is ACTIVE${epoch}`;
    case 'standby':
      return `is standby${epoch}`;
    case 'lease lapsed: self-fencing':
      return 'lease lapsed: self-fencing';
    case 'control plane reachable again':
      return 'reaches the control plane again';
    default:
      return undefined;
  }
}

/** Agents of every fleet in this process, SIGKILLed on exit should the devhost exit without stopping them. */
const live = new Set<DemoAgent>();
let exitHandlerInstalled = false;
function track(agent: DemoAgent): void {
  live.add(agent);
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on('exit', () => {
    for (const a of live) {
      const pid = a.pid;
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}
