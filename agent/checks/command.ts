import { describeEnd, runProcess } from '../process';
import { shortDetail, type CheckResult } from './types';

export interface CommandCheckOptions {
  name: string;
  command: readonly string[];
  env?: Record<string, string>;
  timeoutMs: number;
}

/**
 * Runs a command: exit 0 is ok, exit 1 is warn, anything else (another exit code, a timeout, a signal, a program
 * that cannot be started) is fail. The detail is the first line of output (stdout, else stderr).
 */
export async function runCommandCheck(options: CommandCheckOptions): Promise<CheckResult> {
  const result = await runProcess({
    argv: options.command,
    env: { ...process.env, ...options.env },
    timeoutMs: options.timeoutMs,
    maxOutputBytes: 4096,
    killGraceMs: 500,
  });
  const output = shortDetail(result.stdout) || shortDetail(result.stderr);
  const end = describeEnd(result, options.timeoutMs);
  const status =
    result.exitCode === 0 && !result.timedOut
      ? 'ok'
      : result.exitCode === 1 && !result.timedOut
        ? 'warn'
        : 'fail';
  const exited = result.exitCode !== null && !result.timedOut;
  const detail = exited ? output || end : output ? `${end}: ${output}` : end;
  return { name: options.name, status, detail: shortDetail(detail), durationMs: result.durationMs };
}
