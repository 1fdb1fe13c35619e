import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { JournalRecord } from '../../agent/journal';
import { actingIntervals, longestGap, parseJsonLines, type ActingInterval } from '../../chaos/checker';
import { CHAOS_DETECTION, ChaosStack, type ChaosNode } from '../../chaos/stack';
import { paths } from '../../shared/contracts/routes';
import { distribution, type Distribution } from './figures';

/**
 * Issue 15's figures: a two-node cluster of real agents (peer listeners on, `CHAOS_DETECTION`: heartbeat 250 ms × 6,
 * lease 2 s) with the devhost as a child process, from the agents' acting journals (CLOCK_MONOTONIC):
 *
 * - control-plane outages of each length (devhost SIGKILLed, started again on the same storage after it): self-fences
 *   (acting intervals that ended from the outage's start until the active holds its control-plane lease again) and
 *   the longest stretch in which no node acted;
 * - the extra failover delay a promise adds when the active really died: the active is cut off from the control
 *   plane (its standby's promise keeps it the active), or the control plane is down, and the active is SIGKILLed; the
 *   delay is how long the standby's promise (its persisted end) outlived the earliest moment the detector could have
 *   seen the silence without it (the death, or the control plane's restart, plus the detection window).
 */
export interface CpOutageFigures {
  outages: { seconds: number; selfFences: number; gapMs: number; sameActive: boolean; sameEpoch: boolean }[];
  extraDelay: Distribution;
  deathToPromoted: Distribution;
  runs: { scenario: 'cut-off' | 'outage'; extraDelayMs: number; deathToPromotedMs: number }[];
}

const CLUSTER = 'chaos-1';
const windowMs = CHAOS_DETECTION.heartbeatIntervalMs * CHAOS_DETECTION.missedHeartbeats;

export async function measureCpOutages(
  outageSeconds: readonly number[],
  promiseRuns: number,
  log: (line: string) => void,
): Promise<CpOutageFigures> {
  const stack = await ChaosStack.start({
    dir: mkdtempSync(path.join(tmpdir(), 'fp-bench-outage-')),
    clusters: 1,
    nodesPerCluster: 2,
    sites: 'on-prem',
  });
  const nowNs = () => process.hrtime.bigint();
  const journal = (): JournalRecord[] =>
    stack.nodes.flatMap((n) => {
      const file = stack.journalFile(n);
      return existsSync(file) ? parseJsonLines<JournalRecord>(readFileSync(file, 'utf8')) : [];
    });
  const intervals = (): ActingInterval[] => actingIntervals(journal());
  const actingNow = (node: string): boolean => {
    const last = journal()
      .filter((r) => r.node === node)
      .at(-1);
    return (
      !!last && last.t !== 'end' && Number(nowNs() - BigInt(last.mono)) / 1e6 < 2 * CHAOS_DETECTION.leaseMs
    );
  };
  const until = async <T>(what: string, probe: () => T | Promise<T>, ms: number): Promise<NonNullable<T>> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await probe();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const status = async () => {
    if (stack.hostDown) return undefined;
    const r = await stack.request('GET', paths.clusterStatus(CLUSTER)).catch(() => undefined);
    return r?.status === 200
      ? (r.json as {
          epoch: number;
          activeNodeId: string | null;
          leaseExpiresAt: unknown;
          nodes: { nodeId: string; reportedRole?: string }[];
        })
      : undefined;
  };
  /** The active the control plane and its agent agree on, with a lease, the other node heartbeating as standby. */
  const settled = (timeoutMs = 60_000) =>
    until(
      'an active with a lease and a standby',
      async () => {
        const s = await status();
        if (!s?.activeNodeId || s.leaseExpiresAt === null) return undefined;
        const roles = new Map(s.nodes.map((n) => [n.nodeId, n.reportedRole]));
        const active = s.activeNodeId;
        const ok =
          knowsItsPeers(node(active), s.epoch) &&
          roles.get(active) === 'active' &&
          [...roles].every(([id, role]) => id === active || role === 'standby') &&
          actingNow(active);
        return ok ? { active, epoch: s.epoch } : undefined;
      },
      timeoutMs,
    );
  const node = (id: string) => stack.nodes.find((n) => n.node === id) as ChaosNode;
  /** The active was granted its epoch's promotable set with every node's peer listener (its status file says so). */
  function knowsItsPeers(active: ChaosNode, epoch: number): boolean {
    const file = path.join(
      stack.options.dir,
      'agents',
      `${active.cluster}-${active.node}-state`,
      'status.json',
    );
    try {
      const status = JSON.parse(readFileSync(file, 'utf8')) as {
        peer?: { promotable?: { epoch: number; nodes: string[]; withoutListener: string[] } | null };
      };
      const set = status.peer?.promotable;
      return !!set && set.epoch === epoch && set.nodes.length > 0 && set.withoutListener.length === 0;
    } catch {
      return false;
    }
  }
  const promiseEnd = (standby: ChaosNode, to: string): number | undefined => {
    const file = path.join(
      stack.options.dir,
      'agents',
      `${standby.cluster}-${standby.node}-state`,
      'promises.json',
    );
    try {
      const stored = JSON.parse(readFileSync(file, 'utf8')) as {
        promises?: { to: string; endsAtMonoMs: number }[];
      };
      return (
        stored.promises?.filter((p) => p.to === to).reduce((m, p) => Math.max(m, p.endsAtMonoMs), 0) ||
        undefined
      );
    } catch {
      return undefined;
    }
  };
  const bound = (standby: ChaosNode, to: string) => {
    const end = promiseEnd(standby, to);
    return end !== undefined && end > Number(nowNs()) / 1e6 ? end : undefined;
  };

  const figures: CpOutageFigures = {
    outages: [],
    extraDelay: distribution([]),
    deathToPromoted: distribution([]),
    runs: [],
  };
  let failed = false;
  try {
    await settled(90_000);
    for (const seconds of outageSeconds) {
      const before = await settled();
      const from = nowNs();
      await stack.stopHost();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      await stack.startHost();
      const after = await settled();
      // Up to the journals' latest record (an open interval is known up to its last tick).
      const to = journal().reduce((m, r) => (BigInt(r.mono) > m ? BigInt(r.mono) : m), 0n);
      const all = intervals();
      // Nothing is killed here: every `end` an agent wrote meanwhile is a node that stopped acting (a self-fence).
      const selfFences = journal().filter(
        (r) => r.t === 'end' && BigInt(r.mono) >= from && BigInt(r.mono) <= to,
      ).length;
      const gapMs = Number(longestGap(all, CLUSTER, from, to)) / 1e6;
      const row = {
        seconds,
        selfFences,
        gapMs: Math.round(gapMs),
        sameActive: after.active === before.active,
        sameEpoch: after.epoch === before.epoch,
      };
      figures.outages.push(row);
      log(
        `  control-plane outage ${seconds} s: ${selfFences} self-fence(s), longest gap without an active ${row.gapMs} ms, ` +
          `active ${before.active}→${after.active}, epoch ${before.epoch}→${after.epoch}`,
      );
    }
    for (let run = 0; run < promiseRuns; run++) {
      const scenario = run % 2 === 0 ? 'cut-off' : 'outage';
      const { active } = await settled();
      const victim = node(active);
      const standby = stack.nodes.find((n) => n !== victim) as ChaosNode;
      let upAt: bigint | undefined;
      if (scenario === 'cut-off') victim.proxy.set('cut');
      else await stack.stopHost();
      // The standby promised (the active asks once its heartbeat failed), and keeps renewing for a second.
      await until(`${standby.node} bound by a promise to ${active}`, () => bound(standby, active), 15_000);
      await new Promise((r) => setTimeout(r, 1000));
      await stack.signal(victim, 'SIGKILL');
      const deathNs = nowNs();
      const end = promiseEnd(standby, active) as number;
      if (scenario === 'outage') {
        await stack.startHost();
        upAt = nowNs();
      }
      const promoted = await until(
        `${standby.node} acting as active`,
        () => intervals().find((i) => i.node === standby.node && i.start > deathNs),
        90_000,
      );
      const earliest = Number(upAt !== undefined && upAt > deathNs ? upAt : deathNs) / 1e6 + windowMs;
      const extraDelayMs = Math.max(0, Math.round(end - earliest));
      const deathToPromotedMs = Math.round(Number(promoted.start - deathNs) / 1e6);
      figures.runs.push({ scenario, extraDelayMs, deathToPromotedMs });
      log(
        `  active died (${scenario === 'cut-off' ? 'cut off from the control plane' : 'during a control-plane outage'}): ` +
          `promise outlived the earliest detection by ${extraDelayMs} ms; death → ${standby.node} acting ${deathToPromotedMs} ms`,
      );
      victim.proxy.set('open');
      stack.startAgent(victim);
    }
    figures.extraDelay = distribution(figures.runs.map((r) => r.extraDelayMs));
    figures.deathToPromoted = distribution(figures.runs.map((r) => r.deathToPromotedMs));
    return figures;
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    await stack.stop();
    // FAILOVER_BENCH_KEEP=1 keeps the agents' logs, journals and state (so does a failed run).
    if (process.env.FAILOVER_BENCH_KEEP === '1' || failed) log(`  kept ${stack.options.dir}`);
    else stack.removeFiles();
  }
}
