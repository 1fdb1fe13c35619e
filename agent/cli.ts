import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { Agent, settingsFromConfig, type AgentPeerDeps, type AgentStatus } from './agent';
import { ConfiguredChecks } from './checks';
import { ControlPlaneClient } from './client';
import { systemClock } from './clock';
import { loadConfig, type AgentConfig, type HookOperation } from './config';
import { ConfiguredHooks, type OperationResult } from './hooks';
import { journalFromEnv } from './journal';
import { errorMessage, Logger } from './log';
import { readStatus, renderStatus } from './status';
import { FileStateStore, lockStateDir, SequenceAllocator, StateKeeper, STATUS_FILE } from './state';
import { PeerClient } from './peers/peerClient';
import { PromiseStore } from './peers/promiseStore';
import { HttpsTransport } from './transport';

const USAGE = `Usage: failover-agent [run] --config <file>
       failover-agent status (--config <file> | --state-dir <dir>) [--json]
       failover-agent check-config --config <file>

The failover-plane node agent: heartbeats to the control plane over HTTPS, runs health checks and role hooks,
and fences itself when its lease runs out. Logs are JSON lines on stdout.

Exit codes: 0 stopped by SIGTERM/SIGINT, 2 invalid configuration or usage, 3 the control plane was not reached
within controlPlane.firstContactTimeoutMs, 4 the state directory is unusable or used by another agent, 1 other.`;

export const EXIT = { ok: 0, failure: 1, usage: 2, unreachable: 3, state: 4 } as const;

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** The version the single-file bundle carries (scripts/buildAgentBundle.cjs defines it; no package.json beside it). */
declare const FAILOVER_AGENT_BUNDLE_VERSION: string | undefined;

function readVersion(): string {
  if (typeof FAILOVER_AGENT_BUNDLE_VERSION === 'string') return FAILOVER_AGENT_BUNDLE_VERSION;
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    try {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'failover-plane' && pkg.version) return pkg.version;
    } catch {
      // keep looking
    }
  }
  return '0.0.0-unknown';
}

/** The CLI. Resolves with the exit code; never prints a stack for an expected problem. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        'state-dir': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (error) {
    io.stderr(`failover-agent: ${errorMessage(error)}\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return EXIT.ok;
  }
  if (values.version) {
    io.stdout(`${readVersion()}\n`);
    return EXIT.ok;
  }
  const command = positionals[0] ?? 'run';
  if (positionals.length > 1 || !['run', 'status', 'check-config'].includes(command)) {
    io.stderr(`failover-agent: unknown command "${positionals.join(' ')}"\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  if (command === 'status') return status(values.config, values['state-dir'], values.json ?? false, io);
  if (!values.config) {
    io.stderr(`failover-agent: --config <file> is required\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  const loaded = loadConfig(values.config);
  if (!loaded.ok) {
    io.stderr(
      `failover-agent: the configuration ${values.config} is invalid (${loaded.errors.length} problem${
        loaded.errors.length === 1 ? '' : 's'
      }):\n${loaded.errors.map((e) => `  - ${e}`).join('\n')}\n`,
    );
    return EXIT.usage;
  }
  if (command === 'check-config') {
    for (const warning of loaded.warnings) io.stderr(`failover-agent: warning: ${warning}\n`);
    io.stdout(`${values.config}: ok (cluster ${loaded.config.clusterId}, node ${loaded.config.nodeId})\n`);
    return EXIT.ok;
  }
  return run(loaded.config, loaded.key, loaded.warnings, io, loaded.peerKey);
}

async function status(
  configFile: string | undefined,
  stateDirArg: string | undefined,
  json: boolean,
  io: Io,
): Promise<number> {
  let stateDir = stateDirArg;
  if (!stateDir && configFile) {
    // Only the state directory is needed: no key, so `status` works for users who cannot read the key file.
    try {
      const raw = YAML.parse(readFileSync(configFile, 'utf8')) as { stateDir?: unknown } | null;
      if (typeof raw?.stateDir === 'string') stateDir = path.resolve(path.dirname(configFile), raw.stateDir);
    } catch (error) {
      io.stderr(`failover-agent: cannot read ${configFile}: ${errorMessage(error)}\n`);
      return EXIT.usage;
    }
    if (!stateDir) {
      io.stderr(`failover-agent: ${configFile} names no stateDir\n`);
      return EXIT.usage;
    }
  }
  if (!stateDir) {
    io.stderr(`failover-agent: status needs --config <file> or --state-dir <dir>\n`);
    return EXIT.usage;
  }
  try {
    const view = await readStatus(stateDir);
    if (!view.state && !view.status) {
      io.stderr(`failover-agent: no agent state in ${stateDir} (has the agent run yet?)\n`);
      return EXIT.failure;
    }
    io.stdout(json ? `${JSON.stringify(view, null, 2)}\n` : renderStatus(view));
    return EXIT.ok;
  } catch (error) {
    io.stderr(`failover-agent: ${errorMessage(error)}\n`);
    return EXIT.failure;
  }
}

async function run(
  config: AgentConfig,
  key: Buffer,
  warnings: string[],
  io: Io,
  peerKey?: Buffer,
): Promise<number> {
  const log = new Logger(config.log.level, { cluster: config.clusterId, node: config.nodeId });
  for (const warning of warnings) log.warn(warning);
  const stateDir = config.stateDir;
  try {
    await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    io.stderr(`failover-agent: cannot create the state directory ${stateDir}: ${errorMessage(error)}\n`);
    return EXIT.state;
  }
  let lock;
  try {
    lock = await lockStateDir(stateDir);
  } catch (error) {
    io.stderr(`failover-agent: cannot lock the state directory ${stateDir}: ${errorMessage(error)}\n`);
    return EXIT.state;
  }
  if (!lock.ok) {
    io.stderr(`failover-agent: another agent (pid ${lock.pid}) is using the state directory ${stateDir}\n`);
    return EXIT.state;
  }
  try {
    return await runLocked(config, key, stateDir, log, io, peerKey);
  } finally {
    await lock.release();
  }
}

async function runLocked(
  config: AgentConfig,
  key: Buffer,
  stateDir: string,
  log: Logger,
  io: Io,
  peerKey?: Buffer,
): Promise<number> {
  const store = new FileStateStore(stateDir);
  let state: StateKeeper;
  try {
    state = await StateKeeper.open(store, config.clusterId, config.nodeId);
  } catch (error) {
    io.stderr(`failover-agent: ${errorMessage(error)}\n`);
    return EXIT.state;
  }
  let previousHooks: Partial<Record<HookOperation, OperationResult>> = {};
  try {
    const previous = JSON.parse(await fs.readFile(path.join(stateDir, STATUS_FILE), 'utf8')) as AgentStatus;
    previousHooks = previous.hooks ?? {};
  } catch {
    // no earlier status
  }
  const clock = systemClock;
  const sequence = new SequenceAllocator(state);
  const client = new ControlPlaneClient({
    transport: new HttpsTransport(config.controlPlane.url, {
      pins: config.controlPlane.pins,
      ...(config.controlPlane.ca ? { ca: config.controlPlane.ca } : {}),
    }),
    base: config.controlPlane.url,
    clusterId: config.clusterId,
    nodeId: config.nodeId,
    keyVersion: config.key.version,
    key,
    sequence,
    clock,
    requestTimeoutMs: config.controlPlane.requestTimeoutMs,
    arbitrateTimeoutMs: config.controlPlane.arbitrateTimeoutMs,
  });
  let peer: AgentPeerDeps | undefined;
  if (config.peerListener && peerKey) {
    try {
      peer = {
        store: await PromiseStore.open({
          dir: stateDir,
          clusterId: config.clusterId,
          nodeId: config.nodeId,
          clock,
        }),
        client: new PeerClient({
          clusterId: config.clusterId,
          nodeId: config.nodeId,
          key: peerKey,
          nextSeq: () => sequence.next(),
          clock,
        }),
        listener: {
          address: config.peerListener.address,
          port: config.peerListener.port,
          ...(config.peerListener.advertiseUrl ? { advertiseUrl: config.peerListener.advertiseUrl } : {}),
          key: peerKey,
        },
      };
    } catch (error) {
      io.stderr(`failover-agent: ${errorMessage(error)}\n`);
      return EXIT.state;
    }
  }
  // The acting journal, for the chaos checker: only when FAILOVER_AGENT_JOURNAL names a file.
  const journal = journalFromEnv(process.env, { cluster: config.clusterId, node: config.nodeId });
  const agent = new Agent({
    settings: settingsFromConfig(config),
    client,
    checks: new ConfiguredChecks(config.checks),
    hooks: new ConfiguredHooks(config.hooks, { clusterId: config.clusterId, nodeId: config.nodeId }, log, {
      peers: config.peers,
    }),
    state,
    writeStatus: (snapshot) => store.saveStatus(snapshot),
    clock,
    log,
    previousHooks,
    ...(journal ? { journal } : {}),
    ...(peer ? { peer } : {}),
  });

  let exitCode: number = EXIT.ok;
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn('second signal: exiting without waiting', { signal });
      process.exit(EXIT.failure);
    }
    void agent.stop(`received ${signal}`).then(resolveStopped);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  log.info('starting', {
    url: config.controlPlane.url.origin,
    stateDir,
    role: state.current.role,
    highestEpoch: state.current.highestEpoch,
    seqReserved: state.current.seqReserved,
    checks: config.checks.map((c) => c.name),
    tls: config.controlPlane.pins.length ? 'pinned' : config.controlPlane.ca ? 'ca-bundle' : 'system-ca',
  });
  let firstContact: NodeJS.Timeout | undefined;
  try {
    await agent.start();
    const timeoutMs = config.controlPlane.firstContactTimeoutMs;
    if (timeoutMs > 0 && !agent.connected)
      firstContact = setTimeout(() => {
        if (agent.connected) return;
        const why = agent.lastFailure ?? 'no answer';
        log.error('the control plane was not reached: exiting', {
          url: config.controlPlane.url.origin,
          timeoutMs,
          error: why,
        });
        io.stderr(
          `failover-agent: cannot reach the control plane at ${config.controlPlane.url.origin} ` +
            `within ${timeoutMs} ms: ${why}\n`,
        );
        exitCode = EXIT.unreachable;
        void agent.stop('the control plane was not reached').then(resolveStopped);
      }, timeoutMs);
    await stopped;
  } catch (error) {
    log.error('the agent broke', { error: errorMessage(error) });
    io.stderr(`failover-agent: ${errorMessage(error)}\n`);
    await agent.stop('error').catch(() => undefined);
    exitCode = EXIT.failure;
  } finally {
    if (firstContact) clearTimeout(firstContact);
    journal?.close();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  return exitCode;
}
