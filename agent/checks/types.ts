import type { CheckReport, GpuReport } from '../../shared/contracts/agentApi';

/** What a check found: `{name, status: ok|warn|fail, detail}`, as the heartbeat carries it. */
export interface CheckResult extends CheckReport {
  detail: string;
  durationMs: number;
}

export interface CheckRound {
  checks: CheckResult[];
  /** Present when a GPU check ran and read at least one GPU. */
  gpu?: GpuReport[];
  /** Present when a replication check measured the lag: sent as the heartbeat's `replicationLagMs`. */
  replicationLagMs?: number;
}

/** The contract allows details up to 500 characters (`BOUNDS.checkDetail`); the agent sends one short line. */
export const MAX_DETAIL = 200;

export const shortDetail = (text: string): string => {
  const line =
    text
      .replace(/\r/g, '')
      .split('\n')
      .find((l) => l.trim() !== '') ?? '';
  const trimmed = line.trim();
  return trimmed.length > MAX_DETAIL ? `${trimmed.slice(0, MAX_DETAIL - 1)}…` : trimmed;
};
