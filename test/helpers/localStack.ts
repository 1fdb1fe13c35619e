import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { paths } from '../../shared/contracts/routes';
import { startAgent, type AgentProcess } from '../agent/helpers/agentProcess';
import { startControlPlane, type ControlPlane } from './controlPlane';
import { request } from './durableHttp';
import { waitFor } from './waitFor';

/**
 * The local stack for end-to-end tests: the control plane in a devhost (in-memory Azurite) with the cloud simulator
 * (simulated ARM and OCI, `/admin/*` to steer it), and real node-agent processes (`bin/failover-agent.js`, built)
 * talking to it over plain HTTP. Each agent's hooks are tiny shell scripts that append one line per run to a marker
 * file — `<ms> <operation> <command id> <epoch> <role>` — so a test reads what ran, where, under which epoch.
 *
 * Waits are polls with a deadline (`until`), never sleeps. Every agent is SIGKILLed by `stopAgents`/`stop` — and,
 * should the test process exit without them, by an exit handler — so no agent outlives its test.
 */

/** The simulated resources the stack names: the local cloud's subscription and resource group. */
export const SIM_SUBSCRIPTION = '00000000-0000-0000-0000-00000000f00d';
export const SIM_RESOURCE_GROUP = 'hpc-demo';

export const azureVmId = (name: string): string =>
  `/subscriptions/${SIM_SUBSCRIPTION}/resourceGroups/${SIM_RESOURCE_GROUP}/providers/Microsoft.Compute/virtualMachines/${name}`;
export const ociInstanceId = (region: string, name: string): string =>
  `ocid1.instance.oc1.${region}.${name.replace(/[^a-z0-9]/g, '')}`;

export type HookName = 'promote' | 'demote' | 'fence' | 'fencePeer';

/** One run of a hook, as its marker line says. */
export interface HookRun {
  at: number;
  operation: string;
  commandId: string;
  epoch: number;
  /** FP_ROLE ('-' when unset, as for a fence-peer). */
  role: string;
  /** FP_TARGET_NODE of a fence-peer ('-' otherwise). */
  target: string;
}

export interface StackAgentOptions {
  /** The lag the agent's `replication` check reports (a file the test can change: `setReplicationLag`). */
  replicationLagMs?: number;
  /** The promote hook's exit code (records its run first). Default 0. */
  promoteExitCode?: number;
  /** How long the promote hook takes (ms; after recording its run). Default 0. */
  promoteSleepMs?: number;
  /** The agent's `lease.fenceMarginMs`. Default 300. */
  fenceMarginMs?: number;
  /** Give the agent a `fencePeer` hook (a fencer node): it records its run and "powers off" the peer (exit 0). */
  fencePeer?: boolean;
  /** Hooks left out of the agent's configuration (an agent that cannot promote, say). */
  omitHooks?: HookName[];
}

export interface StackAgent {
  clusterId: string;
  nodeId: string;
  /** The running process (replaced by `restart`). */
  process: AgentProcess;
  /** The runs of one hook so far, oldest first. */
  runs(hook: HookName): HookRun[];
  setReplicationLag(ms: number): void;
  /** Sends `signal` (SIGKILL: a crash; SIGSTOP: a network cut — it neither heartbeats nor acknowledges). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the agent again with the same configuration and state directory (after `kill`). */
  restart(): Promise<void>;
}

/** Where a node of `declarePair` runs: a simulated Azure VM or OCI instance, or on premises (no cloud fence). */
export type PairSite = 'azure' | 'oci' | 'on-prem';

const REGION: Record<PairSite, [string, string]> = {
  azure: ['westeurope', 'northeurope'],
  oci: ['eu-frankfurt-1', 'us-ashburn-1'],
  'on-prem': ['hall-1', 'hall-2'],
};

export interface PairOptions {
  detection: Record<string, number>;
  failover?: Record<string, unknown>;
  /** Where head-a (the active) runs. Default azure. */
  active?: PairSite;
  /** Where head-b (the standby) runs. Default azure. */
  standby?: PairSite;
  /**
   * Add a third node, `fencer` (on premises, a standby of the lowest preference), as the cluster's
   * `failover.fencerNodeId`: its agent fences a failed active through its `fencePeer` hook.
   */
  fencer?: boolean;
  /** Declare each cloud node's `size` (the simulator's: what a validate drill checks quota for). */
  sizes?: boolean;
  /** The document's `drill` section. */
  drill?: Record<string, unknown>;
}

export interface DeclaredPair {
  clusterId: string;
  /** The compute id of each node (Azure resource id or OCI OCID), when it has one. */
  vm: { 'head-a'?: string; 'head-b'?: string };
  region: { 'head-a': string; 'head-b': string };
}

export interface LocalStack {
  cp: ControlPlane;
  url: string;
  simulatorUrl: string;
  dir: string;
  /** Declares a cluster (PUT, 201) and issues each node's key. */
  declare(document: Record<string, unknown>): Promise<void>;
  /**
   * Declares an active/passive pair, head-a active and head-b standby (priority 10), each on a VM the simulator
   * runs (`<cluster>-a`, `<cluster>-b`) unless on premises, and issues their keys.
   */
  declarePair(clusterId: string, options: PairOptions): Promise<DeclaredPair>;
  startAgent(clusterId: string, nodeId: string, options?: StackAgentOptions): StackAgent;
  status(clusterId: string): Promise<any>;
  /** Every operation of the cluster, newest first. */
  operations(clusterId: string): Promise<any[]>;
  operation(clusterId: string, operationId: string): Promise<any>;
  /** Every audit entry of the cluster, newest first. */
  audit(clusterId: string): Promise<any[]>;
  failover(clusterId: string, body: Record<string, unknown>): Promise<{ status: number; json: any }>;
  makeActive(clusterId: string, body: Record<string, unknown>): Promise<{ status: number; json: any }>;
  alert(payload: unknown): Promise<{ status: number; json: any }>;
  /** A request to the simulator's `/admin/*`. */
  sim(method: string, adminPath: string, body?: unknown): Promise<any>;
  /** The simulated VM (by id, case-insensitive), as `/admin/state` shows it. */
  vm(id: string): Promise<{ id: string; powerState: string; target?: string } | undefined>;
  /** Adds a running VM to the simulator (Azure: a `Standard_D4s_v5`; OCI: a `VM.Standard.E5.Flex`). */
  addVm(cloud: 'azure' | 'oci', region: string, id: string, name: string): Promise<void>;
  /** Marks a simulated region down (its requests refused or left hanging) or up again. */
  setRegionDown(cloud: 'azure' | 'oci', region: string, down: 'refuse' | 'hang' | null): Promise<void>;
  /** Polls `read` until `ok` holds (default deadline 30 s); fails naming `what` and the last value read. */
  until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs?: number): Promise<T>;
  /** Polls the operation until it ended (neither pending nor running). */
  ended(clusterId: string, operationId: string, timeoutMs?: number): Promise<any>;
  /** SIGKILLs every agent started so far and waits for them to exit. */
  stopAgents(): Promise<void>;
  stop(): Promise<void>;
}

const HOOK_SCRIPT = [
  '#!/bin/sh',
  '# $1: the marker file; $2: the exit code; $3: seconds to sleep first. One line per run.',
  'echo "$(date +%s%3N) $FP_OPERATION $FP_OPERATION_ID $FP_EPOCH ${FP_ROLE:--} ${FP_TARGET_NODE:--}" >> "$1"',
  '# $3: seconds to take (a slow hook), if given.',
  'if [ -n "$3" ]; then sleep "$3"; fi',
  'exit "${2:-0}"',
].join('\n');

/** Agents of every stack in this process, killed on exit should a test leave any behind. */
const live = new Set<AgentProcess>();
let exitHandlerInstalled = false;
function track(agent: AgentProcess): void {
  live.add(agent);
  void agent.exited.then(() => live.delete(agent));
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    process.on('exit', () => {
      for (const a of live)
        if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
    });
  }
}

export async function startLocalStack(
  options: { env?: Record<string, string>; transitionMs?: number } = {},
): Promise<LocalStack> {
  const dir = mkdtempSync(path.join(tmpdir(), 'fp-local-stack-'));
  const cp = await startControlPlane(options.env ?? {}, { cloudSimulator: true });
  const cloud = cp.host.cloud;
  if (!cloud) throw new Error('the devhost did not start the cloud simulator');
  const url = cp.host.url;
  const simulatorUrl = cloud.simulator.url;
  const hookScript = path.join(dir, 'hook.sh');
  writeFileSync(hookScript, `${HOOK_SCRIPT}\n`);
  chmodSync(hookScript, 0o755);
  const keys = new Map<string, string>();
  const agents: StackAgent[] = [];

  const sim = async (method: string, adminPath: string, body?: unknown) => {
    const r = await request(`${simulatorUrl}${adminPath}`, {
      method,
      ...(body !== undefined ? { body } : {}),
    });
    if (r.status !== 200) throw new Error(`simulator ${method} ${adminPath}: ${r.status} ${r.text}`);
    return r.json;
  };
  // Power transitions take this long in the simulator (the default 1.5 s would slow every power-off fence).
  await sim('PUT', '/admin/transition', { transitionMs: options.transitionMs ?? 100 });

  const get = async (urlPath: string) => {
    const r = await request(`${url}${urlPath}`, { key: cp.functionKey });
    if (r.status !== 200) throw new Error(`GET ${urlPath}: ${r.status} ${r.text}`);
    return r.json;
  };
  const post = async (urlPath: string, body: unknown, key = cp.adminKey) => {
    const r = await request(`${url}${urlPath}`, { method: 'POST', key, body });
    return { status: r.status, json: r.json };
  };
  const paged = async (first: string, field: string): Promise<any[]> => {
    const all: any[] = [];
    let continuation: string | undefined;
    do {
      const query = `?limit=100${continuation ? `&continuation=${encodeURIComponent(continuation)}` : ''}`;
      const page = await get(`${first}${query}`);
      all.push(...(page[field] as any[]));
      continuation = page.continuation as string | undefined;
    } while (continuation);
    return all;
  };

  const until = async <T>(
    what: string,
    read: () => Promise<T>,
    ok: (value: T) => boolean,
    timeoutMs = 30_000,
  ): Promise<T> => {
    let last: T | undefined;
    try {
      return await waitFor(
        async () => {
          last = await read();
          return ok(last) ? { value: last } : undefined;
        },
        { timeoutMs, intervalMs: 50, description: what },
      ).then((found) => found.value);
    } catch (error) {
      throw new Error(`${(error as Error).message}; last value: ${JSON.stringify(last)?.slice(0, 2000)}`);
    }
  };

  const stack: LocalStack = {
    cp,
    url,
    simulatorUrl,
    dir,
    async declare(document) {
      const clusterId = String(document.id);
      const put = await request(`${url}${paths.cluster(clusterId)}`, {
        method: 'PUT',
        key: cp.adminKey,
        body: document,
      });
      if (put.status !== 201) throw new Error(`declaring ${clusterId}: ${put.status} ${put.text}`);
      for (const node of document.nodes as { id: string }[]) {
        const issued = await request(`${url}${paths.nodeKey(clusterId, node.id)}`, {
          method: 'POST',
          key: cp.adminKey,
        });
        if (issued.status !== 201) throw new Error(`key of ${node.id}: ${issued.status} ${issued.text}`);
        const file = path.join(dir, `${clusterId}-${node.id}.key`);
        writeFileSync(file, `${issued.json.key as string}\n`, { mode: 0o600 });
        keys.set(`${clusterId}/${node.id}`, file);
      }
    },
    async declarePair(clusterId, pair) {
      const vm: DeclaredPair['vm'] = {};
      const region = { 'head-a': '', 'head-b': '' };
      const nodes = [];
      for (const [i, nodeId] of (['head-a', 'head-b'] as const).entries()) {
        const site = (i === 0 ? pair.active : pair.standby) ?? 'azure';
        const where = REGION[site][i] as string;
        region[nodeId] = where;
        const name = `${clusterId}-${nodeId}`;
        let compute: Record<string, string> = { kind: 'none' };
        if (site === 'azure') {
          vm[nodeId] = azureVmId(name);
          compute = { kind: 'azure-vm', resourceId: azureVmId(name) };
        } else if (site === 'oci') {
          vm[nodeId] = ociInstanceId(where, name);
          compute = { kind: 'oci-instance', ocid: ociInstanceId(where, name) };
        }
        const id = vm[nodeId];
        if (id && site !== 'on-prem') await stack.addVm(site, where, id, name);
        nodes.push({
          id: nodeId,
          role: i === 0 ? 'active' : 'standby',
          site: { cloud: site, region: where },
          compute,
          ...(i === 1 ? { priority: 10 } : {}),
          ...(pair.sizes && site !== 'on-prem'
            ? { size: site === 'azure' ? 'Standard_D4s_v5' : 'VM.Standard.E5.Flex' }
            : {}),
        });
      }
      if (pair.fencer)
        nodes.push({
          id: 'fencer',
          role: 'standby',
          site: { cloud: 'on-prem', region: 'hall-3' },
          compute: { kind: 'none' },
          priority: 1000,
        });
      const failover = { ...pair.failover, ...(pair.fencer ? { fencerNodeId: 'fencer' } : {}) };
      await stack.declare({
        id: clusterId,
        kind: pair.fencer ? 'multi-region' : 'active-passive',
        nodes,
        detection: pair.detection,
        ...(Object.keys(failover).length > 0 ? { failover } : {}),
        ...(pair.drill ? { drill: pair.drill } : {}),
      });
      return { clusterId, vm, region };
    },
    startAgent(clusterId, nodeId, agentOptions = {}) {
      const keyFile = keys.get(`${clusterId}/${nodeId}`);
      if (!keyFile) throw new Error(`declare ${clusterId} first`);
      const base = path.join(dir, `${clusterId}-${nodeId}`);
      const marker = (hook: HookName) => `${base}-${hook}.log`;
      const lagFile = `${base}-lag`;
      const setReplicationLag = (ms: number) => writeFileSync(lagFile, `${ms}\n`);
      if (agentOptions.replicationLagMs !== undefined) setReplicationLag(agentOptions.replicationLagMs);
      const hook = (name: HookName, exitCode = 0, sleepMs = 0) => ({
        name: `${name}-marker`,
        command: [
          hookScript,
          marker(name),
          String(exitCode),
          ...(sleepMs > 0 ? [(sleepMs / 1000).toFixed(3)] : []),
        ],
        timeoutMs: 10_000,
      });
      const configPath = `${base}.yaml`;
      writeFileSync(
        configPath,
        YAML.stringify({
          cluster: clusterId,
          node: nodeId,
          controlPlane: { url, allowInsecureHttp: true, firstContactTimeoutMs: 30_000 },
          key: { file: keyFile, version: 1 },
          stateDir: `${base}-state`,
          heartbeat: { initialIntervalMs: 250, jitterRatio: 0.05 },
          lease: { fenceMarginMs: agentOptions.fenceMarginMs ?? 300 },
          log: { level: 'debug' },
          checks:
            agentOptions.replicationLagMs !== undefined
              ? [{ type: 'replication', command: ['cat', lagFile] }]
              : [],
          hooks: Object.fromEntries(
            Object.entries({
              promote: hook('promote', agentOptions.promoteExitCode ?? 0, agentOptions.promoteSleepMs ?? 0),
              demote: hook('demote'),
              fence: hook('fence'),
              ...(agentOptions.fencePeer ? { fencePeer: hook('fencePeer') } : {}),
            }).filter(([name]) => !(agentOptions.omitHooks ?? []).includes(name as HookName)),
          ),
        }),
      );
      const spawn = () => {
        const child = startAgent(['--config', configPath]);
        track(child);
        return child;
      };
      const agent: StackAgent = {
        clusterId,
        nodeId,
        process: spawn(),
        runs(name) {
          const file = marker(name);
          if (!existsSync(file)) return [];
          return readFileSync(file, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => {
              const [at, operation, commandId, epoch, role, target] = line.split(' ');
              return {
                at: Number(at),
                operation: operation ?? '',
                commandId: commandId ?? '',
                epoch: Number(epoch),
                role: role ?? '-',
                target: target ?? '-',
              };
            });
        },
        setReplicationLag,
        async kill(signal = 'SIGKILL') {
          if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
            agent.process.child.kill(signal);
            return;
          }
          await agent.process.kill(signal);
        },
        async restart() {
          await agent.process.kill('SIGKILL');
          agent.process = spawn();
        },
      };
      agents.push(agent);
      return agent;
    },
    status: (clusterId) => get(paths.clusterStatus(clusterId)),
    operations: (clusterId) => paged(paths.operations(clusterId), 'operations'),
    operation: async (clusterId, operationId) =>
      (await get(paths.operation(clusterId, operationId))).operation,
    audit: (clusterId) => paged(paths.audit(clusterId), 'entries'),
    failover: (clusterId, body) => post(paths.failover(clusterId), body),
    makeActive: (clusterId, body) => post(paths.makeActive(clusterId), body),
    alert: (payload) => post(paths.webhookAzureMonitor(), payload, cp.functionKey),
    sim,
    async vm(id) {
      const state = await sim('GET', '/admin/state');
      return (state.vms as { id: string; powerState: string }[]).find(
        (v) => v.id.toLowerCase() === id.toLowerCase(),
      );
    },
    async addVm(cloud, region, id, name) {
      await sim('POST', '/admin/vms', {
        id,
        name,
        cloud,
        region,
        size: cloud === 'azure' ? 'Standard_D4s_v5' : 'VM.Standard.E5.Flex',
        powerState: 'running',
      });
    },
    async setRegionDown(cloud, region, down) {
      const state = await sim('GET', '/admin/state');
      const site = (state.sites as Record<string, unknown>[]).find(
        (s) => s.cloud === cloud && s.region === region,
      );
      if (!site) throw new Error(`the simulator has no ${cloud} region ${region}`);
      const { quotaUse: _use, down: _down, ...rest } = site;
      await sim('PUT', '/admin/sites', { ...rest, ...(down ? { down } : {}) });
    },
    until,
    ended: (clusterId, operationId, timeoutMs) =>
      until(
        `operation ${operationId} of ${clusterId} to end`,
        () => stack.operation(clusterId, operationId),
        (op) => op !== undefined && op.status !== 'pending' && op.status !== 'running',
        timeoutMs,
      ),
    async stopAgents() {
      await Promise.all(agents.map((a) => a.process.kill('SIGKILL')));
      agents.splice(0);
    },
    async stop() {
      await stack.stopAgents();
      await cp.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}
