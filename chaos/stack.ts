import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { startAzurite, type RunningAzurite } from '../devhost';
import { connectionStringFor } from '../devhost/storage/startAzurite';
import { putArmVm } from '../devhost/cloudSimulator/armResources';
import {
  LOCAL_AZURE_SUBSCRIPTION,
  startLocalCloud,
  type LocalCloud,
} from '../devhost/cloudSimulator/startLocalCloud';
import { signStandardWebhook } from '../shared/auth/standardWebhooks';
import { paths } from '../shared/contracts/routes';
import type { ArmActionRecord } from './checker';
import { FaultProxy } from './faultProxy';
import { CHAOS_HOOK_SCRIPT } from './hookScript';
import { crashTestApp, freePort, repoRoot, spawnHost, type HostProcess } from './hostProcess';

/** The detection policy of the chaos clusters (as the end-to-end tests': fast, roomy enough for 2 cores). */
export const CHAOS_DETECTION = {
  heartbeatIntervalMs: 250,
  missedHeartbeats: 6,
  leaseMs: 2000,
  driftMarginMs: 250,
};

/** No cooldown and a roomy budget: chaos wants every failover it can get (the policy itself has its own tests). */
export const CHAOS_FAILOVER_POLICY = { cooldownMs: 0, maxFailoversPerPeriod: 100, periodMs: 60_000 };

const RESOURCE_GROUP = 'chaos';
const REGIONS = ['westeurope', 'northeurope'] as const;

export interface ChaosNode {
  cluster: string;
  node: string;
  /** The simulated Azure VM it runs on (none: on premises, no cloud fence). */
  vmId?: string;
  region?: string;
  proxy: FaultProxy;
  /**
   * The fault proxy in front of the node's peer listener: the other nodes ask this node for promises through it
   * (its advertised peer URL), so cutting it partitions the node from its peers (issue 15).
   */
  peerProxy: FaultProxy;
  configPath: string;
  child?: ChildProcess;
  /** running; paused (SIGSTOP); killed (SIGKILL, waiting for its restart); off (its VM was powered off). */
  state: 'running' | 'paused' | 'killed' | 'off';
}

export interface StackOptions {
  dir: string;
  clusters: number;
  nodesPerCluster: 2 | 3;
  /** Start the agents through the deliberately broken wrapper. */
  broken?: 'ignore-lease';
  /**
   * mixed (default): n1 and n2 on simulated Azure VMs (fenced by a power-off), n3 on premises; on-prem: every node on
   * premises, fenced by its lease alone (what the broken-agent proof needs: a power-off would stop it for real).
   */
  sites?: 'mixed' | 'on-prem';
  log?: (line: string) => void;
  /**
   * The clusters' `detection.peerLeases` (default on). The broken-agent proof turns it off: there the active is cut
   * off from the control plane so that a failover happens while the broken agent keeps acting, and a peer lease
   * would (rightly) keep the control plane from failing over at all.
   */
  peerLeases?: boolean;
}

/** An answer of the control plane: read leniently by whoever asked. */
export interface Http {
  status: number;
  json: unknown;
}

/**
 * The local stack of a chaos run: Azurite on disk (in this process, so it outlives the devhost), the cloud simulator
 * (in this process: its model and logs outlive the devhost too), the devhost as a child process (SIGKILLed and
 * restarted on the same storage and port), and one real agent process per node, each reaching the control plane
 * through a fault proxy the harness owns, each keeping its acting journal. A node on a simulated VM that the control
 * plane powers off (its fence) is powered off for real: its agent is SIGKILLed, and started again when the harness
 * repairs the VM.
 */
export class ChaosStack {
  readonly nodes: ChaosNode[] = [];
  /** The harness's repairs of powered-off VMs: starts outside ARM, listed with ARM's actions for the checker. */
  readonly repairs: ArmActionRecord[] = [];
  readonly clusters: string[] = [];
  host!: HostProcess;
  hostDown = false;
  readonly webhookSecret = `whsec_${randomBytes(32).toString('base64')}`;
  readonly journalDir: string;
  readonly hookLog: string;
  readonly controlDir: string;
  #azurite!: RunningAzurite;
  /** Fault proxies in front of Azurite's blob, queue and table ports: the devhost's storage goes through them. */
  #storageProxies: FaultProxy[] = [];
  #storageConnection = '';
  #cloud!: LocalCloud;
  #port = 0;
  #appDir = '';
  #env: Record<string, string> = {};
  #watch?: NodeJS.Timeout;
  #hookScript = '';
  readonly #hub = `Chaos${randomBytes(3).toString('hex')}`;

  private constructor(readonly options: StackOptions) {
    this.journalDir = path.join(options.dir, 'journals');
    this.hookLog = path.join(options.dir, 'hooks.jsonl');
    this.controlDir = path.join(options.dir, 'control');
  }

  get cloud(): LocalCloud {
    return this.#cloud;
  }

  #log(line: string): void {
    this.options.log?.(line);
  }

  static async start(options: StackOptions): Promise<ChaosStack> {
    const stack = new ChaosStack(options);
    // Should the harness's process exit without `stop`, no agent or devhost outlives it.
    process.on('exit', stack.#killAll);
    try {
      await stack.#start();
    } catch (error) {
      await stack.stop();
      throw error;
    }
    return stack;
  }

  readonly #killAll = (): void => {
    for (const n of this.nodes) if (n.child && n.child.exitCode === null) n.child.kill('SIGKILL');
    const host = this.host as HostProcess | undefined;
    if (host && host.process.exitCode === null) host.process.kill('SIGKILL');
  };

  async #start(): Promise<void> {
    const { dir } = this.options;
    for (const d of [this.journalDir, this.controlDir, path.join(dir, 'agents')])
      mkdirSync(d, { recursive: true });
    this.#hookScript = path.join(dir, 'hook.sh');
    writeFileSync(this.#hookScript, CHAOS_HOOK_SCRIPT);
    chmodSync(this.#hookScript, 0o755);
    this.#azurite = await startAzurite({ inMemory: false, location: path.join(dir, 'azurite') });
    const { blob, queue, table } = this.#azurite.ports;
    this.#storageProxies = await Promise.all([blob, queue, table].map((p) => FaultProxy.start(p)));
    const [pb, pq, pt] = this.#storageProxies.map((p) => p.port) as [number, number, number];
    this.#storageConnection = connectionStringFor('127.0.0.1', { blob: pb, queue: pq, table: pt });
    this.#cloud = await startLocalCloud({ transitionMs: 100 });
    this.#port = await freePort();
    this.#appDir = crashTestApp(path.join(dir, 'app'));
    this.#env = {
      ...this.#cloud.env,
      NODE_KEY_MASTER: randomBytes(32).toString('base64'),
      TABLE_PREFIX: `T${randomBytes(4).toString('hex')}`,
      FAILOVER_WEBHOOK_SECRETS: this.webhookSecret,
    };
    await this.startHost();
    for (let c = 0; c < this.options.clusters; c++) await this.#declare(`chaos-${c + 1}`);
    for (const node of this.nodes) this.startAgent(node);
    // A powered-off VM is a dead node: its agent stops with it.
    this.#watch = setInterval(() => this.#followPower(), 20);
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async startHost(): Promise<void> {
    this.host = await spawnHost({
      appDir: this.#appDir,
      dataDir: path.join(this.options.dir, 'devhost'),
      port: this.#port,
      connectionString: this.#storageConnection,
      hub: this.#hub,
      env: this.#env,
      startTimeoutMs: 60_000,
    });
    this.hostDown = false;
  }

  /** A storage stall (Azurite paused, as seen from the control plane): requests hang until `resumeStorage`. */
  stallStorage(): void {
    for (const p of this.#storageProxies) p.set('stall');
  }

  resumeStorage(): void {
    for (const p of this.#storageProxies) p.set('open');
  }

  get storageStalled(): boolean {
    return this.#storageProxies.some((p) => p.mode === 'stall');
  }

  /** The file whose content steps a node's agent's wall clock (ms; see chaos/clockStep.ts). */
  clockFile(node: Pick<ChaosNode, 'cluster' | 'node'>): string {
    return path.join(this.controlDir, `${node.cluster}-${node.node}.clock`);
  }

  /**
   * A control-plane outage: SIGKILLs the devhost and leaves it down until `startHost` (every agent's requests are
   * refused meanwhile, as when the Functions app or its network is down).
   */
  async stopHost(): Promise<void> {
    this.hostDown = true;
    this.host.process.kill('SIGKILL');
    await this.host.exited;
  }

  /** SIGKILLs the devhost (mid-operation, whatever it was doing) and starts it again on the same storage and port. */
  async killHost(): Promise<void> {
    this.hostDown = true;
    this.host.process.kill('SIGKILL');
    await this.host.exited;
    await this.startHost();
  }

  async #declare(cluster: string): Promise<void> {
    const nodes = [];
    for (let i = 0; i < this.options.nodesPerCluster; i++) {
      const node = `n${i + 1}`;
      // n1 and n2 on simulated Azure VMs (fenced by a power-off), n3 on premises (fenced by its lease alone).
      const region = i < 2 && this.options.sites !== 'on-prem' ? REGIONS[i] : undefined;
      let vmId: string | undefined;
      if (region) {
        vmId = putArmVm(this.#cloud.simulator.model, {
          subscriptionId: LOCAL_AZURE_SUBSCRIPTION,
          resourceGroup: RESOURCE_GROUP,
          name: `${cluster}-${node}`,
          region,
          size: 'Standard_D4s_v5',
          powerState: 'running',
        }).id;
      }
      nodes.push({
        id: node,
        role: i === 0 ? 'active' : 'standby',
        site: region ? { cloud: 'azure', region } : { cloud: 'on-prem', region: 'hall-3' },
        compute: vmId ? { kind: 'azure-vm', resourceId: vmId } : { kind: 'none' },
        ...(i > 0 ? { priority: 10 * i } : {}),
      });
      const proxy = await FaultProxy.start(this.#port);
      const peerProxy = await FaultProxy.start(await freePort());
      this.nodes.push({
        cluster,
        node,
        ...(vmId ? { vmId } : {}),
        ...(region ? { region } : {}),
        proxy,
        peerProxy,
        configPath: path.join(this.options.dir, 'agents', `${cluster}-${node}.yaml`),
        state: 'killed',
      });
    }
    const put = await this.request('PUT', paths.cluster(cluster), {
      id: cluster,
      kind: this.options.nodesPerCluster > 2 ? 'multi-region' : 'active-passive',
      nodes,
      detection: { ...CHAOS_DETECTION, ...(this.options.peerLeases === false ? { peerLeases: false } : {}) },
      failover: CHAOS_FAILOVER_POLICY,
      // Failover drills silence the active for real: allowed, they are one more way to change the active.
      drill: { allowFailover: true },
    });
    if (put.status !== 201)
      throw new Error(`declaring ${cluster}: ${put.status} ${JSON.stringify(put.json)}`);
    for (const n of this.nodes.filter((x) => x.cluster === cluster)) {
      const issued = await this.request('POST', paths.nodeKey(cluster, n.node));
      if (issued.status !== 201) throw new Error(`key of ${cluster}/${n.node}: ${issued.status}`);
      const keyFile = path.join(this.options.dir, 'agents', `${cluster}-${n.node}.key`);
      const { key, peerKey } = issued.json as { key: string; peerKey?: string };
      writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
      const peerKeyFile = path.join(this.options.dir, 'agents', `${cluster}-${n.node}.peer.key`);
      if (peerKey) writeFileSync(peerKeyFile, `${peerKey}\n`, { mode: 0o600 });
      const hook = (name: string) => ({
        name,
        command: [this.#hookScript, this.hookLog, this.controlDir],
        timeoutMs: 15_000,
      });
      writeFileSync(
        n.configPath,
        YAML.stringify({
          cluster,
          node: n.node,
          controlPlane: {
            url: n.proxy.url,
            allowInsecureHttp: true,
            firstContactTimeoutMs: 0,
            requestTimeoutMs: 2000,
          },
          key: { file: keyFile, version: 1 },
          stateDir: path.join(this.options.dir, 'agents', `${cluster}-${n.node}-state`),
          // A standby backs off up to 2 s while the control plane is unreachable (the default, 30 s, would keep it
          // silent — so unpromotable — for up to 30 s after an outage, beyond what the liveness bounds allow).
          heartbeat: { initialIntervalMs: 250, jitterRatio: 0.05, maxBackoffMs: 2000 },
          lease: { fenceMarginMs: 300 },
          log: { level: 'info' },
          hooks: { promote: [hook('promote')], demote: [hook('demote')], fence: [hook('fence')] },
          // Peer promises: the listener on the port the node's peer proxy forwards to; the others reach it through
          // that proxy (its advertised URL).
          ...(peerKey
            ? {
                peerListener: {
                  address: '127.0.0.1',
                  port: n.peerProxy.targetPort,
                  advertiseUrl: n.peerProxy.url,
                  keyFile: peerKeyFile,
                },
              }
            : {}),
        }),
      );
    }
    this.clusters.push(cluster);
  }

  /** Starts (or restarts) a node's agent, with its journal, logging to a file. */
  startAgent(node: ChaosNode): void {
    const root = repoRoot();
    const entry =
      this.options.broken === 'ignore-lease'
        ? path.join(root, 'dist/chaos/brokenAgent.js')
        : path.join(root, 'bin/failover-agent.js');
    const logFd = openSync(path.join(this.options.dir, 'agents', `${node.cluster}-${node.node}.log`), 'a');
    const child = spawn(
      process.execPath,
      ['--require', path.join(root, 'dist/chaos/clockStep.js'), entry, 'run', '--config', node.configPath],
      {
        stdio: ['ignore', logFd, logFd],
        env: {
          ...process.env,
          FAILOVER_AGENT_JOURNAL: this.journalFile(node),
          CHAOS_CLOCK_FILE: this.clockFile(node),
        },
      },
    );
    closeSync(logFd);
    child.once('exit', () => {
      if (node.child === child && node.state === 'running') {
        this.#log(`agent ${node.cluster}/${node.node} exited on its own: restarting it`);
        node.state = 'killed';
        setTimeout(() => {
          if (node.state === 'killed' && node.child === child) this.startAgent(node);
        }, 500);
      }
    });
    node.child = child;
    node.state = 'running';
  }

  journalFile(node: Pick<ChaosNode, 'cluster' | 'node'>): string {
    return path.join(this.journalDir, `${node.cluster}-${node.node}.jsonl`);
  }

  /** Sends a signal to a node's agent; SIGKILL waits for the exit. */
  async signal(node: ChaosNode, signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT'): Promise<void> {
    const child = node.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    if (signal === 'SIGKILL') {
      node.state = 'killed';
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
      return;
    }
    child.kill(signal);
    node.state = signal === 'SIGSTOP' ? 'paused' : 'running';
  }

  /** Power follows the simulated VM: off (stopped, deallocated) kills the node's agent; running again restarts it. */
  #followPower(): void {
    const model = this.#cloud.simulator.model;
    model.settle();
    for (const node of this.nodes) {
      if (!node.vmId) continue;
      const vm = model.vms.get(node.vmId);
      const off = vm !== undefined && (vm.powerState === 'stopped' || vm.powerState === 'deallocated');
      if (off && node.state !== 'off') {
        this.#log(
          `${node.cluster}/${node.node}: its VM is ${vm.powerState}: the node is dead (agent SIGKILLed)`,
        );
        node.state = 'off';
        node.child?.kill('SIGCONT');
        node.child?.kill('SIGKILL');
      } else if (!off && vm?.powerState === 'running' && node.state === 'off') {
        this.#log(`${node.cluster}/${node.node}: its VM runs again: the agent starts`);
        this.startAgent(node);
      }
    }
  }

  /** Powers a node's VM on again (an operator's repair after a fence). */
  repairVm(node: ChaosNode): boolean {
    if (!node.vmId) return false;
    const vm = this.#cloud.simulator.model.vms.get(node.vmId);
    if (!vm || vm.powerState === 'running' || vm.target) return false;
    vm.powerState = 'running';
    this.repairs.push({ at: this.#cloud.simulator.model.clock.now(), action: 'start', resourceId: vm.id });
    return true;
  }

  /** A request to the control plane with the admin key. */
  async request(
    method: string,
    urlPath: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Http> {
    const response = await fetch(`${this.url}${urlPath}`, {
      method,
      headers: {
        'x-functions-key': this.host.keys.masterKey,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, json };
  }

  /** The failover webhook, delivered `copies` times at once with one webhook-id (an action group's retries). */
  async duplicateWebhook(cluster: string, copies: number, id: string): Promise<number[]> {
    const body = JSON.stringify({ clusterId: cluster, reason: 'chaos: duplicate webhook' });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signStandardWebhook(this.webhookSecret, id, timestamp, body),
    };
    const answers = await Promise.all(
      Array.from({ length: copies }, () =>
        this.request('POST', paths.webhookFailover(), body, headers).catch(() => ({
          status: 0,
          json: undefined,
        })),
      ),
    );
    return answers.map((a) => a.status);
  }

  async stop(): Promise<void> {
    process.off('exit', this.#killAll);
    if (this.#watch) clearInterval(this.#watch);
    await Promise.all(
      this.nodes.map(async (n) => {
        n.state = 'killed';
        await this.signal(n, 'SIGKILL');
        await n.proxy.stop();
        await n.peerProxy.stop();
      }),
    );
    const host = this.host as HostProcess | undefined;
    if (host && host.process.exitCode === null && host.process.signalCode === null) {
      host.process.kill('SIGKILL');
      await host.exited;
    }
    // Either may be missing when the start failed halfway.
    const cloud = this.#cloud as LocalCloud | undefined;
    const azurite = this.#azurite as RunningAzurite | undefined;
    await cloud?.stop();
    await Promise.all(this.#storageProxies.map((p) => p.stop()));
    await azurite?.stop();
  }

  /** Removes the run's directory (after `stop`). */
  removeFiles(): void {
    rmSync(this.options.dir, { recursive: true, force: true });
  }
}
