import { promises as fs } from 'node:fs';
import { BOUNDS } from '../../shared/contracts/bounds';
import { describeEnd, runProcess } from '../process';
import { shortDetail, type CheckResult } from './types';

export interface ReplicationCheckOptions {
  name: string;
  /** A command printing the lag in milliseconds (the first number of its output). */
  command?: readonly string[];
  env?: Record<string, string>;
  /** A file whose age is the lag. */
  file?: string;
  warnAboveMs?: number;
  failAboveMs?: number;
  timeoutMs: number;
}

/** A replication check's result: the lag when it could be measured. */
export interface ReplicationResult extends CheckResult {
  replicationLagMs?: number;
}

const FIRST_NUMBER = /(?:^|[^\d.])(\d+(?:\.\d+)?)/;

/**
 * Measures the replication lag: from a command (exit 0 and a number in its output) or from a file's age
 * (`wallNow()` − its mtime; a clock behind the file's time reads as 0). The lag is rounded and clamped to the
 * contract's bound. Ok, or warn/fail above the thresholds; a lag that cannot be measured is fail, without a lag.
 */
export async function runReplicationCheck(
  options: ReplicationCheckOptions,
  wallNow: () => number = Date.now,
): Promise<ReplicationResult> {
  const started = performance.now();
  const measured = options.command ? await fromCommand(options) : await fromFile(options.file ?? '', wallNow);
  const durationMs = Math.round(performance.now() - started);
  if (!measured.ok)
    return { name: options.name, status: 'fail', detail: shortDetail(measured.detail), durationMs };
  const lag = Math.min(BOUNDS.durationMs, Math.max(0, Math.round(measured.lagMs)));
  const status =
    options.failAboveMs !== undefined && lag > options.failAboveMs
      ? 'fail'
      : options.warnAboveMs !== undefined && lag > options.warnAboveMs
        ? 'warn'
        : 'ok';
  return { name: options.name, status, detail: `lag ${lag} ms`, durationMs, replicationLagMs: lag };
}

type Measured = { ok: true; lagMs: number } | { ok: false; detail: string };

async function fromCommand(options: ReplicationCheckOptions): Promise<Measured> {
  const result = await runProcess({
    argv: options.command ?? [],
    env: { ...process.env, ...options.env },
    timeoutMs: options.timeoutMs,
    maxOutputBytes: 4096,
    killGraceMs: 500,
  });
  if (result.exitCode !== 0 || result.timedOut) {
    const end = describeEnd(result, options.timeoutMs);
    const output = shortDetail(result.stderr) || shortDetail(result.stdout);
    return { ok: false, detail: output ? `${end}: ${output}` : end };
  }
  const match = FIRST_NUMBER.exec(result.stdout);
  const lag = Number(match?.[1]);
  if (!match || !Number.isFinite(lag))
    return { ok: false, detail: `no lag in the output: ${shortDetail(result.stdout) || '(empty)'}` };
  return { ok: true, lagMs: lag };
}

async function fromFile(file: string, wallNow: () => number): Promise<Measured> {
  try {
    const stat = await fs.stat(file);
    return { ok: true, lagMs: wallNow() - stat.mtimeMs };
  } catch (error) {
    return { ok: false, detail: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}` };
  }
}
