import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { JournalRecord } from '../agent/journal';
import { armActions } from '../devhost/cloudSimulator/armResources';
import type { FaultKind as SimFaultKind } from '../devhost/cloudSimulator/cloudModel';
import { paths } from '../shared/contracts/routes';
import {
  checkRun,
  formatViolations,
  parseJsonLines,
  type CheckInput,
  type HookRecord,
  type LivenessInput,
  type OperationOutcome,
  type Violation,
} from './checker';
import { Prng } from './prng';
import {
  describeEvent,
  FAULT_KINDS,
  makeSchedules,
  type ActionKind,
  type FaultKind,
  type ScheduledEvent,
} from './schedule';
import { CHAOS_DETECTION, ChaosStack, type ChaosNode } from './stack';

export interface ChaosOptions {
  seed: number;
  schedules: number;
  /** The time faults are injected for, over all schedules (minutes). */
  minutes: number;
  clusters?: number;
  nodesPerCluster?: 2 | 3;
  broken?: 'ignore-lease';
  /** Only these fault and action kinds. */
  only?: readonly (FaultKind | ActionKind)[];
  without?: readonly FaultKind[];
  /** Faults per schedule (default one per 3 s). */
  faults?: number;
  /** The liveness bound: every cluster has an active within it after the faults stop. */
  livenessBoundMs?: number;
  /** Keep the run's directory (journals, hook log, agent logs) — always kept when there are violations. */
  keepFiles?: boolean;
  log?: (line: string) => void;
}

export interface ChaosSummary {
  seed: number;
  schedules: number;
  minutes: number;
  clusters: number;
  agents: number;
  faults: number;
  faultsByKind: Record<string, number>;
  actions: number;
  actionsByKind: Record<string, number>;
  /** Failovers and make-actives that succeeded (a new active under a new epoch). */
  failovers: number;
  operationsByKindAndStatus: Record<string, number>;
  /** Nodes whose VM the control plane powered off (its fence), killed with it. */
  poweredOff: number;
  /** Failovers the harness asked for, as an operator, for clusters left with NO ACTIVE after the faults stopped. */
  operatorRecoveries: number;
  violations: number;
  violationsByRule: Record<string, number>;
  livenessBoundMs: number;
  /** The longest time, after a schedule's faults stopped, until every cluster had an active. */
  livenessWorstMs: number;
  actingIntervals: number;
  hookSteps: number;
  durationMs: number;
  broken?: string;
  /** Where the journals and logs are (kept on violations or when asked). */
  dir?: string;
}

const monoNs = (): bigint => process.hrtime.bigint();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const count = (map: Record<string, number>, key: string, by = 1) => (map[key] = (map[key] ?? 0) + by);

/** Polls `ok` every `every` ms until it holds or the deadline passes; resolves with whether it held. */
async function until(ok: () => Promise<boolean> | boolean, timeoutMs: number, every = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await ok()) return true;
    } catch {
      // the host is restarting: ask again
    }
    if (Date.now() > deadline) return false;
    await sleep(every);
  }
}

function readJournals(dir: string): JournalRecord[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) => parseJsonLines<JournalRecord>(readFileSync(path.join(dir, f), 'utf8')));
}

/**
 * One chaos run: the stack started, the seeded schedules played (faults, and operator requests through the HTTP
 * API), after each the faults stopped and liveness awaited, then every operation awaited, and the checker run over
 * what the nodes did. Never throws for a violation: the summary counts them (and `report` prints them).
 */
export async function runChaos(options: ChaosOptions): Promise<{ summary: ChaosSummary; report: string }> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const clusterCount = options.clusters ?? 3;
  const nodesPerCluster = options.nodesPerCluster ?? 3;
  const livenessBoundMs = options.livenessBoundMs ?? 45_000;
  const clusterIds = Array.from({ length: clusterCount }, (_, c) => `chaos-${c + 1}`);
  const scheduleMs = Math.round((options.minutes * 60_000) / options.schedules);
  const schedules = makeSchedules({
    seed: options.seed,
    schedules: options.schedules,
    durationMs: scheduleMs,
    clusters: clusterIds,
    leaseMs: CHAOS_DETECTION.leaseMs,
    ...(options.only ? { only: options.only } : {}),
    ...(options.without ? { without: options.without } : {}),
    ...(options.faults !== undefined ? { faults: options.faults } : {}),
    // The broken agent's proof: its active cut off from the control plane for longer than lease + detection, so
    // that the control plane fails over while the broken agent keeps acting past its lease.
    ...(options.broken
      ? {
          only: options.only ?? (['partition'] as const),
          target: 'active' as const,
          minFaultMs: 4 * CHAOS_DETECTION.leaseMs,
        }
      : {}),
  });
  const scheduleLines = schedules.flatMap((s) => s.events.map((e) => describeEvent(s.index, e)));
  log(`seed ${options.seed}: ${schedules.length} schedule(s) of ${scheduleMs} ms`);
  for (const line of scheduleLines) log(`  ${line}`);

  const dir = mkdtempSync(path.join(tmpdir(), 'fp-chaos-'));
  const stack = await ChaosStack.start({
    dir,
    clusters: clusterCount,
    nodesPerCluster,
    ...(options.broken ? { broken: options.broken, sites: 'on-prem' as const, peerLeases: false } : {}),
    log,
  });
  // Targets are resolved when a fault fires (the active then), with a PRNG of its own: same seed, same choices
  // for the same state.
  const random = new Prng(options.seed ^ 0x5bd1e995);
  const faultsByKind: Record<string, number> = {};
  const actionsByKind: Record<string, number> = {};
  const liveness: LivenessInput[] = [];
  let livenessWorstMs = 0;
  let poweredOff = 0;
  let operatorRecoveries = 0;
  const offSince = new Map<ChaosNode, number>();

  const status = async (cluster: string): Promise<{ activeNodeId?: string | null } | undefined> => {
    const r = await stack.request('GET', paths.clusterStatus(cluster));
    return r.status === 200 ? (r.json as { activeNodeId?: string | null }) : undefined;
  };
  const nodesOf = (cluster: string) => stack.nodes.filter((n) => n.cluster === cluster);
  const resolve = async (e: ScheduledEvent): Promise<ChaosNode> => {
    const nodes = nodesOf(e.cluster);
    let active: string | undefined;
    if (e.target !== 'any' && !stack.hostDown)
      active = (await status(e.cluster).catch(() => undefined))?.activeNodeId ?? undefined;
    const pool =
      e.target === 'active' && active
        ? nodes.filter((n) => n.node === active)
        : e.target === 'standby' && active
          ? nodes.filter((n) => n.node !== active)
          : nodes;
    return random.pick(pool.length > 0 ? pool : nodes);
  };

  /** What undoes each fault still in force, run at its end or when the schedule's faults stop. */
  const restorations = new Set<{ run: () => Promise<void>; timer: NodeJS.Timeout }>();
  const restoreAfter = (ms: number, what: string, run: () => Promise<void> | void) => {
    const entry = {
      run: async () => {
        restorations.delete(entry);
        clearTimeout(entry.timer);
        try {
          await run();
        } catch (error) {
          log(`restoring ${what} failed: ${(error as Error).message}`);
        }
      },
      timer: setTimeout(() => void entry.run(), ms),
    };
    restorations.add(entry);
  };
  let hostRestart: Promise<void> | undefined;
  let keepDir = true;

  const inject = async (e: ScheduledEvent, schedule: number): Promise<void> => {
    const node = await resolve(e);
    const who = `${node.cluster}/${node.node}`;
    const note = (detail: string) => {
      count(faultsByKind, e.kind);
      log(`${describeEvent(schedule, e)} -> ${detail}`);
    };
    switch (e.kind as FaultKind) {
      case 'agent-kill':
        if (node.state !== 'running') return;
        await stack.signal(node, 'SIGKILL');
        note(`SIGKILL ${who}`);
        restoreAfter(e.durationMs, `restart ${who}`, () => {
          if (node.state === 'killed') stack.startAgent(node);
        });
        return;
      case 'agent-pause':
        if (node.state !== 'running') return;
        await stack.signal(node, 'SIGSTOP');
        note(`SIGSTOP ${who}`);
        restoreAfter(e.durationMs, `SIGCONT ${who}`, () => stack.signal(node, 'SIGCONT'));
        return;
      case 'partition':
      case 'replies-lost':
        if (node.proxy.mode !== 'open') return;
        node.proxy.set(e.kind === 'partition' ? 'cut' : 'replies-lost');
        note(
          `${e.kind === 'partition' ? 'two-way' : 'one-way (replies lost)'} partition ${who} <-> control plane`,
        );
        restoreAfter(e.durationMs, `heal ${who}`, () => node.proxy.set('open'));
        return;
      case 'peer-partition': {
        if (node.peerProxy.mode !== 'open') return;
        // Two-way: nobody reaches the node's peer listener. One-way: the requests arrive (a promise may be given
        // and persisted, binding the node) but the answers are lost.
        const mode = random.next() < 0.7 ? 'cut' : 'replies-lost';
        node.peerProxy.set(mode);
        note(`${mode === 'cut' ? 'two-way' : 'one-way (answers lost)'} partition: peers -> ${who}`);
        restoreAfter(e.durationMs, `heal peers -> ${who}`, () => node.peerProxy.set('open'));
        return;
      }
      case 'host-outage': {
        if (hostRestart || stack.storageStalled) return;
        note(`control-plane outage: devhost down for ${e.durationMs} ms`);
        let up: () => void = () => undefined;
        hostRestart = new Promise<void>((resolve) => (up = resolve)).finally(() => (hostRestart = undefined));
        await stack.stopHost();
        restoreAfter(e.durationMs, 'devhost restart after the outage', async () => {
          try {
            await stack.startHost();
          } finally {
            up();
          }
        });
        return;
      }
      case 'storage-stall':
        if (stack.storageStalled || hostRestart) return;
        stack.stallStorage();
        note(`storage stalled for ${e.durationMs} ms (every Azurite request of the control plane hangs)`);
        restoreAfter(e.durationMs, 'storage', () => stack.resumeStorage());
        return;
      case 'clock-step': {
        const file = stack.clockFile(node);
        if (existsSync(file)) return;
        // Within the control plane's 60 s tolerance (60%), or beyond it (the agent's requests are refused: its
        // lease lapses and it fences itself), either way.
        const within = random.next() < 0.6;
        const size = within ? random.int(2_000, 40_000) : random.int(90_000, 300_000);
        const offset = random.next() < 0.5 ? -size : size;
        writeFileSync(file, `${offset}\n`);
        note(`wall clock of ${who} stepped by ${offset} ms (${within ? 'within' : 'beyond'} the tolerance)`);
        restoreAfter(e.durationMs, `clock of ${who}`, () => rmSync(file, { force: true }));
        return;
      }
      case 'host-kill':
        if (hostRestart || stack.storageStalled) return;
        note('SIGKILL devhost, restart on the same storage');
        hostRestart = stack.killHost().finally(() => (hostRestart = undefined));
        return;
      case 'hook-slow':
      case 'hook-fail': {
        const file = path.join(
          stack.controlDir,
          `${node.cluster}-${node.node}.${e.kind === 'hook-slow' ? 'slow' : 'fail'}`,
        );
        if (existsSync(file)) return;
        writeFileSync(
          file,
          e.kind === 'hook-slow' ? `${(random.int(500, 2500) / 1000).toFixed(2)}\n` : 'fail\n',
        );
        note(`${e.kind === 'hook-slow' ? 'slow' : 'failing'} hooks on ${who}`);
        restoreAfter(e.durationMs, `hooks of ${who}`, () => rmSync(file, { force: true }));
        return;
      }
      case 'cloud-fault': {
        const region = node.region ?? 'westeurope';
        const model = stack.cloud.simulator.model;
        if (random.next() < 0.25) {
          // The region is down: its requests are refused (the fence cannot be confirmed: the lease decides).
          const site = model.site('azure', region);
          if (!site || site.down) return;
          site.down = 'refuse';
          note(`cloud region azure/${region} down`);
          restoreAfter(e.durationMs, `region ${region}`, () => {
            delete site.down;
          });
          return;
        }
        const kind = random.pick<SimFaultKind>(['ServerError', 'Throttled', 'Slow', 'AllocationFailed']);
        const fault = model.addFault({
          cloud: 'azure',
          region,
          operation: 'any',
          kind,
          ...(kind === 'Throttled' ? { retryAfterSeconds: 1 } : {}),
          ...(kind === 'Slow' ? { delayMs: 2000 } : {}),
        });
        note(`cloud fault ${kind} in azure/${region}`);
        restoreAfter(e.durationMs, `cloud fault ${fault.id}`, () => {
          const i = model.faults.findIndex((f) => f.id === fault.id);
          if (i >= 0) model.faults.splice(i, 1);
        });
        return;
      }
    }
  };

  let webhookN = 0;
  const act = async (e: ScheduledEvent, schedule: number): Promise<void> => {
    if (stack.hostDown) return;
    const kind = e.kind as ActionKind;
    let answer = '';
    if (kind === 'failover') {
      const r = await stack.request('POST', paths.failover(e.cluster), {
        reason: 'chaos: operator failover',
      });
      answer = String(r.status);
    } else if (kind === 'make-active') {
      const target = await resolve({ ...e, target: 'standby' });
      const r = await stack.request('POST', paths.makeActive(e.cluster), {
        nodeId: target.node,
        confirm: true,
        reason: 'chaos: planned switchover',
      });
      answer = `${target.node} ${r.status}`;
    } else if (kind === 'drill') {
      const mode = random.pick(['validate', 'switchover', 'failover'] as const);
      const r = await stack.request('POST', paths.drills(e.cluster), {
        mode,
        ...(mode === 'failover' ? { confirm: true } : {}),
      });
      answer = `${mode} ${r.status}`;
    } else {
      const statuses = await stack.duplicateWebhook(
        e.cluster,
        3,
        `chaos-${options.seed}-${schedule}-${++webhookN}`,
      );
      answer = statuses.join(',');
    }
    count(actionsByKind, kind);
    log(`${describeEvent(schedule, e)} -> ${answer}`);
  };

  const everyClusterActiveSince = (since: bigint): boolean => {
    const records = readJournals(stack.journalDir);
    return clusterIds.every((c) =>
      records.some((r) => r.cluster === c && r.t !== 'end' && BigInt(r.mono) >= since),
    );
  };

  try {
    const up = await until(() => everyClusterActiveSince(0n), 90_000);
    if (!up) throw new Error('the clusters did not get their first active within 90 s');
    log('every cluster has its active: faults start');

    for (const schedule of schedules) {
      const t0 = Date.now();
      const repair = setInterval(() => {
        for (const n of stack.nodes) {
          if (n.state !== 'off') {
            offSince.delete(n);
            continue;
          }
          if (!offSince.has(n)) {
            offSince.set(n, Date.now());
            poweredOff++;
          } else if (Date.now() - (offSince.get(n) ?? 0) > 4000 && stack.repairVm(n)) {
            log(`repaired the VM of ${n.cluster}/${n.node}`);
          }
        }
      }, 250);
      const running: Promise<void>[] = [];
      for (const e of schedule.events) {
        await sleep(t0 + e.atMs - Date.now());
        const isFault = (FAULT_KINDS as readonly string[]).includes(e.kind);
        running.push(
          (isFault ? inject(e, schedule.index) : act(e, schedule.index)).catch((error: unknown) =>
            log(`${describeEvent(schedule.index, e)} failed: ${(error as Error).message}`),
          ),
        );
      }
      await sleep(t0 + schedule.durationMs - Date.now());
      // The faults stop: everything undone, the host up, powered-off VMs repaired.
      await Promise.all(running);
      await Promise.all([...restorations].map((r) => r.run()));
      if (hostRestart) await hostRestart;
      clearInterval(repair);
      for (const n of stack.nodes) if (stack.repairVm(n)) log(`repaired the VM of ${n.cluster}/${n.node}`);
      const healedAt = monoNs();
      const healedWall = Date.now();
      // A failover that found no healthy target leaves its cluster with NO ACTIVE until an operator acts (README
      // "Operations"): the harness is that operator, once the faults stopped, and counts it.
      const asked = new Map<string, number>();
      const recover = async () => {
        const records = readJournals(stack.journalDir);
        for (const c of clusterIds) {
          if (records.some((r) => r.cluster === c && r.t !== 'end' && BigInt(r.mono) >= healedAt)) continue;
          if (Date.now() - (asked.get(c) ?? 0) < 10_000) continue;
          const s = (await status(c).catch(() => undefined)) as
            { noActiveReason?: string | null } | undefined;
          if (!s?.noActiveReason) continue;
          asked.set(c, Date.now());
          const r = await stack.request('POST', paths.failover(c), {
            reason: 'chaos: operator recovery of a cluster with no active',
          });
          operatorRecoveries++;
          log(`${c}: NO ACTIVE (${s.noActiveReason}) after the faults: operator failover -> ${r.status}`);
        }
      };
      const live = await until(async () => {
        if (everyClusterActiveSince(healedAt)) return true;
        await recover();
        return false;
      }, livenessBoundMs);
      const took = Date.now() - healedWall;
      livenessWorstMs = Math.max(livenessWorstMs, took);
      liveness.push({ healedAt, boundMs: livenessBoundMs, clusters: clusterIds });
      log(
        `schedule ${schedule.index}: faults stopped; every cluster active again ${live ? `after ${took} ms` : 'NOT within the bound'}`,
      );
    }

    // Every operation must end: wait for those still running (bounded), then read them all.
    const operations: OperationOutcome[] = [];
    const readOperations = async () => {
      operations.splice(0);
      for (const c of clusterIds) {
        let continuation: string | undefined;
        do {
          const q = `?limit=100${continuation ? `&continuation=${encodeURIComponent(continuation)}` : ''}`;
          const r = await stack.request('GET', `${paths.operations(c)}${q}`);
          if (r.status !== 200) throw new Error(`operations of ${c}: ${r.status}`);
          const page = r.json as { operations: OperationOutcome[]; continuation?: string };
          operations.push(...page.operations);
          continuation = page.continuation;
        } while (continuation);
      }
      return operations.every((o) => o.status !== 'pending' && o.status !== 'running');
    };
    await until(readOperations, 120_000, 1000);

    const journals = readJournals(stack.journalDir);
    const hooks = existsSync(stack.hookLog)
      ? parseJsonLines<HookRecord>(readFileSync(stack.hookLog, 'utf8'))
      : [];
    const model = stack.cloud.simulator.model;
    const input: CheckInput = {
      seed: options.seed,
      schedule: scheduleLines,
      journals,
      hooks,
      cloudRequests: model.requestLog,
      armActions: [...armActions(model), ...stack.repairs].sort((a, b) => a.at - b.at),
      operations,
      liveness,
    };
    const violations: Violation[] = checkRun(input);
    const operationsByKindAndStatus: Record<string, number> = {};
    for (const o of operations) count(operationsByKindAndStatus, `${o.kind}:${o.status}`);
    const failovers = operations.filter(
      (o) => (o.kind === 'failover' || o.kind === 'make-active') && o.status === 'succeeded',
    ).length;
    const violationsByRule: Record<string, number> = {};
    for (const v of violations) count(violationsByRule, v.rule);
    const keep = options.keepFiles === true || violations.length > 0;
    keepDir = keep;
    const summary: ChaosSummary = {
      seed: options.seed,
      schedules: schedules.length,
      minutes: options.minutes,
      clusters: clusterCount,
      agents: stack.nodes.length,
      faults: Object.values(faultsByKind).reduce((a, b) => a + b, 0),
      faultsByKind,
      actions: Object.values(actionsByKind).reduce((a, b) => a + b, 0),
      actionsByKind,
      failovers,
      operationsByKindAndStatus,
      poweredOff,
      operatorRecoveries,
      violations: violations.length,
      violationsByRule,
      livenessBoundMs,
      livenessWorstMs,
      actingIntervals: new Set(journals.map((r) => `${r.cluster}/${r.node}/${r.pid}/${r.epoch}`)).size,
      hookSteps: hooks.length,
      durationMs: Date.now() - started,
      ...(options.broken ? { broken: options.broken } : {}),
      ...(keep ? { dir } : {}),
    };
    return { summary, report: formatViolations(input, violations) };
  } finally {
    for (const r of restorations) clearTimeout(r.timer);
    await stack.stop();
    // Kept for a run with violations (its path is in the summary) or that broke; removed otherwise.
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  }
}
