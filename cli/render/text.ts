import { printable } from '../../shared/domain/clusterStatus';

/** Node- and operator-supplied text made safe for one terminal line (see `printable`). */
export function safe(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return printable(value);
  if (typeof value === 'number' || typeof value === 'boolean') return printable(String(value));
  return printable(JSON.stringify(value) ?? '');
}

/** `text` padded to `width` (never cut). */
export const pad = (text: string, width: number): string =>
  text.length >= width ? text : text + ' '.repeat(width - text.length);

/** A duration as people read it: `850 ms`, `12.3 s`, `4 min 5 s`. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms - minutes * 60_000) / 1000);
  return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
}

/** An epoch-ms or ISO time as ISO 8601 (`-` when absent). */
export function time(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return '-';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? safe(value) : date.toISOString();
}

/** The `cmha status` outcome mark of a check or step. */
export function mark(outcome: string): string {
  switch (outcome) {
    case 'ok':
    case 'succeeded':
    case 'passed':
      return '[ OK ]';
    case 'warn':
      return '[WARN]';
    case 'skipped':
      return '[SKIP]';
    case 'running':
    case 'pending':
      return '[ .. ]';
    default:
      return '[FAIL]';
  }
}

/** Rows as columns separated by two spaces, each as wide as its widest cell. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : pad(c, widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
