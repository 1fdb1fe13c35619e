import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from '../../helpers/waitFor';

export const root = path.resolve(__dirname, '../../..');
export const bin = path.join(root, 'bin/failover-agent.js');

/** The child-process tests run the built agent: `npm test` builds before jest; alone, run `npm run build` first. */
export function assertBuilt(): void {
  if (!existsSync(path.join(root, 'dist/agent/cli.js')))
    throw new Error('dist/agent/cli.js is missing: run "npm run build" before these tests (npm test does)');
}

export interface AgentProcess {
  child: ChildProcess;
  /** Every JSON log line, parsed. */
  logs: Record<string, any>[];
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  waitForLog(
    predicate: (record: Record<string, any>) => boolean,
    description: string,
    timeoutMs?: number,
  ): Promise<Record<string, any>>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `failover-agent` (the bin script) with the given arguments and collects its output. */
export function startAgent(args: string[]): AgentProcess {
  assertBuilt();
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const logs: Record<string, any>[] = [];
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ unparsed: line });
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    logs,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForLog: (predicate, description, timeoutMs = 15_000) =>
      waitFor(() => logs.find(predicate), {
        timeoutMs,
        description: `${description}; stderr: ${err.slice(-500)}`,
      }),
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs `failover-agent` to completion. */
export async function runAgent(
  args: string[],
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const agent = startAgent(args);
  const timer = setTimeout(() => agent.child.kill('SIGKILL'), timeoutMs);
  const code = await agent.exited;
  clearTimeout(timer);
  return { code, stdout: agent.stdout(), stderr: agent.stderr() };
}
