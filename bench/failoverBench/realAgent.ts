import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

/** One JSON log line of the agent, with its `time` parsed (ms since the epoch, this machine's clock). */
export interface AgentLogRecord {
  at: number;
  msg: string;
  fields: Record<string, unknown>;
}

export interface RealAgentOptions {
  /** bin/failover-agent.js of the built repository. */
  bin: string;
  dir: string;
  clusterId: string;
  nodeId: string;
  baseUrl: string;
  /** The node key, base64, as issued. */
  key: string;
  heartbeatIntervalMs: number;
  fenceMarginMs: number;
  /** Hook commands (argv) that every role change runs: quick shell commands. */
  hooks: { promote: string[]; demote: string[]; fence: string[] };
}

/**
 * A real node agent: `bin/failover-agent.js run --config <file>` as a child process, with its key file, state
 * directory and configuration written as an operator would (plain HTTP to the local devhost, `allowInsecureHttp`).
 * Its JSON log (level debug: every heartbeat with the commands of its answer) is collected with timestamps.
 */
export class RealAgent {
  readonly configPath: string;
  readonly logs: AgentLogRecord[] = [];
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stderr = '';

  constructor(private readonly options: RealAgentOptions) {
    const { dir, clusterId, nodeId } = options;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keyFile = path.join(dir, `${clusterId}-${nodeId}.key`);
    writeFileSync(keyFile, `${options.key}\n`, { mode: 0o600 });
    this.configPath = path.join(dir, `${clusterId}-${nodeId}.yaml`);
    writeFileSync(
      this.configPath,
      YAML.stringify({
        cluster: clusterId,
        node: nodeId,
        controlPlane: { url: options.baseUrl, allowInsecureHttp: true },
        key: { file: keyFile, version: 1 },
        stateDir: path.join(dir, `${clusterId}-${nodeId}-state`),
        heartbeat: { initialIntervalMs: options.heartbeatIntervalMs },
        lease: { fenceMarginMs: options.fenceMarginMs },
        hooks: {
          promote: [{ name: 'promote', command: options.hooks.promote }],
          demote: [{ name: 'demote', command: options.hooks.demote }],
          fence: [{ name: 'fence', command: options.hooks.fence }],
        },
        log: { level: 'debug' },
      }),
    );
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  start(): void {
    if (this.running) throw new Error(`agent ${this.options.nodeId} is already running`);
    const child = spawn(process.execPath, [this.options.bin, 'run', '--config', this.configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    let partial = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      partial += chunk.toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        try {
          const { time, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
          this.logs.push({ at: Date.parse(String(time)), msg: String(msg), fields });
        } catch {
          this.logs.push({ at: Date.now(), msg: 'unparsed', fields: { line } });
        }
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-2000);
    });
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** SIGKILL (a crash: no demotion, no last word) or SIGTERM (a graceful stop); resolves once it exited. */
  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    if (this.running) this.#child?.kill(signal);
    await this.#exited;
  }

  stderr(): string {
    return this.#stderr;
  }

  /** The first heartbeat log at or after `since` whose answer carried a command of `type`. */
  commandReceived(type: string, since: number): AgentLogRecord | undefined {
    return this.logs.find(
      (r) =>
        r.at >= since &&
        r.msg === 'heartbeat' &&
        Array.isArray(r.fields.commands) &&
        (r.fields.commands as unknown[]).some((id) => String(id).startsWith(`${type}-`)),
    );
  }

  errors(): AgentLogRecord[] {
    return this.logs.filter((r) => r.fields.level === 'error');
  }
}
