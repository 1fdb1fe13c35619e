import type { HealthCheck } from '../shared/domain/decisions';
import type { PromiseReport } from '../shared/domain/peerPromises';
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
      /** Peer promises (agentApi heartbeat `peer`): the promise that binds it, the epoch it knows revoked. */
      peer?: { promise?: { to: string; epoch: number; remainingMs: number }; closedEpoch?: number };
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
      /** The reply's epoch is revoked (sent to every node: a standby closes the epoch). */
      revoked?: boolean;
      /** With a grant, when peer leases are on: the epoch's promotable set. */
      peers?: { epoch: number; nodes: string[] };
    }
  | { type: 'demote'; epoch: number; opId: number; instance: number }
  /** The promote command: the target heartbeats at once to collect its lease (it acts only on a granted lease). */
  | { type: 'promoted'; epoch: number };

/** Agent → agent, over the peer network (PEER_ROUTES.promise and its answer). */
export type PeerMessage =
  | {
      type: 'promise-request';
      from: string;
      to: string;
      epoch: number;
      durationMs: number;
      incarnation: number;
      reqId: number;
    }
  | {
      type: 'promise-answer';
      from: string;
      to: string;
      granted: boolean;
      epoch: number;
      durationMs: number;
      incarnation: number;
      reqId: number;
      code?: string;
    };

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
  /** Promises given by standbys (persisted before the answer). */
  promisesGranted: number;
  /** Promise requests refused (epoch behind or closed, not a bare standby, bound to another). */
  promisesRefused: number;
  /** Stretches where an agent's acting window was extended by a peer lease beyond its control-plane lease. */
  peerLeaseIntervals: number;
  /** Actions taken under a peer lease alone (the control-plane lease had run out). */
  peerActions: number;
  /** Grants and promote commands a standby refused because a promise bound it. */
  boundRefusals: number;
  /** Detector rounds that found the active silent but confirmed alive by a standby's promise. */
  peerConfirmations: number;
  /** Epochs standbys closed on a `revoked` reply. */
  epochsClosed: number;
  /** Control-plane outages: every instance down, or every node cut off from it. */
  cpOutages: number;
  /** Outages longer than three leases. */
  longCpOutages: number;
  /** Partitions of the peer network (one pair, one way or both). */
  peerPartitions: number;
  /** Crashes aimed at a standby bound by a promise. */
  boundCrashes: number;
  /** Promises lost in a crash (only under the broken rule promise-not-persisted). */
  promisesForgotten: number;
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
    promisesGranted: 0,
    promisesRefused: 0,
    peerLeaseIntervals: 0,
    peerActions: 0,
    boundRefusals: 0,
    peerConfirmations: 0,
    epochsClosed: 0,
    cpOutages: 0,
    longCpOutages: 0,
    peerPartitions: 0,
    boundCrashes: 0,
    promisesForgotten: 0,
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
  /** The peer network's own stream (so the other streams draw as they did before peer promises). */
  readonly peerNetRng: Prng;
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
  /** Each node's latest promise report (the heartbeat table's row), for the detector's peerConfirmation. */
  readonly promiseReports = new Map<string, PromiseReport>();
  private readonly cuts = new Map<string, Cut>();
  /** Peer links cut, per direction `from>to`, until a time (independent of the control-plane links). */
  private readonly peerCuts = new Map<string, number>();
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
    this.peerNetRng = rng.fork(5);
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

  /** Cuts the peer link from `a` to `b` (and back if `both`) for `ms`. */
  partitionPeers(a: string, b: string, both: boolean, ms: number): void {
    for (const key of both ? [`${a}>${b}`, `${b}>${a}`] : [`${a}>${b}`])
      this.peerCuts.set(key, Math.max(this.peerCuts.get(key) ?? 0, this.now + ms));
  }

  private isCut(node: string, up: boolean, at: number): boolean {
    const cut = this.cuts.get(node);
    if (!cut) return false;
    return at < (up ? cut.upUntil : cut.downUntil);
  }

  private delay(n: Scenario['network'] = this.scenario.network, rng: Prng = this.netRng): number {
    if (n.longDelayP > 0 && rng.chance(n.longDelayP)) {
      this.stats.messagesLongDelayed++;
      return rng.range(n.baseDelayMs, n.longDelayMaxMs);
    }
    return n.baseDelayMs + rng.exp(n.jitterMeanMs);
  }

  /**
   * Sends over a lossy, duplicating, reordering network: a message is lost when its link is cut when it is sent or
   * when it would arrive; each copy gets its own delay.
   */
  private transmit(node: string, up: boolean, deliver: () => void): void {
    this.send((t) => this.isCut(node, up, t), this.scenario.network, this.netRng, deliver);
  }

  private send(cut: (t: number) => boolean, n: Scenario['network'], rng: Prng, deliver: () => void): void {
    if (cut(this.now)) {
      this.stats.messagesLost++;
      return;
    }
    if (n.lossP > 0 && rng.chance(n.lossP)) {
      this.stats.messagesLost++;
      return;
    }
    let copies = 1;
    if (n.dupP > 0 && rng.chance(n.dupP)) {
      copies = 2;
      this.stats.messagesDuplicated++;
    }
    for (let i = 0; i < copies; i++) {
      const at = this.now + this.delay(n, rng);
      this.sched.at(at, () => {
        if (cut(this.now)) {
          this.stats.messagesLost++;
          return;
        }
        deliver();
      });
    }
  }

  /** Agent to agent over the peer network: its own delays, loss, duplication and partitions. */
  toPeer(message: PeerMessage): void {
    this.recorder.detail(this.now, message.from, () => `→ ${message.to} ${JSON.stringify(message)}`);
    const key = `${message.from}>${message.to}`;
    this.send(
      (t) => t < (this.peerCuts.get(key) ?? 0),
      this.scenario.peerNetwork,
      this.peerNetRng,
      () => this.agents.get(message.to)?.receivePeer(message),
    );
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
