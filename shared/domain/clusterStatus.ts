import type { DrillSummary } from './drills';
import type { ClusterDocument } from './clusterDocument';
import { activeHeardAt, detectionView, type ClusterState, type NodeHeartbeat } from './clusterState';
import { peerConfirmation, type PromiseReport } from './peerPromises';

export interface NodeStatus {
  nodeId: string;
  site: string;
  active: boolean;
  /** The role the control plane wants; `reported` is what the node last said. */
  role: 'active' | 'standby';
  reportedRole: 'active' | 'standby' | null;
  reportedEpoch: number | null;
  /** The epoch the node last said it demoted itself under (null: it did not say). */
  demotedAtEpoch: number | null;
  /** The age of the node's latest heartbeat, whichever path recorded it (its row, or the state as the active). */
  lastHeartbeatAgeMs: number | null;
  checks: { name: string; status: 'ok' | 'warn' | 'fail'; detail?: string }[];
  replicationLagMs: number | null;
  /** The node's last reported GPU health (from nvidia-smi), if it reports any. */
  gpu: unknown;
  /** The hooks its agent reports it has (null: an agent that does not report them, or never heard). */
  hooks: string[] | null;
  /** Its clock offset as last measured (receive time − the signed timestamp; null: not measured). */
  clockSkewMs: number | null;
  /**
   * Peer promises: the promise binding it now, as its latest heartbeat reported it (it accepts no promotion until it
   * lapses): to whom, under which epoch, and what is left of it now (null: not bound).
   */
  promise: { to: string; epoch: number; remainingMs: number } | null;
}

export interface ClusterStatus {
  clusterId: string;
  kind: ClusterDocument['kind'];
  epoch: number;
  activeNodeId: string | null;
  revoked: boolean;
  /** Why the cluster has no active, when a failover revoked it and found nobody to promote (null otherwise). */
  noActiveReason: string | null;
  leaseExpiresAt: string | null;
  leaseRemainingMs: number | null;
  /** The recorded lease is over (expired, or its holder stepped down): no node holds the active role's lease. */
  leaseExpired: boolean;
  /**
   * The active's latest heartbeat says it is not active under the current epoch (it demoted itself, e.g. on
   * SIGTERM, and its lease ran out): the state still names it, but it stepped down.
   */
  activeSteppedDown: boolean;
  /** The active was never heard from as the active under this epoch: no failure of it can be detected yet. */
  activeNeverHeard: boolean;
  /**
   * Peer promises: the active is silent to the control plane (not heard for two heartbeat intervals) but a standby
   * holds a live promise to it under the current epoch — as its heartbeat reports it, or as the state recorded it:
   * the active is alive and reaches its peer. `by` is that peer, `until` when its promise ends (null otherwise).
   */
  activePeerConfirmed: { by: string; epoch: number; until: string } | null;
  /**
   * The witness record as stored; `behindState` when its epoch is lower than the state's (the heartbeat path raises
   * the epoch of an active that demoted itself without a witness write: the witness catches up at the next
   * arbitration or failover).
   */
  witness: (WitnessLine & { behindState: boolean; stateEpoch: number }) | null;
  runningOperations: {
    operationId: string;
    kind: string;
    status: string;
    createdAt: string;
    /** The step it is at: its latest step still running, else the latest it recorded (absent before any). */
    step?: string;
  }[];
  nodes: NodeStatus[];
  /**
   * The cluster's latest drill (null: never drilled): its result, the measured (or, for a validate drill, the
   * predicted) RTO and RPO against the objectives, and which objectives it missed.
   */
  lastDrill: {
    drillId: string;
    mode: string;
    result: string;
    endedAt: string;
    rtoMs: number | null;
    rpoMs: number | null;
    predictedRtoMs: number | null;
    objectives: { rtoMs: number; rpoMs: number };
    missedObjectives: string[];
    reasons: string[];
  } | null;
  at: string;
}

export interface WitnessLine {
  epoch: number;
  activeNodeId: string | null;
  decidedAt: string;
  decidedBy: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The status line of an active the control plane does not hear but its peer confirms alive (see `activePeerConfirmed`). */
export function peerConfirmedSentence(confirmed: { by: string; until: string }): string {
  return `ACTIVE (unreachable from the control plane, confirmed alive by its peer ${printable(confirmed.by)} until ${printable(confirmed.until)})`;
}

/** A bound node's promise as the status shows it: `promised <A> (epoch E) for <n> s`. */
export function promiseSentence(promise: { to: string; epoch: number; remainingMs: number }): string {
  return `promised ${printable(promise.to)} (epoch ${printable(String(promise.epoch))}) for ${Math.ceil(promise.remainingMs / 1000)} s`;
}

/** The promise binding a node now, from its latest heartbeat (receive time + what was left when it was sent). */
function livePromise(hb: NodeHeartbeat | undefined, now: number): NodeStatus['promise'] {
  const promise = hb?.peer?.promise;
  if (!hb || !promise) return null;
  const remainingMs = hb.receivedAt + promise.remainingMs - now;
  return remainingMs > 0 ? { to: promise.to, epoch: promise.epoch, remainingMs } : null;
}

/** Whether the active is silent to the control plane and a standby's live promise confirms it alive (see above). */
function activePeerConfirmed(
  state: ClusterState | undefined,
  activeHb: NodeHeartbeat | undefined,
  heartbeats: ReadonlyMap<string, NodeHeartbeat>,
  heartbeatIntervalMs: number,
  now: number,
): ClusterStatus['activePeerConfirmed'] {
  if (!state || state.revoked || state.activeNodeId === null) return null;
  if (activeHb && now - activeHb.receivedAt < 2 * heartbeatIntervalMs) return null;
  const reports: PromiseReport[] = [];
  for (const hb of heartbeats.values())
    if (hb.peer?.promise) reports.push({ nodeId: hb.nodeId, ...hb.peer.promise, receivedAt: hb.receivedAt });
  const recorded = state.peerConfirmed;
  if (recorded)
    reports.push({
      nodeId: recorded.by,
      to: state.activeNodeId,
      epoch: recorded.epoch,
      remainingMs: recorded.until - recorded.at,
      receivedAt: recorded.at,
    });
  const confirmed = peerConfirmation(state, reports, now);
  return confirmed ? { by: confirmed.by, epoch: confirmed.epoch, until: iso(confirmed.until) } : null;
}

/** The `cmha status`-like view of a cluster, from its document, state, heartbeats, witness and operations. Pure. */
/** The prefix of a state's reason when a failover left the cluster with no active (see clusterOperation.ts). */
export const NO_ACTIVE = 'no active: ';

function currentStep(steps: readonly { name: string; outcome: string; startedAt: number }[] | undefined): {
  step?: string;
} {
  if (!steps || steps.length === 0) return {};
  const running = steps.filter((s) => s.outcome === 'running');
  const latest = (running.length > 0 ? running : steps).reduce((a, b) =>
    b.startedAt >= a.startedAt ? b : a,
  );
  return { step: latest.name };
}

export function buildClusterStatus(input: {
  document: ClusterDocument;
  state: ClusterState | undefined;
  heartbeats: readonly NodeHeartbeat[];
  witness: WitnessLine | null;
  operations: readonly {
    operationId: string;
    kind: string;
    status: string;
    createdAt: number;
    steps?: readonly { name: string; outcome: string; startedAt: number }[];
  }[];
  now: number;
  lastDrill?: DrillSummary | undefined;
}): ClusterStatus {
  const { document, state, now } = input;
  const latest = new Map<string, NodeHeartbeat>();
  for (const hb of [...input.heartbeats, ...(state?.activeHeartbeat ? [state.activeHeartbeat] : [])]) {
    const known = latest.get(hb.nodeId);
    if (!known || hb.receivedAt > known.receivedAt) latest.set(hb.nodeId, hb);
  }
  const activeNodeId = state && !state.revoked ? state.activeNodeId : null;
  const epoch = state?.epoch ?? 0;
  const activeHb = activeNodeId ? latest.get(activeNodeId) : undefined;
  const leaseLeft = state?.leaseExpiresAt ? Math.max(0, state.leaseExpiresAt - now) : null;
  const heardAsActive = state !== undefined && activeHeardAt(detectionView(state)) !== undefined;
  // Heard as the active under this epoch, and its latest heartbeat says standby: it demoted itself under this epoch,
  // or its lease ran out since (e.g. a SIGTERM demotion, possibly after the heartbeat path reaffirmed it).
  const activeSteppedDown =
    heardAsActive &&
    activeHb !== undefined &&
    activeHb.role === 'standby' &&
    ((activeHb.demotedAtEpoch ?? 0) >= epoch || !leaseLeft);
  const witness = input.witness
    ? { ...input.witness, behindState: input.witness.epoch < epoch, stateEpoch: epoch }
    : null;
  return {
    clusterId: document.id,
    kind: document.kind,
    epoch: state?.epoch ?? 0,
    activeNodeId,
    revoked: state?.revoked ?? false,
    noActiveReason:
      state?.revoked && state.reason.startsWith(NO_ACTIVE) ? state.reason.slice(NO_ACTIVE.length) : null,
    leaseExpiresAt: state?.leaseExpiresAt ? iso(state.leaseExpiresAt) : null,
    leaseRemainingMs: activeSteppedDown ? 0 : leaseLeft,
    leaseExpired: leaseLeft === 0 || (leaseLeft !== null && activeSteppedDown),
    activeSteppedDown,
    activeNeverHeard: state !== undefined && activeNodeId !== null && !heardAsActive,
    activePeerConfirmed: activePeerConfirmed(
      state,
      activeHb,
      latest,
      document.detection.heartbeatIntervalMs,
      now,
    ),
    witness,
    runningOperations: input.operations.map((o) => ({
      operationId: o.operationId,
      kind: o.kind,
      status: o.status,
      createdAt: iso(o.createdAt),
      ...currentStep(o.steps),
    })),
    nodes: document.nodes.map((node) => {
      const hb = latest.get(node.id);
      return {
        nodeId: node.id,
        site: [node.site.cloud, node.site.region, node.site.zone].filter(Boolean).join('/'),
        active: node.id === activeNodeId,
        role: node.id === activeNodeId ? 'active' : 'standby',
        reportedRole: hb?.role ?? null,
        reportedEpoch: hb?.epoch ?? null,
        demotedAtEpoch: hb?.demotedAtEpoch ?? null,
        lastHeartbeatAgeMs: hb ? Math.max(0, now - hb.receivedAt) : null,
        checks: hb?.checks ?? [],
        replicationLagMs: hb?.replicationLagMs ?? null,
        gpu: hb?.gpu ?? null,
        hooks: hb?.hooks ?? null,
        clockSkewMs: hb?.clockSkewMs ?? null,
        promise: livePromise(hb, now),
      };
    }),
    lastDrill: input.lastDrill ? lastDrillLine(input.lastDrill) : null,
    at: iso(now),
  };
}

function lastDrillLine(d: DrillSummary): NonNullable<ClusterStatus['lastDrill']> {
  const missed = [
    d.rtoMs !== undefined && d.rtoMs > d.objectives.rtoMs ? 'rto' : undefined,
    d.rpoMs !== undefined && d.rpoMs > d.objectives.rpoMs ? 'rpo' : undefined,
    d.mode === 'validate' && d.predictedRtoMs !== undefined && d.predictedRtoMs > d.objectives.rtoMs
      ? 'predicted-rto'
      : undefined,
  ].filter((m): m is string => m !== undefined);
  return {
    drillId: d.drillId,
    mode: d.mode,
    result: d.result,
    endedAt: iso(d.endedAt),
    rtoMs: d.rtoMs ?? null,
    rpoMs: d.rpoMs ?? null,
    predictedRtoMs: d.predictedRtoMs ?? null,
    objectives: d.objectives,
    missedObjectives: missed,
    reasons: d.reasons,
  };
}

/**
 * Text safe to print on one line of a terminal: ANSI escape sequences removed, and every other control character
 * (C0 including newlines, DEL, C1) and line/paragraph separator shown as `\xNN`/`\uNNNN`, so that node-supplied
 * text (check names and details) can neither forge lines of the status nor drive the terminal.
 */
export function printable(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex -- matching control characters is the point
      .replace(/\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-_]/g, '')
      // eslint-disable-next-line no-control-regex -- matching control characters is the point
      .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
        const code = c.charCodeAt(0);
        return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
      })
  );
}

const pad = (raw: string, width: number) => {
  const text = printable(raw);
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
};
const age = (ms: number | null) =>
  ms === null ? 'never' : ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;

/**
 * Renders the status as a block in the spirit of `cmha status`: one line per node with the active marked by `*`,
 * then each check as `name [ OK ]`, then epoch, lease and witness.
 */
export function renderClusterStatusText(status: ClusterStatus): string {
  const lines = [
    `Cluster ${status.clusterId} (${status.kind}) — epoch ${status.epoch}${status.noActiveReason !== null ? ` — NO ACTIVE: ${printable(status.noActiveReason)}` : status.revoked ? ' (revoked: failover in progress)' : ''}`,
    '',
  ];
  for (const node of status.nodes) {
    const reports =
      node.reportedRole && node.reportedRole !== node.role ? ` (reports ${node.reportedRole})` : '';
    const promised = node.promise ? `, ${promiseSentence(node.promise)}` : '';
    lines.push(
      `${node.active ? '*' : ' '} ${pad(node.nodeId, 20)} ${pad(node.role, 8)} ${pad(node.site, 28)} last heartbeat ${age(node.lastHeartbeatAgeMs)}${reports}${promised}`,
    );
    for (const check of node.checks) {
      const mark = check.status === 'ok' ? ' OK ' : check.status === 'warn' ? 'WARN' : 'FAIL';
      lines.push(`    ${pad(check.name, 20)} [${mark}]${check.detail ? ` ${printable(check.detail)}` : ''}`);
    }
  }
  lines.push('');
  const active = printable(status.activeNodeId ?? '');
  if (status.activeSteppedDown)
    lines.push(`Active: ${active} stepped down (it demoted itself under epoch ${status.epoch})`);
  else if (status.activePeerConfirmed)
    lines.push(`Active: ${active} ${peerConfirmedSentence(status.activePeerConfirmed)}`);
  else if (status.activeNeverHeard)
    lines.push(
      `Active: ${active} never heard from under epoch ${status.epoch} (no failure of it can be detected yet)`,
    );
  lines.push(
    `Lease: ${
      !status.leaseExpiresAt
        ? 'none'
        : status.leaseExpired
          ? `expired (${status.activeSteppedDown ? 'stepped down; ' : ''}recorded until ${status.leaseExpiresAt})`
          : `until ${status.leaseExpiresAt} (${age(status.leaseRemainingMs)} left)`
    }`,
  );
  const w = status.witness;
  lines.push(
    w
      ? `Witness: epoch ${w.epoch}, active ${printable(w.activeNodeId ?? '-')}, decided ${w.decidedAt} by ${printable(w.decidedBy)}` +
          (w.behindState
            ? ` (behind the state's epoch ${w.stateEpoch}: raised outside arbitration; it catches up at the next decision)`
            : '')
      : 'Witness: no decision recorded',
  );
  lines.push(
    status.runningOperations.length
      ? `Running: ${status.runningOperations.map((o) => `${o.kind} ${o.operationId}${o.step ? ` (${printable(o.step)})` : ''}`).join(', ')}`
      : 'Running: nothing',
  );
  const d = status.lastDrill;
  if (d) {
    const figure =
      d.rtoMs !== null
        ? `RTO ${d.rtoMs} ms`
        : d.predictedRtoMs !== null
          ? `predicted RTO ${d.predictedRtoMs} ms`
          : 'no RTO';
    lines.push(
      `Last drill: ${printable(d.mode)} ${printable(d.result).toUpperCase()} at ${d.endedAt}, ${figure} (objective ${d.objectives.rtoMs} ms)` +
        (d.missedObjectives.length > 0 ? ` — MISSED ${d.missedObjectives.join(', ')}` : ''),
    );
  } else lines.push('Last drill: never');
  return lines.join('\n') + '\n';
}
