import { initialClusterState } from '../shared/domain/clusterState';
import { promotableSet } from '../shared/domain/peerPromises';
import { Agent } from './agent';
import { checkInvariants, traceExcerpt, type Violation } from './checker';
import { ControllerInstance } from './controller';
import { Prng } from './prng';
import { rulesFor, type BrokenRule, type Rules } from './rules';
import { makeScenario, type Scenario } from './scenario';
import { StateStore } from './store';
import { World, type Stats } from './world';

export interface SimOptions {
  seed: number;
  /** Simulated real time per run (default: DEFAULT_DURATION_MS). */
  durationMs?: number;
  /** Swap in a deliberately broken rule. */
  brokenRule?: BrokenRule;
  /** Keep message-level detail in the log. */
  verbose?: boolean;
  /** Skew bound between controller instances' clocks (default 0: one control-plane clock). */
  controllerSkewMs?: number;
  /** Force peer leases on or off (default: drawn per seed). */
  peerLeases?: boolean;
}

export interface SimResult {
  seed: number;
  scenario: Scenario;
  stats: Stats;
  violations: Violation[];
  /** The log lines leading to the first violation (empty when none). */
  excerpt: string[];
  /** A hash of everything observable (commits, lease segments, actions): equal digests, equal runs. */
  digest: string;
  simulatedMs: number;
  /** The full log, for --verbose. */
  log: string[];
}

/**
 * Builds the actors of a run — store, agents, controller instances — without starting them or injecting faults
 * (tests drive small worlds by hand through this).
 */
export function createWorld(scenario: Scenario, rules: Rules, verbose = false): World {
  const rng = new Prng(scenario.seed).fork(0x51);
  const world = new World(scenario, rules, rng, verbose, (w) => {
    const declaredAt = w.controllerClock.localAt(0);
    const active = scenario.nodes[0] as string;
    const initial = initialClusterState(
      scenario.document.id,
      active,
      declaredAt,
      undefined,
      scenario.peerLeases ? promotableSet(scenario.nodes, active) : undefined,
    );
    return new StateStore(initial, rules.store.ifMatch, 0);
  });
  const declaredAt = world.controllerClock.localAt(0);
  scenario.nodes.forEach((node, i) => {
    world.heartbeats.set(node, declaredAt);
    world.agents.set(node, new Agent(node, world, rng.fork(10 + i), 1));
  });
  for (let i = 0; i < scenario.controllerInstances; i++)
    world.controllers.push(
      new ControllerInstance(i, world, rng.fork(20 + i), scenario.controllerSkewMs[i] ?? 0),
    );
  return world;
}

/** Runs one seeded schedule and checks the invariant over its whole trace. Deterministic in its options. */
export function runSimulation(options: SimOptions): SimResult {
  const scenario = makeScenario(options.seed, {
    durationMs: options.durationMs,
    controllerSkewMs: options.controllerSkewMs,
    peerLeases: options.peerLeases,
  });
  const world = createWorld(
    scenario,
    rulesFor(options.brokenRule, scenario.detection),
    options.verbose ?? false,
  );
  for (const agent of world.agents.values()) agent.start();
  for (const controller of world.controllers) controller.start();
  injectFaults(world);

  world.sched.runUntil(scenario.durationMs);
  world.recorder.closeAll(scenario.durationMs);
  world.stats.events = world.sched.eventsProcessed;

  const { recorder, store } = world;
  const { violations, minHandoverGapMs, minPromotionSlackMs } = checkInvariants({
    actions: recorder.actions,
    segments: recorder.segments,
    commits: store.commits,
    promises: recorder.promises,
  });
  world.stats.minHandoverGapMs = minHandoverGapMs;
  world.stats.minPromotionSlackMs = minPromotionSlackMs;
  const first = violations[0];
  const windowMs = 2 * (scenario.detection.leaseMs + scenario.detection.driftMarginMs);
  return {
    seed: options.seed,
    scenario,
    stats: world.stats,
    violations,
    excerpt: first ? traceExcerpt(recorder.log, recorder.segments, first, windowMs) : [],
    digest: digest(world),
    simulatedMs: scenario.durationMs,
    log: options.verbose
      ? recorder.log.map((e) => `${e.t.toFixed(3).padStart(12)}  ${e.who.padEnd(5)} ${e.what}`)
      : [],
  };
}

/** Poisson processes of faults and triggers, aimed at the active node two times out of three. */
function injectFaults(world: World): void {
  const { scenario: s, faultRng: rng, sched, stats, recorder } = world;
  const lease = s.detection.leaseMs;
  const cycle =
    s.detection.heartbeatIntervalMs * s.detection.missedHeartbeats + lease + s.detection.driftMarginMs;
  const every = (mean: number, fn: () => void) => {
    const next = () =>
      sched.after(rng.exp(mean), () => {
        fn();
        next();
      });
    next();
  };
  const agents = [...world.agents.values()];
  const target = (): Agent => {
    if (rng.chance(2 / 3)) {
      const holder = agents.find((a) => a.holdsLease) ?? world.agents.get(store().activeNodeId ?? '');
      if (holder) return holder;
    }
    return rng.pick(agents);
  };
  const store = () => world.store.current;

  every(s.faultMeanMs.partition, () => {
    const victims = rng.chance(0.15) ? agents : [target()];
    const r = rng.float();
    const up = r < 0.8;
    const down = r >= 0.2;
    const ms = rng.range(200, 3 * cycle);
    stats.partitions++;
    for (const a of victims) world.partition(a.id, up, down, ms);
    const what = up && down ? 'both ways' : up ? 'agent→cp only' : 'cp→agent only';
    recorder.note(
      world.now,
      'net',
      `partition ${victims.map((a) => a.id).join(',')} ${what} for ${ms.toFixed(0)} ms`,
    );
  });
  every(s.faultMeanMs.agentPause, () => {
    const long = rng.chance(0.5);
    stats.agentPauses++;
    if (long) stats.agentPausesLongerThanLease++;
    target().pause(long ? rng.range(lease, 3 * lease) : rng.range(10, lease));
  });
  every(s.faultMeanMs.agentCrash, () => {
    stats.agentCrashes++;
    target().crash(rng.range(200, 8000), 'crashes');
  });
  every(s.faultMeanMs.controllerCrash, () => {
    const live = world.controllers.filter((c) => c.alive);
    if (live.length === 0) return;
    stats.controllerCrashes++;
    rng.pick(live).crash(rng.range(100, 5000));
  });
  every(s.faultMeanMs.controllerPause, () => {
    stats.controllerPauses++;
    rng.pick(world.controllers).pause(rng.range(20, 2 * lease));
  });
  every(s.faultMeanMs.webhook, () => {
    stats.webhooks++;
    const first = rng.pick(world.controllers);
    first.trigger('webhook', null);
    if (rng.chance(0.35)) {
      // the same alert delivered twice, racing: ideally to another instance
      stats.duplicateTriggers++;
      const others = world.controllers.filter((c) => c !== first);
      (others.length ? rng.pick(others) : first).trigger('webhook', null);
    }
  });
  every(s.faultMeanMs.makeActive, () => {
    const candidates = s.nodes.filter((n) => n !== store().activeNodeId);
    if (candidates.length === 0) return;
    stats.makeActives++;
    rng.pick(world.controllers).trigger('make-active', rng.pick(candidates));
  });
  every(s.faultMeanMs.peerLinkLost, () => {
    recorder.note(world.now, 'net', 'peer link lost: both sides ask for arbitration');
    for (const a of agents) a.requestArbitration();
  });
  injectPeerFaults(world, agents, lease);
}

/**
 * Faults of the peer-promise model, from a stream of their own: peer-network partitions (one pair, one way or both,
 * independent of the control-plane links), control-plane outages of any length (every instance down, or every node
 * cut off from it; from a fraction of a lease to many leases) and crashes of a standby bound by a promise.
 */
function injectPeerFaults(world: World, agents: Agent[], lease: number): void {
  const { scenario: s, sched, stats, recorder } = world;
  const rng = new Prng(s.seed).fork(0x9ee2);
  const every = (mean: number, fn: () => void) => {
    const next = () =>
      sched.after(rng.exp(mean), () => {
        fn();
        next();
      });
    next();
  };
  every(s.peerFaultMeanMs.peerPartition, () => {
    if (agents.length < 2) return;
    const a = rng.pick(agents);
    const b = rng.pick(agents.filter((x) => x !== a));
    const both = rng.chance(0.5);
    const ms = rng.range(200, 6 * lease);
    stats.peerPartitions++;
    world.partitionPeers(a.id, b.id, both, ms);
    recorder.note(
      world.now,
      'net',
      `peer partition ${a.id}${both ? '<>' : '>'}${b.id} for ${ms.toFixed(0)} ms`,
    );
  });
  every(s.peerFaultMeanMs.cpOutage, () => {
    const r = rng.float();
    const ms =
      r < 0.4
        ? rng.range(200, lease)
        : r < 0.7
          ? rng.range(lease, 3 * lease)
          : rng.range(3 * lease, 15 * lease);
    stats.cpOutages++;
    if (ms > 3 * lease) stats.longCpOutages++;
    if (rng.chance(0.5)) {
      recorder.note(world.now, 'net', `control-plane outage: every instance down for ${ms.toFixed(0)} ms`);
      for (const c of world.controllers) c.crash(ms);
    } else {
      recorder.note(world.now, 'net', `control-plane outage: every node cut off for ${ms.toFixed(0)} ms`);
      for (const a of agents) world.partition(a.id, true, true, ms);
    }
  });
  every(s.peerFaultMeanMs.boundCrash, () => {
    const bound = agents.filter((a) => a.isBound);
    if (bound.length === 0) return;
    stats.boundCrashes++;
    rng.pick(bound).crash(rng.range(100, 3000), 'crashes while bound');
  });
}

const imul = Math.imul;

/** FNV-1a over the observable history (numbers hashed by their exact bits). */
function digest(world: World): string {
  const f64 = new Float64Array(1);
  const u32 = new Uint32Array(f64.buffer);
  let h = 0x811c9dc5;
  const mix = (x: number) => {
    f64[0] = x;
    h = imul(h ^ (u32[0] as number), 0x01000193);
    h = imul(h ^ (u32[1] as number), 0x01000193);
  };
  const mixText = (text: string) => {
    for (let i = 0; i < text.length; i++) h = imul(h ^ text.charCodeAt(i), 0x01000193);
  };
  for (const c of world.store.commits) {
    mix(c.t);
    mix(c.version);
    mixText(c.kind);
    mix(c.state.epoch);
    mixText(c.state.activeNodeId ?? '-');
  }
  for (const s of world.recorder.segments) {
    mixText(s.node);
    mix(s.start);
    mix(s.end);
  }
  for (const a of world.recorder.actions) {
    mixText(a.node);
    mix(a.t);
    mix(a.epoch);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
