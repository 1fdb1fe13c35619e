import { agentHoldsLease } from '../shared/domain/decisions';
import { agentHoldsPeerLease } from '../shared/domain/peerPromises';
import type { Commit } from './store';
import type { ActionRecord, LeaseSegment, LogEntry, PromiseInterval } from './trace';

/**
 * The invariant checker. It reads the whole trace of a run, in simulated real time, after the run:
 *
 * 1. At most one node acts as active at any instant:
 *    (a) lease segments of different nodes never overlap — a segment is the real-time stretch from the receipt of a
 *        grant to the instant the agent's own lease check turns false (or it dropped the lease earlier);
 *    (b) no node acts inside another node's lease segment;
 *    (c) every action happens while the node truly holds the lease it acts under: the domain's agentHoldsLease,
 *        evaluated on the node's clock at the action, from the true send time of the granted heartbeat.
 * 2. The store's history respects the epoch rules: the epoch never decreases; the active node never changes without
 *    a higher epoch; a promotion raises the epoch and follows a revocation; after a revocation commits, no later
 *    write under that epoch grants or extends a lease or un-revokes it.
 * 3. Epochs of actions: (a) every action carries the epoch the store held when its grant committed, and that grant
 *    named this node; (b) once a promotion to epoch E has committed (at real time tp), no action at t ≥ tp carries
 *    an epoch below E, and no lease segment under an epoch below E extends past tp (the promotion claims every
 *    older lease has provably ended: this holds whether or not the old holder happened to act in the gap);
 *    (c) each node's actions carry non-decreasing epochs.
 * 4. Peer leases (a node acts under its peer lease alone once its control-plane lease ran out):
 *    (a) such an action passes the domain's agentHoldsPeerLease on the node's clock, over the epoch's whole
 *        promotable set, from the TRUE send times of the requests (1(c) for peer leases);
 *    (b) at that instant every node of the set holds, persisted, a promise to it under its epoch;
 *    (c) no node starts a lease segment while it holds a promise to another node (a bound node accepts no
 *        promotion);
 *    (d) 3(b) for peer leases: a promotion does not end an older epoch's peer lease (the promoted node waits for its
 *        promise to lapse), so 3(b) counts only the control-plane part of a segment, and instead no action under the
 *        peer lease of epoch E comes after a lease segment under a newer epoch started.
 */

export type ViolationKind =
  | 'overlapping-leases'
  | 'concurrent-action'
  | 'action-outside-lease'
  | 'store-history'
  | 'action-epoch-mismatch'
  | 'superseded-epoch-action'
  | 'lease-outlives-promotion'
  | 'epoch-regressed'
  | 'action-without-promise'
  | 'bound-node-promoted';

export interface Violation {
  invariant: 1 | 2 | 3 | 4;
  kind: ViolationKind;
  t: number;
  nodes: string[];
  message: string;
}

export interface CheckInput {
  actions: readonly ActionRecord[];
  segments: readonly LeaseSegment[];
  commits: readonly Commit[];
  /** The promises the nodes gave, as they held them (absent: no peer promises in the run). */
  promises?: readonly PromiseInterval[];
}

export interface CheckResult {
  violations: Violation[];
  /** Smallest gap between one node's segment ending and another node's next segment starting (≥ 0 when safe). */
  minHandoverGapMs: number;
  /**
   * Smallest time from the end of the last lease under an older epoch to the commit of a promotion (≥ 0 when safe):
   * how close rule 3's wait came to the old lease. Small values show the runs reach the edge of the margin.
   */
  minPromotionSlackMs: number;
}

const MAX_VIOLATIONS = 20;
const ms = (t: number) => t.toFixed(3);
const fmtSegment = (s: LeaseSegment) =>
  `${s.node} e${s.epoch} (grant v${s.grantId}) [${ms(s.start)}, ${ms(s.end)}) ended by ${s.endedBy}`;

export function checkInvariants(input: CheckInput): CheckResult {
  const violations: Violation[] = [];
  const add = (v: Violation) => {
    if (violations.length < MAX_VIOLATIONS) violations.push(v);
  };
  const minHandoverGapMs = checkSegments(input.segments, add);
  checkActionsAgainstLeases(input.actions, input.segments, add);
  checkStoreHistory(input.commits, add);
  checkActionEpochs(input.actions, input.commits, add);
  const minPromotionSlackMs = checkSegmentsAgainstPromotions(input.segments, input.commits, add);
  checkPeerLeases(input.actions, input.segments, input.promises ?? [], add);
  violations.sort((a, b) => a.t - b.t || a.invariant - b.invariant);
  return { violations, minHandoverGapMs, minPromotionSlackMs };
}

/** 1(a), and the closest handover seen. */
function checkSegments(segments: readonly LeaseSegment[], add: (v: Violation) => void): number {
  const sorted = [...segments].sort(
    (a, b) => a.start - b.start || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0),
  );
  const furthest = new Map<string, LeaseSegment>();
  let minGap = Number.POSITIVE_INFINITY;
  for (const segment of sorted) {
    for (const [node, other] of furthest) {
      if (node === segment.node) continue;
      if (other.end > segment.start) {
        add({
          invariant: 1,
          kind: 'overlapping-leases',
          t: segment.start,
          nodes: [other.node, segment.node],
          message: `${fmtSegment(other)} overlaps ${fmtSegment(segment)} by ${ms(other.end - segment.start)} ms`,
        });
      } else minGap = Math.min(minGap, segment.start - other.end);
    }
    const mine = furthest.get(segment.node);
    if (!mine || segment.end > mine.end) furthest.set(segment.node, segment);
  }
  return minGap;
}

/** 1(b) and 1(c). */
function checkActionsAgainstLeases(
  actions: readonly ActionRecord[],
  segments: readonly LeaseSegment[],
  add: (v: Violation) => void,
): void {
  const byNode = new Map<string, LeaseSegment[]>();
  for (const s of segments) {
    const list = byNode.get(s.node) ?? [];
    list.push(s);
    byNode.set(s.node, list);
  }
  for (const list of byNode.values()) list.sort((a, b) => a.start - b.start);
  for (const a of actions) {
    if (!a.peer && !agentHoldsLease(a.grantSentLocal, a.leaseMs, a.local)) {
      add({
        invariant: 1,
        kind: 'action-outside-lease',
        t: a.t,
        nodes: [a.node],
        message:
          `${a.node} acted under e${a.epoch} at ${ms(a.t)} (its clock ${ms(a.local)}) after its lease ` +
          `(sent at ${ms(a.grantSentLocal)} + ${a.leaseMs} ms) had run out`,
      });
    }
    for (const [node, list] of byNode) {
      if (node === a.node) continue;
      const s = containing(list, a.t);
      if (s)
        add({
          invariant: 1,
          kind: 'concurrent-action',
          t: a.t,
          nodes: [s.node, a.node],
          message: `${a.node} acted under e${a.epoch} at ${ms(a.t)} while ${fmtSegment(s)}`,
        });
    }
  }
}

/** The segment of a node's (disjoint, sorted) list that contains `t`, if any. */
function containing(list: readonly LeaseSegment[], t: number): LeaseSegment | undefined {
  let lo = 0;
  let hi = list.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as LeaseSegment).start <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  const s = found >= 0 ? list[found] : undefined;
  return s && t < s.end ? s : undefined;
}

/** 2. */
function checkStoreHistory(commits: readonly Commit[], add: (v: Violation) => void): void {
  for (const c of commits) {
    if (c.kind === 'declare') continue;
    const { prev, state: next } = c;
    const fail = (what: string) =>
      add({
        invariant: 2,
        kind: 'store-history',
        t: c.t,
        nodes: [prev.activeNodeId, next.activeNodeId].filter((n): n is string => n !== null),
        message: `store v${c.version} (${c.kind} by ${c.by}) e${prev.epoch}→e${next.epoch}: ${what}`,
      });
    if (next.epoch < prev.epoch) fail('the epoch went down');
    if (next.activeNodeId !== prev.activeNodeId && next.epoch <= prev.epoch)
      fail(`the active changed ${prev.activeNodeId}→${next.activeNodeId} without a higher epoch`);
    if (c.kind === 'promote' && !(next.epoch > prev.epoch && prev.revoked))
      fail('a promotion must follow a committed revocation and raise the epoch');
    if (
      (c.kind === 'reaffirm' || c.kind === 'reaffirm-grant') &&
      !(next.epoch > prev.epoch && next.activeNodeId === prev.activeNodeId)
    )
      fail('a reaffirmation must keep the active and raise the epoch');
    if (prev.revoked && next.epoch === prev.epoch) {
      if (!next.revoked) fail('un-revoked an epoch');
      if (next.leaseExpiresAt !== prev.leaseExpiresAt)
        fail(`the lease changed after the revocation (${prev.leaseExpiresAt} → ${next.leaseExpiresAt})`);
    }
    if (
      next.epoch === prev.epoch &&
      prev.leaseExpiresAt !== null &&
      (next.leaseExpiresAt === null || next.leaseExpiresAt < prev.leaseExpiresAt)
    )
      fail('a recorded lease was shortened');
  }
}

/** 3. */
function checkActionEpochs(
  actions: readonly ActionRecord[],
  commits: readonly Commit[],
  add: (v: Violation) => void,
): void {
  const grants = new Map<number, Commit>();
  const promotions: Commit[] = [];
  for (const c of commits) {
    if (c.kind === 'grant' || c.kind === 'reaffirm-grant') grants.set(c.version, c);
    if (c.kind === 'promote') promotions.push(c);
  }
  const promotedUpTo: number[] = [];
  let highest = 0;
  for (const p of promotions) {
    highest = Math.max(highest, p.state.epoch);
    promotedUpTo.push(highest);
  }
  const lastEpoch = new Map<string, number>();
  for (const a of actions) {
    const grant = grants.get(a.grantId);
    if (!grant || grant.by !== a.node || grant.state.epoch !== a.epoch || grant.state.activeNodeId !== a.node)
      add({
        invariant: 3,
        kind: 'action-epoch-mismatch',
        t: a.t,
        nodes: [a.node],
        message: grant
          ? `${a.node} acted under e${a.epoch} on grant v${a.grantId}, which granted ${grant.by} under e${grant.state.epoch}`
          : `${a.node} acted on grant v${a.grantId}, which the store never committed`,
      });
    // the last promotion committed at or before the action
    let lo = 0;
    let hi = promotions.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((promotions[mid] as Commit).t <= a.t) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (!a.peer && found >= 0 && a.epoch < (promotedUpTo[found] as number)) {
      const p = promotions.slice(0, found + 1).find((c) => c.state.epoch > a.epoch) as Commit;
      add({
        invariant: 3,
        kind: 'superseded-epoch-action',
        t: a.t,
        nodes: [a.node, p.state.activeNodeId ?? '?'],
        message:
          `${a.node} acted under e${a.epoch} at ${ms(a.t)}, after ${p.state.activeNodeId} was promoted to ` +
          `e${p.state.epoch} at ${ms(p.t)}`,
      });
    }
    const last = lastEpoch.get(a.node) ?? 0;
    if (a.epoch < last)
      add({
        invariant: 3,
        kind: 'epoch-regressed',
        t: a.t,
        nodes: [a.node],
        message: `${a.node} acted under e${a.epoch} after acting under e${last}`,
      });
    lastEpoch.set(a.node, Math.max(last, a.epoch));
  }
}

/** 3(b) for leases: no lease under an older epoch is still running when a promotion commits. */
function checkSegmentsAgainstPromotions(
  segments: readonly LeaseSegment[],
  commits: readonly Commit[],
  add: (v: Violation) => void,
): number {
  const promotions = commits.filter((c) => c.kind === 'promote');
  let minSlack = Number.POSITIVE_INFINITY;
  for (const p of promotions) {
    let latestEnd = Number.NEGATIVE_INFINITY;
    for (const s of segments) {
      const end = cpEnd(s);
      if (s.epoch < p.state.epoch && s.start <= p.t && end <= p.t) latestEnd = Math.max(latestEnd, end);
    }
    minSlack = Math.min(minSlack, p.t - latestEnd);
  }
  for (const s of segments) {
    for (const p of promotions) {
      if (p.state.epoch <= s.epoch || p.t >= cpEnd(s)) continue;
      add({
        invariant: 3,
        kind: 'lease-outlives-promotion',
        t: p.t,
        nodes: [s.node, p.state.activeNodeId ?? '?'],
        message:
          `${p.state.activeNodeId} was promoted to e${p.state.epoch} at ${ms(p.t)} while ` +
          `${fmtSegment(s)} still ran (${ms(cpEnd(s) - p.t)} ms too early)`,
      });
      break;
    }
  }
  return minSlack;
}

/** The end of the control-plane lease part of a segment. */
const cpEnd = (s: LeaseSegment) => Math.min(s.end, s.cpEnd ?? s.end);

/** 4. */
function checkPeerLeases(
  actions: readonly ActionRecord[],
  segments: readonly LeaseSegment[],
  promises: readonly PromiseInterval[],
  add: (v: Violation) => void,
): void {
  const byPromiser = new Map<string, PromiseInterval[]>();
  for (const p of promises) {
    const list = byPromiser.get(p.node) ?? [];
    list.push(p);
    byPromiser.set(p.node, list);
  }
  // 4(d): the highest epoch of any segment started by each instant
  const starts = [...segments].sort((a, b) => a.start - b.start);
  const highest: number[] = [];
  let h = 0;
  for (const s of starts) {
    h = Math.max(h, s.epoch);
    highest.push(h);
  }
  for (const a of actions) {
    const peer = a.peer;
    if (!peer) continue;
    if (!agentHoldsPeerLease(peer.promotable, a.epoch, peer.held, a.local))
      add({
        invariant: 4,
        kind: 'action-outside-lease',
        t: a.t,
        nodes: [a.node],
        message:
          `${a.node} acted under its peer lease of e${a.epoch} at ${ms(a.t)} (its clock ${ms(a.local)}) without a ` +
          `live promise, timed from its request's send time, from every node of {${peer.promotable.join(',')}}`,
      });
    for (const nodeId of peer.promotable) {
      const covered = (byPromiser.get(nodeId) ?? []).some(
        (p) => p.to === a.node && p.epoch === a.epoch && p.start <= a.t && a.t < p.end,
      );
      if (!covered)
        add({
          invariant: 4,
          kind: 'action-without-promise',
          t: a.t,
          nodes: [a.node, nodeId],
          message: `${a.node} acted under its peer lease of e${a.epoch} at ${ms(a.t)} while ${nodeId} held no promise to it`,
        });
    }
    let lo = 0;
    let hi = starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((starts[mid] as LeaseSegment).start <= a.t) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found >= 0 && (highest[found] as number) > a.epoch)
      add({
        invariant: 4,
        kind: 'superseded-epoch-action',
        t: a.t,
        nodes: [a.node],
        message: `${a.node} acted under its peer lease of e${a.epoch} at ${ms(a.t)}, after a lease under e${highest[found]} began`,
      });
  }
  for (const s of segments) {
    const bound = (byPromiser.get(s.node) ?? []).find(
      (p) => p.to !== s.node && p.start <= s.start && s.start < p.end,
    );
    if (bound)
      add({
        invariant: 4,
        kind: 'bound-node-promoted',
        t: s.start,
        nodes: [s.node, bound.to],
        message: `${fmtSegment(s)} began while ${s.node} was bound by its promise to ${bound.to} under e${bound.epoch} until ${ms(bound.end)}`,
      });
  }
}

/** The log lines around a violation: what led to it. */
export function traceExcerpt(
  log: readonly LogEntry[],
  segments: readonly LeaseSegment[],
  v: Violation,
  windowMs: number,
  maxLines = 30,
): string[] {
  const from = v.t - windowMs;
  const to = v.t + 50;
  const lines: { t: number; text: string }[] = [];
  for (const e of log)
    if (e.t >= from && e.t <= to) lines.push({ t: e.t, text: `${e.who.padEnd(5)} ${e.what}` });
  for (const s of segments)
    if (s.end >= from && s.start <= to && v.nodes.includes(s.node))
      lines.push({ t: s.start, text: `lease ${fmtSegment(s)}` });
  lines.sort((a, b) => a.t - b.t);
  return lines.slice(-maxLines).map((l) => `${ms(l.t).padStart(12)}  ${l.text}`);
}
