/** Helpers the benchmark scripts share. */
import type { LogFn } from '../devhost/durable/engineContext';

export { mapLimit } from '../shared/util/mapLimit';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export interface LogTally {
  errors: string[];
  warnings: string[];
}

/** A devhost logger that prints only errors and counts warnings, so benchmark output stays readable. */
export function quietLogger(tally: LogTally): LogFn {
  return (level, message, fields) => {
    const line = fields && Object.keys(fields).length > 0 ? `${message} ${JSON.stringify(fields)}` : message;
    if (level === 'error') {
      tally.errors.push(line);
      console.error(`[devhost error] ${line}`);
    } else if (level === 'warn') {
      tally.warnings.push(line);
    }
  };
}

/** If something still holds the event loop `graceMs` after the run, say what and exit anyway. */
export function exitIfStuck(name: string, code: number, graceMs: number): void {
  setTimeout(() => {
    console.error(
      `${name}: the process was still alive ${graceMs} ms after the devhost stopped; ` +
        `active resources: ${process.getActiveResourcesInfo().join(', ')}. Exiting.`,
    );
    process.exit(code);
  }, graceMs).unref();
}
