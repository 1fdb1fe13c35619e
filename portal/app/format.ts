/** How the portal writes durations, ages and times. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  if (minutes < 60) return `${minutes} min ${seconds} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A time as `YYYY-MM-DD HH:MM:SS` UTC (operators compare it with logs). */
export function time(at: number | string | null | undefined): string {
  if (at === null || at === undefined) return '—';
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return '—';
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/**
 * Peer promises: the active the control plane does not hear but a standby's promise confirms alive (the status's
 * `activePeerConfirmed`), in the words every status renderer uses.
 */
export function peerConfirmedText(confirmed: { by: string; until: string }): string {
  return `ACTIVE (unreachable from the control plane, confirmed alive by its peer ${confirmed.by} until ${confirmed.until})`;
}

/** A standby bound by a promise (a node status's `promise`): `promised <A> (epoch E) for <n> s`. */
export function promiseText(promise: { to: string; epoch: number; remainingMs: number }): string {
  return `promised ${promise.to} (epoch ${promise.epoch}) for ${Math.ceil(promise.remainingMs / 1000)} s`;
}

/** A compact one-line rendering of a detail object. */
export function compact(value: unknown, max = 240): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
