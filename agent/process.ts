import { spawn } from 'node:child_process';

/** Default bound of each captured stream (stdout, stderr). */
export const DEFAULT_MAX_OUTPUT_BYTES = 8 * 1024;

/**
 * Keeps at most `max` bytes of a stream: the first half and the last half, with a marker saying how much was left
 * out in between — so both the first line (a check's detail) and the end (a hook's error) survive.
 */
export class BoundedOutput {
  #head: Buffer[] = [];
  #headBytes = 0;
  #tail: Buffer[] = [];
  #tailBytes = 0;
  #dropped = 0;

  constructor(private readonly max = DEFAULT_MAX_OUTPUT_BYTES) {}

  push(chunk: Buffer): void {
    const half = Math.floor(this.max / 2);
    let rest = chunk;
    if (this.#headBytes < half) {
      const take = rest.subarray(0, half - this.#headBytes);
      this.#head.push(take);
      this.#headBytes += take.length;
      rest = rest.subarray(take.length);
    }
    if (rest.length === 0) return;
    this.#tail.push(rest);
    this.#tailBytes += rest.length;
    const limit = this.max - half;
    while (this.#tailBytes > limit) {
      const first = this.#tail[0] as Buffer;
      const excess = this.#tailBytes - limit;
      if (first.length <= excess) {
        this.#tail.shift();
        this.#tailBytes -= first.length;
        this.#dropped += first.length;
      } else {
        this.#tail[0] = first.subarray(excess);
        this.#tailBytes -= excess;
        this.#dropped += excess;
      }
    }
  }

  get truncated(): boolean {
    return this.#dropped > 0;
  }

  toString(): string {
    const head = Buffer.concat(this.#head).toString('utf8');
    const tail = Buffer.concat(this.#tail).toString('utf8');
    return this.#dropped > 0 ? `${head}\n…[${this.#dropped} bytes left out]…\n${tail}` : head + tail;
  }
}

export interface RunProcessOptions {
  /** The program and its arguments; no shell is involved. */
  argv: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs: number;
  /** Per stream (stdout, stderr). Default 8 KiB. */
  maxOutputBytes?: number;
  /** Aborting kills the process (its whole process group) like a timeout does. */
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL. Default 2 s. */
  killGraceMs?: number;
}

export interface ProcessResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  aborted: boolean;
  /** The process could not be started (e.g. ENOENT: the program does not exist). */
  spawnError?: { code: string; message: string };
  stdout: string;
  stderr: string;
  truncated: boolean;
  durationMs: number;
}

/**
 * Runs a program with a timeout, capturing bounded output. The program gets its own process group, so a timeout
 * (SIGTERM, then SIGKILL after the grace) also stops what it started, and a Ctrl-C meant for the agent does not
 * interrupt it halfway.
 */
export function runProcess(options: RunProcessOptions): Promise<ProcessResult> {
  const started = performance.now();
  const max = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const stdout = new BoundedOutput(max);
  const stderr = new BoundedOutput(max);
  const [program, ...args] = options.argv;
  return new Promise((resolve) => {
    let timedOut = false;
    let aborted = false;
    let settled = false;
    let exited = false;
    const timers: NodeJS.Timeout[] = [];
    let streams: { destroy(): void }[] = [];
    const finish = (partial: Partial<ProcessResult>) => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      // A grandchild may still hold the pipes: stop reading them.
      for (const stream of streams) stream.destroy();
      options.signal?.removeEventListener('abort', onAbort);
      resolve({
        exitCode: null,
        signal: null,
        timedOut,
        aborted,
        stdout: stdout.toString(),
        stderr: stderr.toString(),
        truncated: stdout.truncated || stderr.truncated,
        durationMs: Math.round(performance.now() - started),
        ...partial,
      });
    };
    if (program === undefined) {
      finish({ spawnError: { code: 'EINVAL', message: 'no program given' } });
      return;
    }
    const child = spawn(program, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    streams = [child.stdout, child.stderr];
    const kill = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        try {
          child.kill(sig);
        } catch {
          // already gone
        }
      }
    };
    const stop = () => {
      kill('SIGTERM');
      timers.push(setTimeout(() => kill('SIGKILL'), options.killGraceMs ?? 2000));
    };
    function onAbort() {
      if (settled || exited) return;
      aborted = true;
      stop();
    }
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined)
        finish({ spawnError: { code: error.code ?? 'ERROR', message: error.message } });
    });
    child.on('exit', (exitCode, signal) => {
      exited = true;
      // A grandchild outside the process group may hold the pipes open: do not wait for it for long.
      timers.push(setTimeout(() => finish({ exitCode, signal }), 200));
      child.on('close', () => finish({ exitCode, signal }));
    });
    timers.push(
      setTimeout(() => {
        if (exited) return;
        timedOut = true;
        stop();
      }, options.timeoutMs),
    );
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** One line describing how a process ended, for logs and check details. */
export function describeEnd(result: ProcessResult, timeoutMs: number): string {
  if (result.spawnError) return `could not start: ${result.spawnError.message}`;
  if (result.timedOut) return `timed out after ${timeoutMs} ms`;
  if (result.aborted) return 'aborted';
  if (result.signal) return `killed by ${result.signal}`;
  return `exit ${result.exitCode ?? '?'}`;
}
