import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { PartitionProxy } from './partitionProxy';

/** What a demo node's agent is doing, as the demo made it. */
export type DemoAgentState = 'running' | 'paused' | 'partitioned' | 'killed' | 'exited';

export interface DemoAgentOptions {
  clusterId: string;
  nodeId: string;
  /** `bin/failover-agent.js` of this repository. */
  agentBin: string;
  configPath: string;
  stateDir: string;
  /** The agent's JSON log lines go here (appended). */
  logFile: string;
  /** The proxy between the agent and the devhost (`partition` cuts it). */
  proxy: PartitionProxy;
  /** Called with each log record of the agent (parsed JSON line). */
  onLog?: (record: Record<string, unknown>) => void;
}

/**
 * One demo node's agent: a real `failover-agent` process. `kill` is a crash (SIGKILL), `pause` a hung node
 * (SIGSTOP; `resume` sends SIGCONT), `partition` a network cut (the process runs, its proxy black-holes it).
 */
export class DemoAgent {
  readonly clusterId: string;
  readonly nodeId: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #state: DemoAgentState = 'exited';
  #log: WriteStream | undefined;

  constructor(private readonly options: DemoAgentOptions) {
    this.clusterId = options.clusterId;
    this.nodeId = options.nodeId;
  }

  get pid(): number | undefined {
    return this.#child?.exitCode === null && this.#child.signalCode === null ? this.#child.pid : undefined;
  }

  get state(): DemoAgentState {
    return this.#state;
  }

  async start(): Promise<void> {
    if (this.pid !== undefined) return;
    await killLeftover(this.options.stateDir, this.options.configPath);
    this.#log ??= createWriteStream(this.options.logFile, { flags: 'a' });
    const child = spawn(process.execPath, [this.options.agentBin, '--config', this.options.configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#state = this.options.proxy.partitioned ? 'partitioned' : 'running';
    let partial = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      this.#log?.write(chunk);
      partial += chunk.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim() || !this.options.onLog) continue;
        try {
          this.options.onLog(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a log record
        }
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => this.#log?.write(chunk));
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (this.#child === child && this.#state !== 'killed') this.#state = 'exited';
        resolve();
      });
      child.once('error', () => resolve());
    });
  }

  /** A crash: SIGKILL, no demote, no fence. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child && this.pid !== undefined) {
      child.kill('SIGCONT'); // a paused process dies as well, but its exit is reported only once it runs
      child.kill('SIGKILL');
    }
    await this.#exited;
    this.#state = 'killed';
  }

  /** A hung node: SIGSTOP (no heartbeat, no hook, no self-fence until `resume`). */
  pause(): void {
    if (this.pid === undefined) throw new DemoAgentNotRunningError(this.nodeId, this.#state);
    this.#child?.kill('SIGSTOP');
    this.#state = 'paused';
  }

  resume(): void {
    if (this.pid === undefined) throw new DemoAgentNotRunningError(this.nodeId, this.#state);
    this.#child?.kill('SIGCONT');
    this.#state = this.options.proxy.partitioned ? 'partitioned' : 'running';
  }

  /** A network cut: the agent keeps running (its lease lapses, it fences itself) but reaches nothing. */
  partition(): void {
    this.options.proxy.partition();
    if (this.#state === 'running') this.#state = 'partitioned';
  }

  heal(): void {
    this.options.proxy.heal();
    if (this.#state === 'partitioned') this.#state = 'running';
  }

  /** Starts the agent again (after a kill or an exit; a running one is killed first). */
  async restart(): Promise<void> {
    if (this.pid !== undefined) await this.kill();
    this.options.proxy.heal();
    await this.start();
  }

  /** Stops for good (SIGKILL, as the local stack does) and closes the log. */
  async stop(): Promise<void> {
    await this.kill();
    await this.options.proxy.stop();
    await new Promise<void>((resolve) => (this.#log ? this.#log.end(() => resolve()) : resolve()));
    this.#log = undefined;
  }
}

export class DemoAgentNotRunningError extends Error {
  override readonly name = 'DemoAgentNotRunningError';
  constructor(
    readonly nodeId: string,
    readonly state: DemoAgentState,
  ) {
    super(`the agent of ${nodeId} is not running (${state}): restart it first`);
  }
}

/**
 * An agent left running by a devhost that was itself killed (no exit handler ran) still holds the state directory's
 * lock: kill it, but only when its command line is this very configuration's agent.
 */
async function killLeftover(stateDir: string, configPath: string): Promise<void> {
  const lockFile = path.join(stateDir, 'agent.lock');
  if (!existsSync(lockFile)) return;
  const pid = Number(readFileSync(lockFile, 'utf8').trim());
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!cmdline.some((arg) => arg.endsWith('failover-agent.js')) || !cmdline.includes(configPath)) return;
    process.kill(pid, 'SIGKILL');
  } catch {
    return; // not running, or not Linux: the agent's own lock takeover handles a dead holder
  }
  // Gone within a moment (the new agent would find the lock held otherwise).
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++)
    await new Promise((resolve) => setTimeout(resolve, 20));
}
