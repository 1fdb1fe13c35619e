import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { JournalRecord } from '../../agent/journal';
import { actingIntervals, longestGap, parseJsonLines, type ActingInterval } from '../../chaos/checker';
import { CHAOS_DETECTION, ChaosStack, type ChaosNode } from '../../chaos/stack';
import { paths } from '../../shared/contracts/routes';

/**
 * Issue 15 end to end: a two-node cluster of real agent processes (peer listeners behind fault proxies the test
 * owns), the devhost as a child process on Azurite on disk, SIGKILLed for a control-plane outage and started again
 * on the same storage. What the nodes did is read from their acting journals (CLOCK_MONOTONIC, shared by every
 * process of the machine), not from what the control plane believes.
 */

const CLUSTER = 'chaos-1';
const OUTAGE_MS = Number(process.env.PEER_E2E_OUTAGE_MS ?? 60_000);
const { leaseMs } = CHAOS_DETECTION;

let stack: ChaosStack;
let n1: ChaosNode;
let n2: ChaosNode;

const nowNs = () => process.hrtime.bigint();
const msBetween = (a: bigint, b: bigint) => Number(b - a) / 1e6;

function journal(): JournalRecord[] {
  return (['n1', 'n2'] as const).flatMap((node) => {
    const file = stack.journalFile({ cluster: CLUSTER, node });
    return existsSync(file) ? parseJsonLines<JournalRecord>(readFileSync(file, 'utf8')) : [];
  });
}
const intervals = (): ActingInterval[] => actingIntervals(journal());
const of = (node: string) => intervals().filter((i) => i.node === node);
/** Whether `node` acts as active now: its last interval has no `end` and ticked within two leases. */
const actingNow = (node: string): boolean => {
  const last = journal()
    .filter((r) => r.node === node)
    .at(-1);
  return !!last && last.t !== 'end' && msBetween(BigInt(last.mono), nowNs()) < 2 * leaseMs;
};

function agentFile(node: ChaosNode, file: string): unknown {
  const p = path.join(stack.options.dir, 'agents', `${node.cluster}-${node.node}-state`, file);
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** The active was granted its epoch's promotable set with every node's peer listener (its status.json says so). */
function knowsItsPeers(node: ChaosNode, epoch: number): boolean {
  const status = agentFile(node, 'status.json') as
    | { peer?: { promotable?: { epoch: number; nodes: string[]; withoutListener: string[] } | null } }
    | undefined;
  const set = status?.peer?.promotable;
  return !!set && set.epoch === epoch && set.nodes.length > 0 && set.withoutListener.length === 0;
}

/** The promise `node`'s agent reports it is bound by (status.json), if any. */
function promiseOf(node: ChaosNode): { to: string; epoch: number } | undefined {
  const status = agentFile(node, 'status.json') as
    { peer?: { promises?: { to: string; epoch: number; remainingMs: number }[] } } | undefined;
  return status?.peer?.promises?.find((p) => p.remainingMs > 0);
}

async function until<T>(
  what: string,
  probe: () => T | Promise<T>,
  timeoutMs: number,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Status {
  epoch: number;
  activeNodeId: string | null;
  leaseExpiresAt: string | number | null;
  nodes: {
    nodeId: string;
    reportedRole?: string;
    reportedEpoch?: number;
    lastHeartbeatAgeMs: number | null;
  }[];
}
async function status(): Promise<Status | undefined> {
  if (stack.hostDown) return undefined;
  const r = await stack.request('GET', paths.clusterStatus(CLUSTER)).catch(() => undefined);
  return r?.status === 200 ? (r.json as Status) : undefined;
}

/** Waits until the control plane and the node agree: `node` is the active with a lease, the other a standby. */
async function settledActive(node: string, timeoutMs = 60_000): Promise<Status> {
  return until(
    `${node} active with a lease, its peer a standby`,
    async () => {
      const s = await status();
      const reported = (id: string) => s?.nodes.find((n) => n.nodeId === id)?.reportedRole;
      // Heard just now, both of them (not a row from before an outage), and a lease that runs now.
      const fresh = s?.nodes.every(
        (n) => n.lastHeartbeatAgeMs !== null && n.lastHeartbeatAgeMs < 2 * leaseMs,
      );
      const leaseEnds = s?.leaseExpiresAt == null ? NaN : new Date(s.leaseExpiresAt).getTime();
      return s &&
        fresh &&
        knowsItsPeers(node === 'n1' ? n1 : n2, s.epoch) &&
        s.activeNodeId === node &&
        leaseEnds > Date.now() &&
        reported(node) === 'active' &&
        reported(node === 'n1' ? 'n2' : 'n1') === 'standby' &&
        actingNow(node)
        ? s
        : undefined;
    },
    timeoutMs,
  );
}

beforeAll(async () => {
  stack = await ChaosStack.start({
    dir: mkdtempSync(path.join(tmpdir(), 'fp-peer-e2e-')),
    clusters: 1,
    nodesPerCluster: 2,
    sites: 'on-prem',
  });
  [n1, n2] = stack.nodes as [ChaosNode, ChaosNode];
  await settledActive('n1', 90_000);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  // PEER_E2E_KEEP=1 keeps the agents' logs, journals and state for a look.
  if (process.env.PEER_E2E_KEEP === '1') process.stderr.write(`kept ${stack?.options.dir}\n`);
  else stack?.removeFiles();
}, 60_000);

it(
  `a ${OUTAGE_MS / 1000} s control-plane outage: the active keeps acting on its peer's promise, then resumes its lease under the same epoch`,
  async () => {
    const before = await settledActive('n1');
    const from = nowNs();
    await stack.stopHost();
    // The standby promises within a heartbeat interval or two of the active's first failed heartbeat.
    const promise = await until('n2 bound by a promise to n1', () => promiseOf(n2), 10_000);
    expect(promise).toMatchObject({ to: 'n1', epoch: before.epoch });
    // The outage lasts its full length; the active must act all along (checked on every poll, not only at the end).
    const end = Date.now() + OUTAGE_MS;
    while (Date.now() < end) {
      expect(actingNow('n1')).toBe(true);
      await new Promise((r) => setTimeout(r, 250));
    }
    await stack.startHost();
    const after = await settledActive('n1', 30_000);
    expect(after.epoch).toBe(before.epoch);
    // Up to the journals' latest record (an open interval is known up to its last tick, up to an interval ago).
    const to = journal().reduce((m, r) => (BigInt(r.mono) > m ? BigInt(r.mono) : m), 0n);
    expect(to).toBeGreaterThan(from);
    // Never a moment without an active, and the active never stopped (no self-fence): one interval across it all.
    expect(Number(longestGap(intervals(), CLUSTER, from, to))).toBe(0);
    const across = of('n1').filter((i) => i.start <= from && i.end >= to - BigInt(2 * leaseMs) * 1_000_000n);
    expect(across).toHaveLength(1);
    expect(of('n2').filter((i) => i.end >= from)).toHaveLength(0);
  },
  OUTAGE_MS + 120_000,
);

it('an outage with the peers cut off from each other as well: the active fences itself at its lease end as today; the standby is promoted only after it', async () => {
  await settledActive('n1');
  n1.peerProxy.set('cut');
  n2.peerProxy.set('cut');
  const from = nowNs();
  await stack.stopHost();
  const fenced = await until(
    'n1 fenced itself',
    () => of('n1').find((i) => i.end > from && !actingNow('n1')),
    4 * leaseMs + 5_000,
  );
  // It stopped at its lease's end: within a lease (plus a heartbeat interval of slack) of the outage's start.
  expect(msBetween(from, fenced.end)).toBeLessThanOrEqual(leaseMs + CHAOS_DETECTION.heartbeatIntervalMs * 2);
  // The control plane comes back, but n1 stays cut off from it: the control plane fails over to n2.
  n1.proxy.set('cut');
  await stack.startHost();
  const promoted = await until('n2 acting as active', () => of('n2').find((i) => i.start > from), 60_000);
  expect(promoted.start).toBeGreaterThan(fenced.end);
  // No two actives at any instant since the outage began.
  for (const a of of('n1').filter((i) => i.end > from))
    for (const b of of('n2').filter((i) => i.end > from))
      expect(a.end < b.start || b.end < a.start).toBe(true);
  n1.proxy.set('open');
  n1.peerProxy.set('open');
  n2.peerProxy.set('open');
}, 180_000);

it('the active dies during an outage: when the control plane returns, the failover completes only after the standby’s promise lapsed', async () => {
  await settledActive('n2', 60_000);
  await stack.stopHost();
  const promise = await until('n1 bound by a promise to n2', () => promiseOf(n1), 10_000);
  expect(promise.to).toBe('n2');
  await stack.signal(n2, 'SIGKILL');
  const killedAt = nowNs();
  // The promise's end as n1 persisted it (CLOCK_MONOTONIC ms, promises.json): n2 is dead, so it renews no more
  // (one answer in flight at the kill could only have moved it later).
  const stored = agentFile(n1, 'promises.json') as
    { promises?: { to: string; endsAtMonoMs: number }[] } | undefined;
  const promisedUntil = stored?.promises?.find((p) => p.to === 'n2')?.endsAtMonoMs;
  expect(promisedUntil).toBeGreaterThan(Number(killedAt) / 1e6);
  await stack.startHost();
  const promoted = await until('n1 acting as active', () => of('n1').find((i) => i.start > killedAt), 60_000);
  expect(Number(promoted.start) / 1e6).toBeGreaterThanOrEqual(promisedUntil as number);
  // And n1 never acted while n2 still could: n2's last acting moment is before n1's start.
  const last = of('n2').at(-1);
  expect(last && last.end < promoted.start).toBe(true);
}, 180_000);
