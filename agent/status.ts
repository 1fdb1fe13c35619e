import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AgentStatus } from './agent';
import { isAlive, STATE_FILE, STATUS_FILE, type AgentState } from './state';

export interface StatusView {
  stateDir: string;
  running: boolean;
  state: AgentState | null;
  status: AgentStatus | null;
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
}

/** Reads what the agent keeps in its state directory. Needs no key and does not disturb a running agent. */
export async function readStatus(stateDir: string): Promise<StatusView> {
  const state = await readJson<AgentState>(path.join(stateDir, STATE_FILE));
  const status = await readJson<AgentStatus>(path.join(stateDir, STATUS_FILE));
  const running = status !== null && status.pid !== process.pid && isAlive(status.pid);
  return { stateDir, running, state, status };
}

const seconds = (ms: number) =>
  Math.abs(ms) < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
const ago = (iso: string | null | undefined, now: number) =>
  iso ? `${seconds(Math.max(0, now - Date.parse(iso)))} ago` : 'never';
const pad = (text: string, width = 17) =>
  text.length >= width ? `${text} ` : text + ' '.repeat(width - text.length);

/** The human view of `failover-agent status`. */
export function renderStatus(view: StatusView, now = Date.now()): string {
  const { state, status } = view;
  const lines: string[] = [];
  const cluster = state?.clusterId ?? status?.clusterId ?? '?';
  const node = state?.nodeId ?? status?.nodeId ?? '?';
  lines.push(`failover-agent — cluster ${cluster}, node ${node} (state in ${view.stateDir})`);
  lines.push(
    pad('Agent:') +
      (view.running && status
        ? `running (pid ${status.pid}), status written ${ago(status.updatedAt, now)}`
        : status
          ? `not running (last seen ${ago(status.updatedAt, now)}, pid ${status.pid})`
          : 'not running (no status written yet)'),
  );
  if (state) {
    lines.push(
      pad('Role:') +
        (state.role === 'standby' ? 'standby' : `${state.role} under epoch ${state.roleEpoch ?? '?'}`),
    );
    lines.push(
      pad('Epochs:') +
        `highest seen ${state.highestEpoch}` +
        (state.demotedEpoch > 0
          ? `, demoted under ${state.demotedEpoch} (no grant at or below it is accepted)`
          : ''),
    );
  }
  // A failover drill's silence (kept in the state: it outlasts a restart).
  const silentUntil = (state as Partial<AgentState> | null)?.drillSilence?.until;
  if (view.running && silentUntil && Date.parse(silentUntil) > now)
    lines.push(
      pad('Drill:') +
        `silent until ${silentUntil} (${seconds(Date.parse(silentUntil) - now)} left): no heartbeats; the lease lapses and the node self-fences`,
    );
  const lease = view.running ? status?.lease : null;
  if (lease) {
    const left = Date.parse(lease.expiresAt) - now;
    lines.push(
      pad('Lease:') +
        (left > 0
          ? `${seconds(left)} left (epoch ${lease.epoch}, ${lease.durationMs} ms lease)`
          : `ran out ${seconds(-left)} ago (epoch ${lease.epoch})`),
    );
  } else lines.push(pad('Lease:') + 'none');
  const peer = view.running ? status?.peer : undefined;
  if (peer) {
    const left = (iso: string) => Math.max(0, Date.parse(iso) - now);
    lines.push(
      pad('Peer listener:') +
        `${peer.url ?? 'not started'}${peer.closedEpoch > 0 ? ` (no promise at or below revoked epoch ${peer.closedEpoch})` : ''}`,
    );
    if (peer.peerLease)
      lines.push(
        pad('Peer lease:') +
          `${seconds(left(peer.peerLease.until))} left (epoch ${peer.peerLease.epoch}, promised by ${peer.peerLease.from.join(', ')}, until ${peer.peerLease.until})`,
      );
    for (const p of peer.promises.filter((p) => left(p.until) > 0))
      lines.push(
        pad('Promise given:') +
          `to ${p.to} under epoch ${p.epoch} until ${p.until} (${seconds(left(p.until))} left): no promotion until then`,
      );
  }
  const hb = status?.lastHeartbeat;
  if (hb) {
    lines.push(
      pad('Last heartbeat:') +
        (hb.ok
          ? `ok ${ago(hb.at, now)}: sent ${hb.sentRole} at epoch ${hb.sentEpoch}, answered ${hb.replyRole ?? '?'} ` +
            `at epoch ${hb.replyEpoch ?? '?'}${hb.leaseMs ? ` with a ${hb.leaseMs} ms lease` : ''} (seq ${hb.seq ?? '?'})`
          : `FAILED ${ago(hb.at, now)}: ${hb.error ?? 'unknown error'} ` +
            `(${status.consecutiveFailures} in a row; last ok ${ago(status.lastSuccessAt, now)})`),
    );
  } else lines.push(pad('Last heartbeat:') + 'none yet');
  if (state) lines.push(pad('Sequence:') + `reserved up to ${state.seqReserved}`);
  if (status?.checks.length) {
    lines.push('Checks:');
    for (const c of status.checks)
      lines.push(`  ${pad(c.name, 20)}${pad(c.status.toUpperCase(), 5)}${c.detail ?? ''}`);
  }
  // A fence-peer (powering another node off) has no report: its last run is in the status only.
  const operations = ['promote', 'demote', 'fence', 'fence-peer'] as const;
  const reports = state?.reports ?? {};
  const reportOf = (op: (typeof operations)[number]) => (op === 'fence-peer' ? undefined : reports[op]);
  if (operations.some((op) => reportOf(op) || status?.hooks[op])) {
    lines.push('Last hooks:');
    for (const op of operations) {
      const report = reportOf(op);
      const result = status?.hooks[op];
      if (!report && !result) continue;
      const summary = report ?? result;
      if (!summary) continue;
      lines.push(
        `  ${pad(op, 9)}${pad(summary.status.toUpperCase(), 5)}${summary.detail} (${summary.operationId}, ${ago(report?.at ?? result?.finishedAt, now)})`,
      );
      if (result && result.operationId === summary.operationId)
        for (const step of result.steps) {
          lines.push(
            `      ${step.phase} ${step.name}: ${step.end}, ${step.attempts} attempt(s), ${step.durationMs} ms`,
          );
          const out = (step.stderr || step.stdout).trim().split('\n').slice(-3);
          for (const line of out) if (line) lines.push(`        | ${line}`);
        }
    }
  }
  if (state?.commands.length) {
    lines.push(
      pad('Commands:') +
        state.commands
          .slice(-6)
          .map((c) => `${c.id} ${c.status}`)
          .join(', '),
    );
  }
  // Absent in the state file of an agent that predates acknowledgements.
  const unanswered = (state as Partial<AgentState> | null)?.pendingAcks ?? [];
  if (unanswered.length)
    lines.push(
      pad('Unacknowledged:') +
        unanswered
          .slice(-6)
          .map((a) => `${a.commandId} ${a.outcome}`)
          .join(', ') +
        ' (not yet answered by the control plane; re-sent)',
    );
  if (status?.arbitration)
    lines.push(
      pad('Arbitration:') +
        `${status.arbitration.decision} at epoch ${status.arbitration.epoch ?? '?'}` +
        `${status.arbitration.winner ? ` (winner ${status.arbitration.winner})` : ''}, ${ago(status.arbitration.at, now)}`,
    );
  return lines.join('\n') + '\n';
}
