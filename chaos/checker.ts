import type { JournalRecord } from '../agent/journal';

/**
 * The chaos checker: pure, over what the nodes did (their acting journals and the hook side-effect log), what the
 * cloud simulator received, and how the control plane's operations ended. It proves, for one run:
 *
 * - `overlap`: no two nodes of a cluster acted as active at the same instant (intervals on the shared monotonic
 *   clock: [start, last tick or end], as the journals say — a SIGKILLed or SIGSTOPped agent stops writing, so an
 *   interval only ever ends early, never late);
 * - `epoch`: across a cluster's intervals ordered by start the epoch never goes back, and one epoch is one node's;
 * - `hook-twice`: no hook step ran twice for one command id (per node, operation and step);
 * - `cloud-repeat`: no cloud operation applied twice for one idempotency key (OCI `opc-retry-token`), and no ARM
 *   power action repeated on a VM without the opposite one in between (Azure sends no key: by desired state);
 * - `operation-not-ended`: every operation ended (succeeded, failed with a reason, refused, superseded);
 * - `liveness`: every cluster had a node acting as active within the stated bound after the faults stopped.
 */

/** One hook step's side effect, as the chaos fleet's hook script appends it. */
export interface HookRecord {
  cluster: string;
  node: string;
  /** FP_OPERATION_ID: the command id, or the agent's own id (`self-fence-3-…`). */
  commandId: string;
  operation: string;
  step: string;
  epoch: number;
}

/** A cloud request as the simulator logged it (`model.requestLog`), with its idempotency key when it had one. */
export interface CloudRequest {
  at: number;
  cloud: string;
  method: string;
  path: string;
  status: number;
  idempotencyKey?: string;
  /** Answered from the key's first result, nothing changed. */
  replayed?: boolean;
}

/** A change the simulated ARM applied (`armActions`). */
export interface ArmActionRecord {
  at: number;
  action: string;
  resourceId: string;
}

/** An operation of the control plane, as `GET …/operations` lists it after the run. */
export interface OperationOutcome {
  clusterId: string;
  operationId: string;
  kind: string;
  status: string;
  reason?: string;
  /** A detection's ending: the failover that handled it and why it ended so (its reason is here, not above). */
  outcome?: { reason?: unknown };
}

export interface LivenessInput {
  /** When the faults stopped, on the monotonic clock (ns). */
  healedAt: bigint;
  boundMs: number;
  clusters: readonly string[];
}

export interface CheckInput {
  seed: number;
  /** The fault schedule, one printable line per fault. */
  schedule: readonly string[];
  journals: readonly JournalRecord[];
  hooks: readonly HookRecord[];
  cloudRequests: readonly CloudRequest[];
  armActions: readonly ArmActionRecord[];
  operations: readonly OperationOutcome[];
  /** One per schedule: when its faults stopped. */
  liveness?: readonly LivenessInput[];
}

export type ViolationRule =
  'overlap' | 'epoch' | 'hook-twice' | 'cloud-repeat' | 'operation-not-ended' | 'liveness';

export interface Violation {
  rule: ViolationRule;
  cluster?: string;
  message: string;
  /** The journal (or log) lines that show it. */
  lines: string[];
}

/** One acting interval of one agent process. */
export interface ActingInterval {
  cluster: string;
  node: string;
  pid: number;
  epoch: number;
  start: bigint;
  end: bigint;
  /** How it ended: an `end` record's reason, or `last tick` (the process stopped writing). */
  endedBy: string;
  records: JournalRecord[];
}

const line = (r: unknown): string => JSON.stringify(r);
const ms = (ns: bigint): string => `${(Number(ns) / 1e6).toFixed(1)} ms`;

/** The intervals the journals describe, per process, in the order each process wrote its records. */
export function actingIntervals(records: readonly JournalRecord[]): ActingInterval[] {
  const intervals: ActingInterval[] = [];
  const open = new Map<string, ActingInterval>();
  for (const r of records) {
    const key = `${r.cluster}/${r.node}/${r.pid}`;
    const mono = BigInt(r.mono);
    const current = open.get(key);
    if (r.t === 'end') {
      if (!current) continue; // nothing open
      current.records.push(r);
      if (mono > current.end) current.end = mono;
      current.endedBy = r.reason ?? 'end';
      open.delete(key);
      continue;
    }
    if (r.t === 'start' || !current || current.epoch !== r.epoch) {
      if (current) current.endedBy = 'a new start';
      const next: ActingInterval = {
        cluster: r.cluster,
        node: r.node,
        pid: r.pid,
        epoch: r.epoch,
        start: mono,
        end: mono,
        endedBy: 'its last tick (the process stopped writing)',
        records: [r],
      };
      intervals.push(next);
      open.set(key, next);
      continue;
    }
    current.records.push(r);
    if (mono > current.end) current.end = mono;
  }
  return intervals;
}

const describe = (i: ActingInterval): string =>
  `${i.cluster}/${i.node} (pid ${i.pid}) epoch ${i.epoch} [${i.start}, ${i.end}] (${ms(i.end - i.start)}, ended by ${i.endedBy})`;

const edgeLines = (i: ActingInterval): string[] => {
  const first = i.records[0];
  const last = i.records[i.records.length - 1];
  return [first, ...(last && last !== first ? [last] : [])].map(line);
};

function checkIntervals(intervals: readonly ActingInterval[]): Violation[] {
  const violations: Violation[] = [];
  const byCluster = new Map<string, ActingInterval[]>();
  for (const i of intervals) byCluster.set(i.cluster, [...(byCluster.get(i.cluster) ?? []), i]);
  for (const [cluster, list] of byCluster) {
    const sorted = [...list].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (let x = 0; x < sorted.length; x++) {
      const a = sorted[x] as ActingInterval;
      for (let y = x + 1; y < sorted.length; y++) {
        const b = sorted[y] as ActingInterval;
        if (b.start > a.end) break;
        if (a.node !== b.node && b.start < a.end)
          violations.push({
            rule: 'overlap',
            cluster,
            message: `two actives at once for ${ms((a.end < b.end ? a.end : b.end) - b.start)}: ${describe(a)} and ${describe(b)}`,
            lines: [...edgeLines(a), ...edgeLines(b)],
          });
      }
    }
    let previous: ActingInterval | undefined;
    const owner = new Map<number, ActingInterval>();
    for (const i of sorted) {
      if (previous && i.epoch < previous.epoch)
        violations.push({
          rule: 'epoch',
          cluster,
          message: `the epoch went back from ${previous.epoch} to ${i.epoch}: ${describe(previous)} then ${describe(i)}`,
          lines: [...edgeLines(previous), ...edgeLines(i)],
        });
      const other = owner.get(i.epoch);
      if (other && other.node !== i.node)
        violations.push({
          rule: 'epoch',
          cluster,
          message: `epoch ${i.epoch} acted under by two nodes: ${describe(other)} and ${describe(i)}`,
          lines: [...edgeLines(other), ...edgeLines(i)],
        });
      if (!other) owner.set(i.epoch, i);
      previous = i;
    }
  }
  return violations;
}

function checkHooks(hooks: readonly HookRecord[]): Violation[] {
  const seen = new Map<string, HookRecord[]>();
  for (const h of hooks) {
    const key = `${h.cluster}/${h.node}/${h.commandId}/${h.operation}/${h.step}`;
    seen.set(key, [...(seen.get(key) ?? []), h]);
  }
  return [...seen.entries()]
    .filter(([, runs]) => runs.length > 1)
    .map(([key, runs]) => ({
      rule: 'hook-twice' as const,
      cluster: runs[0]?.cluster,
      message: `hook step ${key} ran ${runs.length} times`,
      lines: runs.map(line),
    }));
}

const OFF = new Set(['powerOff', 'deallocate']);

function checkCloud(requests: readonly CloudRequest[], actions: readonly ArmActionRecord[]): Violation[] {
  const violations: Violation[] = [];
  const applied = new Map<string, CloudRequest[]>();
  for (const r of requests) {
    if (!r.idempotencyKey || r.replayed || r.status < 200 || r.status >= 300) continue;
    applied.set(r.idempotencyKey, [...(applied.get(r.idempotencyKey) ?? []), r]);
  }
  for (const [key, list] of applied)
    if (list.length > 1)
      violations.push({
        rule: 'cloud-repeat',
        message: `cloud operation applied ${list.length} times for idempotency key ${key}`,
        lines: list.map(line),
      });
  const last = new Map<string, ArmActionRecord>();
  for (const a of actions) {
    if (a.action !== 'start' && !OFF.has(a.action)) continue;
    const vm = a.resourceId.toLowerCase();
    const before = last.get(vm);
    if (before && (before.action === 'start') === (a.action === 'start'))
      violations.push({
        rule: 'cloud-repeat',
        message: `ARM ${a.action} of ${a.resourceId} repeated (after ${before.action}, nothing in between)`,
        lines: [line(before), line(a)],
      });
    last.set(vm, a);
  }
  return violations;
}

const ENDED = new Set(['succeeded', 'refused', 'superseded']);

function checkOperations(operations: readonly OperationOutcome[]): Violation[] {
  return operations
    .filter(
      (o) =>
        !(
          ENDED.has(o.status) ||
          (o.status === 'failed' && (!!o.reason || typeof o.outcome?.reason === 'string'))
        ),
    )
    .map((o) => ({
      rule: 'operation-not-ended' as const,
      cluster: o.clusterId,
      message:
        o.status === 'failed'
          ? `operation ${o.operationId} (${o.kind}) failed without a reason`
          : `operation ${o.operationId} (${o.kind}) did not end: ${o.status}`,
      lines: [line(o)],
    }));
}

function checkLiveness(records: readonly JournalRecord[], liveness: LivenessInput): Violation[] {
  const bound = liveness.healedAt + BigInt(liveness.boundMs) * 1_000_000n;
  return liveness.clusters.flatMap((cluster) => {
    const acting = records.filter(
      (r) => r.cluster === cluster && r.t !== 'end' && BigInt(r.mono) >= liveness.healedAt,
    );
    const first = acting.reduce<JournalRecord | undefined>(
      (best, r) => (!best || BigInt(r.mono) < BigInt(best.mono) ? r : best),
      undefined,
    );
    if (first && BigInt(first.mono) <= bound) return [];
    return [
      {
        rule: 'liveness' as const,
        cluster,
        message: first
          ? `no active within ${liveness.boundMs} ms after the faults stopped (first after ${ms(BigInt(first.mono) - liveness.healedAt)})`
          : `no active at all after the faults stopped (bound ${liveness.boundMs} ms)`,
        lines: first ? [line(first)] : [],
      },
    ];
  });
}

/** Every violation of the run. */
export function checkRun(input: CheckInput): Violation[] {
  return [
    ...checkIntervals(actingIntervals(input.journals)),
    ...checkHooks(input.hooks),
    ...checkCloud(input.cloudRequests, input.armActions),
    ...checkOperations(input.operations),
    ...(input.liveness ?? []).flatMap((l) => checkLiveness(input.journals, l)),
  ];
}

/** The report of a run with violations: the seed (to replay it), the fault schedule, and each violation's lines. */
export function formatViolations(
  input: Pick<CheckInput, 'seed' | 'schedule'>,
  violations: readonly Violation[],
): string {
  if (violations.length === 0) return '';
  return [
    `${violations.length} violation(s); replay with --seed ${input.seed}`,
    'fault schedule:',
    ...input.schedule.map((s) => `  ${s}`),
    ...violations.flatMap((v, n) => [
      `violation ${n + 1} [${v.rule}]${v.cluster ? ` ${v.cluster}` : ''}: ${v.message}`,
      ...v.lines.map((l) => `    ${l}`),
    ]),
  ].join('\n');
}

/** Parses JSON lines (a journal or the hook log), skipping a torn last line (a SIGKILL mid-write). */
export function parseJsonLines<T>(text: string): T[] {
  const out: T[] = [];
  for (const l of text.split('\n')) {
    if (!l.trim()) continue;
    try {
      out.push(JSON.parse(l) as T);
    } catch {
      // a line cut short by a kill
    }
  }
  return out;
}

/**
 * The longest stretch of [from, to] (monotonic ns) in which no node of `cluster` acted as active, in ns: 0 when the
 * cluster always had an active. What the control-plane outage figures of `npm run bench:failover` and the peer
 * promise tests measure (an interval still open at `to` counts up to `to`).
 */
export function longestGap(
  intervals: readonly ActingInterval[],
  cluster: string,
  from: bigint,
  to: bigint,
): bigint {
  const spans = intervals
    .filter((i) => i.cluster === cluster && i.end >= from && i.start <= to)
    .map((i) => [i.start < from ? from : i.start, i.end > to ? to : i.end] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let longest = 0n;
  let covered = from;
  for (const [start, end] of spans) {
    if (start > covered && start - covered > longest) longest = start - covered;
    if (end > covered) covered = end;
  }
  if (to > covered && to - covered > longest) longest = to - covered;
  return longest;
}
