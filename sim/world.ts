import type { HealthCheck } from '../shared/domain/decisions';
import type { Agent } from './agent';
import { DriftingClock } from './clock';
import type { ControllerInstance } from './controller';
import type { Prng } from './prng';
import type { Rules } from './rules';
import type { Scenario } from './scenario';
import { Scheduler } from './scheduler';
import type { StateStore } from './store';
import { Recorder } from './trace';

/** Agent → control plane. */
export type UpMessage =
  | {
      type: 'heartbeat';
      node: string;
      incarnation: number;
      seq: number;
      epoch: number;
      /** The epoch the agent demoted itself under, while it is still the highest it has seen (agent/agent.ts). */
      demotedAtEpoch?: number;
      /** How far behind the active its replica is (scenarios with replication). */
      replicationLagMs?: number;
    }
  | { type: 'arbitrate'; node: string; epoch: number; checks: HealthCheck[] }
  | { type: 'demote-ack'; node: string; epoch: number; opId: number; instance: number };

/** Control plane → agent. */
export type DownMessage =
  | {
      type: 'heartbeat-response';
      incarnation: number;
      seq: number;
      granted: boolean;
      epoch: number;
      leaseMs: number;
      grantId: number;
      reason: string;
    }
  | { type: 'demote'; epoch: number; opId: number; instance: number }
  /** The promote command: the target heartbeats at once to collect its lease (it acts only on a granted lease). */
  | { type: 'promoted'; epoch: number };

export interface Stats {
  events: number;
  actions: number;
  grants: number;
  revokes: number;
  promotions: number;
  /** Reaffirmations by arbitration (the active won). */
  reaffirms: number;
  /** Reaffirm + grant commits of the heartbeat handler: the active demoted itself under the current epoch. */
  selfDemotionReaffirms: number;
  fencesConfirmed: number;
  failoverOps: number;
  /** Operations nextFailoverStep refused (target unhealthy or not caught up, no healthy standby...). */
  refusals: number;
  /** make-active operations that rolled back to the original active. */
  rollBacks: number;
  /** Refusals and roll-backs of a make-active whose target lagged beyond the RPO (ReplicationLagAboveRpo). */
  replicationLagStops: number;
  /** Failovers whose promoted target did not take over in time, so the operation tried the next candidate. */
  retries: number;
  opsByTrigger: Record<string, number>;
  partitions: number;
  agentPauses: number;
  agentPausesLongerThanLease: number;
  agentCrashes: number;
  powerOffs: number;
  controllerCrashes: number;
  controllerPauses: number;
  webhooks: number;
  duplicateTriggers: number;
  makeActives: number;
  arbitrations: number;
  casConflicts: number;
  storeRepliesLost: number;
  messagesLost: number;
  messagesDuplicated: number;
  messagesLongDelayed: number;
  staleGrantsRefused: number;
  selfFences: number;
  /** Agents demoting themselves under a new epoch: lease lapse, crash while active, refusal. */
  selfDemotions: number;
  demotesAcked: number;
  flappingGuardBlocks: number;
  witnessBusy: number;
  /** Smallest real-time gap between one node's lease ending and another node's starting (a near miss). */
  minHandoverGapMs: number;
  /** Smallest time from the end of the last older-epoch lease to a promotion's commit (how tight rule 3 ran). */
  minPromotionSlackMs: number;
}

export function emptyStats(): Stats {
  return {
    events: 0,
    actions: 0,
    grants: 0,
    revokes: 0,
    promotions: 0,
    reaffirms: 0,
    selfDemotionReaffirms: 0,
    fencesConfirmed: 0,
    failoverOps: 0,
    refusals: 0,
    rollBacks: 0,
    replicationLagStops: 0,
    retries: 0,
    opsByTrigger: {},
    partitions: 0,
    agentPauses: 0,
    agentPausesLongerThanLease: 0,
    agentCrashes: 0,
    powerOffs: 0,
    controllerCrashes: 0,
    controllerPauses: 0,
    webhooks: 0,
    duplicateTriggers: 0,
    makeActives: 0,
    arbitrations: 0,
    casConflicts: 0,
    storeRepliesLost: 0,
    messagesLost: 0,
    messagesDuplicated: 0,
    messagesLongDelayed: 0,
    staleGrantsRefused: 0,
    selfFences: 0,
    selfDemotions: 0,
    demotesAcked: 0,
    flappingGuardBlocks: 0,
    witnessBusy: 0,
    minHandoverGapMs: Number.POSITIVE_INFINITY,
    minPromotionSlackMs: Number.POSITIVE_INFINITY,
  };
}

/** The witness blob: a lock with a lease (real time, as the storage service keeps it) and the record of votes. */
export class Witness {
  holder: string | null = null;
  expiresAt = 0;
  readonly votes: { t: number; epoch: number; active: string; by: string }[] = [];

  /** Acquire or renew. */
  hold(who: string, now: number, leaseMs: number): boolean {
    if (this.holder !== null && this.holder !== who && now < this.expiresAt) return false;
    this.holder = who;
    this.expiresAt = now + leaseMs;
    return true;
  }

  release(who: string): void {
    if (this.holder === who) this.holder = null;
  }
}

/** The links between each agent and the control plane; a partition cuts one or both directions until a time. */
interface Cut {
  upUntil: number;
  downUntil: number;
}

export class World {
  readonly sched = new Scheduler();
  readonly netRng: Prng;
  readonly storeRng: Prng;
  readonly faultRng: Prng;
  readonly controlRng: Prng;
  readonly store: StateStore;
  readonly recorder: Recorder;
  readonly stats = emptyStats();
  readonly controllerClock: DriftingClock;
  readonly agents = new Map<string, Agent>();
  readonly controllers: ControllerInstance[] = [];
  /** Last heartbeat receipt per node, controller time (a table row per node; survives controller crashes). */
  readonly heartbeats = new Map<string, number>();
  /** The replication lag each node's latest heartbeat reported (same table row). */
  readonly replicationLag = new Map<string, number>();
  /** Times (controller clock) of committed failovers, for the flapping guard. */
  readonly failoverHistory: number[] = [];
  readonly witness = new Witness();
  private readonly cuts = new Map<string, Cut>();
  private nextOpId = 1;

  constructor(
    readonly scenario: Scenario,
    readonly rules: Rules,
    rng: Prng,
    verbose: boolean,
    initialStore: (world: World) => StateStore,
  ) {
    this.netRng = rng.fork(1);
    this.storeRng = rng.fork(2);
    this.faultRng = rng.fork(3);
    this.controlRng = rng.fork(4);
    this.recorder = new Recorder(verbose);
    this.controllerClock = new DriftingClock(scenario.controllerClock.drift, scenario.controllerClock.offset);
    this.store = initialStore(this);
  }

  get now(): number {
    return this.sched.now;
  }

  newOpId(): number {
    return this.nextOpId++;
  }

  /** Cuts the link of `node` (up: agent → control plane, down: the answers) for `ms`. */
  partition(node: string, up: boolean, down: boolean, ms: number): void {
    const cut = this.cuts.get(node) ?? { upUntil: 0, downUntil: 0 };
    if (up) cut.upUntil = Math.max(cut.upUntil, this.now + ms);
    if (down) cut.downUntil = Math.max(cut.downUntil, this.now + ms);
    this.cuts.set(node, cut);
  }

  private isCut(node: string, up: boolean, at: number): boolean {
    const cut = this.cuts.get(node);
    if (!cut) return false;
    return at < (up ? cut.upUntil : cut.downUntil);
  }

  private delay(): number {
    const n = this.scenario.network;
    if (n.longDelayP > 0 && this.netRng.chance(n.longDelayP)) {
      this.stats.messagesLongDelayed++;
      return this.netRng.range(n.baseDelayMs, n.longDelayMaxMs);
    }
    return n.baseDelayMs + this.netRng.exp(n.jitterMeanMs);
  }

  /**
   * Sends over a lossy, duplicating, reordering network: a message is lost when its link is cut when it is sent or
   * when it would arrive; each copy gets its own delay.
   */
  private transmit(node: string, up: boolean, deliver: () => void): void {
    if (this.isCut(node, up, this.now)) {
      this.stats.messagesLost++;
      return;
    }
    const n = this.scenario.network;
    if (n.lossP > 0 && this.netRng.chance(n.lossP)) {
      this.stats.messagesLost++;
      return;
    }
    let copies = 1;
    if (n.dupP > 0 && this.netRng.chance(n.dupP)) {
      copies = 2;
      this.stats.messagesDuplicated++;
    }
    for (let i = 0; i < copies; i++) {
      const at = this.now + this.delay();
      this.sched.at(at, () => {
        if (this.isCut(node, up, this.now)) {
          this.stats.messagesLost++;
          return;
        }
        deliver();
      });
    }
  }

  toControlPlane(message: UpMessage): void {
    this.recorder.detail(this.now, message.node, () => `→ cp ${JSON.stringify(message)}`);
    this.transmit(message.node, true, () => this.deliverToControlPlane(message));
  }

  toAgent(node: string, message: DownMessage): void {
    this.recorder.detail(this.now, 'cp', () => `→ ${node} ${JSON.stringify(message)}`);
    this.transmit(node, false, () => this.agents.get(node)?.receive(message));
  }

  /**
   * Everything goes to any live instance (the load balancer), except acknowledgements: they are raised as events to
   * the cluster's singleton failover orchestration, so they reach the operation that asked if it still runs, and
   * otherwise whichever failover of the cluster runs now (a late acknowledgement meets a later operation).
   */
  private deliverToControlPlane(message: UpMessage): void {
    if (message.type === 'demote-ack') {
      const asked = this.controllers[message.instance];
      const to = asked?.runsOp(message.opId) ? asked : this.controllers.find((c) => c.alive && c.runsAnyOp());
      to?.receive(message);
      return;
    }
    const live = this.controllers.filter((c) => c.alive);
    if (live.length === 0) {
      this.stats.messagesLost++;
      return;
    }
    this.controlRng.pick(live).receive(message);
  }

  /** A store round trip: the operation executes (is linearised) on arrival; the reply may be lost (a timeout). */
  storeCall<T>(op: () => T, reply: (result: T | undefined) => void): void {
    const s = this.scenario.storeNet;
    this.sched.after(s.baseDelayMs + this.storeRng.exp(s.jitterMeanMs), () => {
      const result = op();
      if (s.lostReplyP > 0 && this.storeRng.chance(s.lostReplyP)) {
        this.stats.storeRepliesLost++;
        this.sched.after(s.timeoutMs, () => reply(undefined));
        return;
      }
      this.sched.after(s.baseDelayMs + this.storeRng.exp(s.jitterMeanMs), () => reply(result));
    });
  }

  /** A cloud API call (power off, power state): executes after a delay; its answer arrives after another. */
  cloudCall<T>(op: () => T, reply: (result: T) => void): void {
    this.sched.after(this.storeRng.range(20, 300), () => {
      const result = op();
      this.sched.after(this.storeRng.range(5, 100), () => reply(result));
    });
  }
}
