import type { HealthCheck } from '../shared/domain/decisions';
import {
  bindingPromise,
  decidePromise,
  mayAcceptPromotion,
  withPromise,
  type HeldPromise,
  type PeerPromise,
} from '../shared/domain/peerPromises';
import { DriftingClock } from './clock';
import { mix32, Prng } from './prng';
import type { DownMessage, PeerMessage, World } from './world';

/** A promise the active holds, with the true send time of its request (the checker's; the rule may time it otherwise). */
interface Held extends HeldPromise {
  trueSentAt: number;
}

interface Lease {
  grantId: number;
  epoch: number;
  /** Where the agent times its lease from (the send time of the granted request, unless a broken rule says otherwise). */
  startLocal: number;
  /** The true send time of the granted request, for the checker. */
  sentLocal: number;
  leaseMs: number;
}

/**
 * A node agent. Heartbeats every heartbeatIntervalMs of its own clock; holds the active role only while the lease of
 * its latest granted heartbeat, timed from that heartbeat's send time on its monotonic clock, has not run out;
 * persists the highest epoch it has seen (and the highest epoch it demoted itself under) across crashes; acts as
 * active at random moments, checking its lease at the same instant (check and act are atomic); drops the lease the
 * moment the check fails or its lease timer fires (self-fencing). A paused agent processes nothing until it resumes.
 *
 * Like the product's agent (agent/agent.ts), it demotes itself under the epoch of its lease when the lease lapses,
 * when it crashes while active (the restarted process demotes before its first heartbeat), when it drops the lease on
 * a refusal, and when it acknowledges a demotion command; from then on it takes no grant under that epoch or an older
 * one, and while that epoch is still the highest it has seen its heartbeats carry `demotedAtEpoch`, so a control
 * plane that still wants it active raises the epoch (reaffirm) instead of repeating a grant it would refuse.
 */
export class Agent {
  readonly clock: DriftingClock;
  alive = true;
  private incarnation = 0;
  private paused = false;
  private pending: (() => void)[] = [];
  /** Persisted. */
  private highestEpoch: number;
  /**
   * Persisted: the highest epoch the agent demoted itself under (lease lapse, crash while active, refusal) or
   * acknowledged a demotion from; it takes no grant under it (or older) any more.
   */
  private demotedEpoch = 0;
  private lease: Lease | null = null;
  private seq = 0;
  private readonly outstanding = new Map<number, number>();
  private acting = false;
  /** Its own stream, so replication draws leave the agent's other draws (and the schedules) as they were. */
  private readonly replicationRng: Prng;
  /** Persisted (unless the broken rule promise-not-persisted): the promises it gave, ends on its own clock. */
  private promises: PeerPromise[] = [];
  /** Persisted: the highest epoch the control plane told it was revoked (it promises nothing under it). */
  private closedEpoch = 0;
  /** In memory: the promotable set of the latest grant (`peers` of the reply). */
  private peers: { epoch: number; nodes: string[] } | null = null;
  /** In memory: the promises it holds as the active. */
  private held: Held[] = [];
  /** Whether its latest heartbeat got an answer (a failed one makes it ask its peers at the next interval). */
  private lastAnswered = true;
  private lastPeriodicSeq = 0;
  /** The promise requests outstanding: request id → send time on its clock. */
  private readonly asked = new Map<number, number>();
  private nextReqId = 1;
  /** The real end of the lease segment open now (control-plane lease or peer lease, whichever ends later). */
  private segmentEnd = Number.NEGATIVE_INFINITY;

  constructor(
    readonly id: string,
    private readonly world: World,
    private readonly rng: Prng,
    initialEpoch: number,
  ) {
    const c = world.scenario.agentClocks[id];
    if (!c) throw new Error(`no clock for ${id}`);
    this.clock = new DriftingClock(c.drift, c.offset);
    this.highestEpoch = initialEpoch;
    let h = world.scenario.seed >>> 0;
    for (let i = 0; i < id.length; i++) h = mix32((h ^ id.charCodeAt(i)) >>> 0);
    this.replicationRng = new Prng(mix32((h ^ 0x7e9_1a9) >>> 0));
  }

  /** A standby's replication lag for this heartbeat (none without replication, or while it holds the lease). */
  private replicationLag(): number | undefined {
    const replication = this.world.scenario.replication;
    if (!replication || this.lease) return undefined;
    const rpo = this.world.scenario.document.failover.rpoObjectiveMs;
    const behind = this.replicationRng.chance(replication.behindP);
    return Math.round(this.replicationRng.range(0, behind ? 3 * rpo : rpo / 2));
  }

  get holdsLease(): boolean {
    return this.lease !== null;
  }

  /** Whether a live promise binds it now. */
  get isBound(): boolean {
    return this.alive && bindingPromise(this.promises, this.localNow) !== undefined;
  }

  start(): void {
    this.scheduleHeartbeat(this.rng.range(0, this.world.scenario.detection.heartbeatIntervalMs));
  }

  private get localNow(): number {
    return this.clock.localAt(this.world.now);
  }

  /** Runs `fn` only in this incarnation, after any pause. */
  private guarded(fn: () => void): () => void {
    const incarnation = this.incarnation;
    return () => {
      if (!this.alive || incarnation !== this.incarnation) return;
      if (this.paused) this.pending.push(fn);
      else fn();
    };
  }

  /** A timer on the agent's own clock. */
  private afterLocal(ms: number, fn: () => void): void {
    this.world.sched.at(this.clock.realAt(this.localNow + ms), this.guarded(fn));
  }

  private scheduleHeartbeat(ms: number): void {
    this.afterLocal(ms, () => this.heartbeat());
  }

  private heartbeat(periodic = true): void {
    if (periodic && !this.lastAnswered) this.askPeers();
    const seq = ++this.seq;
    this.outstanding.set(seq, this.localNow);
    this.outstanding.delete(seq - 256);
    if (periodic) {
      this.lastAnswered = false;
      this.lastPeriodicSeq = seq;
    }
    const replicationLagMs = this.replicationLag();
    const binding = bindingPromise(this.promises, this.localNow);
    const peer = {
      ...(binding
        ? {
            promise: {
              to: binding.to,
              epoch: binding.epoch,
              remainingMs: Math.ceil(binding.until - this.localNow),
            },
          }
        : {}),
      ...(this.closedEpoch > 0 ? { closedEpoch: this.closedEpoch } : {}),
    };
    this.world.toControlPlane({
      type: 'heartbeat',
      node: this.id,
      incarnation: this.incarnation,
      seq,
      epoch: this.highestEpoch,
      // as the product's agent: only while the epoch it demoted under is still the highest it has seen
      ...(this.demotedEpoch > 0 && this.demotedEpoch >= this.highestEpoch
        ? { demotedAtEpoch: this.demotedEpoch }
        : {}),
      ...(replicationLagMs === undefined ? {} : { replicationLagMs }),
      ...(this.world.scenario.peerLeases && (peer.promise || peer.closedEpoch) ? { peer } : {}),
    });
    if (periodic) this.scheduleHeartbeat(this.world.scenario.detection.heartbeatIntervalMs);
  }

  receive(message: DownMessage): void {
    if (message.type === 'heartbeat-response' && message.incarnation !== this.incarnation) return; // a dead process's
    this.guarded(() => this.handle(message))();
  }

  private handle(message: DownMessage): void {
    const w = this.world;
    if (message.type === 'demote') {
      if (message.epoch < this.highestEpoch) return; // a command under an older epoch is refused
      this.highestEpoch = message.epoch;
      this.demotedEpoch = Math.max(this.demotedEpoch, message.epoch);
      if (this.lease && this.lease.epoch <= message.epoch) this.drop('demoted');
      w.stats.demotesAcked++;
      w.toControlPlane({
        type: 'demote-ack',
        node: this.id,
        epoch: message.epoch,
        opId: message.opId,
        instance: message.instance,
      });
      return;
    }
    if (message.type === 'promoted') {
      if (message.epoch >= this.highestEpoch && !this.refusesWhileBound('promote command', message.epoch))
        this.heartbeat(false);
      return;
    }
    const sentLocal = this.outstanding.get(message.seq);
    if (sentLocal === undefined) return;
    if (message.seq >= this.lastPeriodicSeq) this.lastAnswered = true;
    const previousHighest = this.highestEpoch;
    this.highestEpoch = Math.max(this.highestEpoch, message.epoch);
    if (message.revoked && message.epoch > this.closedEpoch) {
      this.closedEpoch = message.epoch; // persisted
      w.stats.epochsClosed++;
    }
    if (!message.granted) {
      const refused = message.reason === 'not-active' || message.reason === 'revoked';
      if (refused && w.scenario.dropsLeaseOnRefusal && this.lease && message.epoch >= this.lease.epoch) {
        // the product's agent, answered standby while active, demotes under max(answer's epoch, its role's epoch)
        this.demoteSelf(message.epoch, `refused (${message.reason})`);
        this.drop(`refused (${message.reason})`);
      }
      return;
    }
    if (
      w.rules.agent.refusesStaleGrants &&
      (message.epoch < previousHighest || message.epoch <= this.demotedEpoch)
    ) {
      w.stats.staleGrantsRefused++;
      w.recorder.note(w.now, this.id, `refuses stale grant v${message.grantId} e${message.epoch}`);
      return;
    }
    if (this.refusesWhileBound('grant', message.epoch)) return;
    const startLocal = w.rules.agent.leaseFromSendTime ? sentLocal : this.localNow;
    const current = this.lease;
    if (
      current &&
      (message.epoch < current.epoch || (message.epoch === current.epoch && startLocal <= current.startLocal))
    )
      return; // not newer than the lease held
    const lease: Lease = {
      grantId: message.grantId,
      epoch: message.epoch,
      startLocal,
      sentLocal,
      leaseMs: message.leaseMs,
    };
    this.lease = lease;
    if (message.peers) this.peers = { epoch: message.peers.epoch, nodes: [...message.peers.nodes] };
    if (!current || current.epoch !== message.epoch) this.held = [];
    const endLocal = w.rules.agentLeaseEndsAt(startLocal, message.leaseMs);
    const cpEnd = Number.isFinite(endLocal) ? this.clock.realAt(endLocal) : Number.POSITIVE_INFINITY;
    const peerEnd = this.peerLeaseEndLocal();
    const end = peerEnd === null ? cpEnd : Math.max(cpEnd, this.clock.realAt(peerEnd));
    this.segmentEnd = end;
    w.recorder.openSegment(this.id, message.grantId, message.epoch, w.now, end, cpEnd);
    // the lease timer: the product's agent self-fences when its lease ends, whether or not it is acting then
    if (Number.isFinite(end))
      w.sched.at(
        Math.max(end, w.now),
        this.guarded(() => this.leaseTimer(lease)),
      );
    if (!current || current.epoch !== message.epoch)
      w.recorder.note(
        w.now,
        this.id,
        `holds lease v${message.grantId} e${message.epoch} until ${end.toFixed(1)}`,
      );
    if (!this.acting) {
      this.acting = true;
      this.scheduleAct();
    }
  }

  private scheduleAct(): void {
    const s = this.world.scenario;
    this.world.sched.after(
      this.rng.range(s.actMinMs, s.actMaxMs),
      this.guarded(() => this.act()),
    );
  }

  /** Check and act, atomically: one event. */
  private act(): void {
    const lease = this.lease;
    if (!lease) {
      this.acting = false;
      return;
    }
    const w = this.world;
    const local = this.localNow;
    const cp = w.rules.agentHoldsLease(lease.startLocal, lease.leaseMs, local);
    const peerEnd = cp ? null : this.peerLeaseEndLocal();
    if (cp || (peerEnd !== null && local < peerEnd)) {
      w.stats.actions++;
      if (!cp) w.stats.peerActions++;
      w.recorder.action({
        t: w.now,
        node: this.id,
        epoch: lease.epoch,
        grantId: lease.grantId,
        local,
        grantSentLocal: lease.sentLocal,
        leaseMs: lease.leaseMs,
        ...(cp
          ? {}
          : {
              peer: {
                promotable: [...(this.peers?.nodes ?? [])],
                held: this.held.map((h) => ({
                  from: h.from,
                  epoch: h.epoch,
                  sentAt: h.trueSentAt,
                  durationMs: h.durationMs,
                })),
              },
            }),
      });
      this.scheduleAct();
    } else {
      this.lapse(lease);
      this.acting = false;
    }
  }

  /** Fires at the real instant the lease's own check turns false (re-armed if the lease was renewed meanwhile). */
  private leaseTimer(lease: Lease): void {
    if (this.lease !== lease) return; // renewed (the new lease has its own timer) or already dropped
    const local = this.localNow;
    const peerEnd = this.peerLeaseEndLocal();
    if (
      this.world.rules.agentHoldsLease(lease.startLocal, lease.leaseMs, local) ||
      (peerEnd !== null && local < peerEnd)
    ) {
      // rounding between the two clocks, or a peer lease renewed meanwhile: look again at its end
      const at = peerEnd !== null && local < peerEnd ? this.clock.realAt(peerEnd) : this.world.now;
      this.world.sched.at(
        Math.max(at, this.world.now + 0.001),
        this.guarded(() => this.leaseTimer(lease)),
      );
      return;
    }
    this.lapse(lease);
  }

  /** The lease ran out while the agent was active: it fences itself and demotes itself under the lease's epoch. */
  private lapse(lease: Lease): void {
    this.world.stats.selfFences++;
    this.demoteSelf(lease.epoch, 'lease ran out');
    this.drop('lease ran out');
  }

  /** Takes no grant under `epoch` (or older) any more; persisted. */
  private demoteSelf(epoch: number, why: string): void {
    if (epoch <= this.demotedEpoch) return;
    const w = this.world;
    this.demotedEpoch = epoch;
    w.stats.selfDemotions++;
    w.recorder.note(w.now, this.id, `demotes itself under e${epoch}: ${why}`);
  }

  private drop(why: string): void {
    if (!this.lease) return;
    const w = this.world;
    w.recorder.closeSegment(this.id, w.now, why);
    w.recorder.note(w.now, this.id, `drops lease e${this.lease.epoch}: ${why}`);
    this.lease = null;
    this.held = [];
    this.asked.clear();
    this.segmentEnd = Number.NEGATIVE_INFINITY;
  }

  // ---- peer promises (shared/domain/peerPromises.ts) ----

  /** The end of its peer lease on its clock: promises under its lease's epoch from every node of the set. */
  private peerLeaseEndLocal(): number | null {
    const lease = this.lease;
    const peers = this.peers;
    if (!lease || !peers || peers.epoch !== lease.epoch) return null;
    return this.world.rules.peerLeaseEndsAt(peers.nodes, lease.epoch, this.held);
  }

  /** The active, its last heartbeat unanswered: asks every promotable peer for a promise of its lease's length. */
  private askPeers(): void {
    const lease = this.lease;
    const peers = this.peers;
    const w = this.world;
    if (!w.scenario.peerLeases || !lease || !peers || peers.epoch !== lease.epoch) return;
    for (const to of peers.nodes) {
      const reqId = this.nextReqId++;
      this.asked.set(reqId, this.localNow);
      this.asked.delete(reqId - 64);
      w.toPeer({
        type: 'promise-request',
        from: this.id,
        to,
        epoch: lease.epoch,
        durationMs: w.scenario.detection.leaseMs,
        incarnation: this.incarnation,
        reqId,
      });
    }
  }

  receivePeer(message: PeerMessage): void {
    if (message.type === 'promise-answer' && message.incarnation !== this.incarnation) return;
    this.guarded(() =>
      message.type === 'promise-request' ? this.promiseRequest(message) : this.promiseAnswer(message),
    )();
  }

  /** Decides on receipt; a granted promise is recorded (and persisted) in the same step, then answered. */
  private promiseRequest(m: Extract<PeerMessage, { type: 'promise-request' }>): void {
    const w = this.world;
    const now = this.localNow;
    const decision = decidePromise(
      {
        nodeId: this.id,
        role: this.lease ? 'active' : 'standby',
        highestEpoch: this.highestEpoch,
        closedEpoch: this.closedEpoch,
        holdsLease: this.lease !== null,
        promises: this.promises,
      },
      { from: m.from, epoch: m.epoch, durationMs: m.durationMs },
      now,
    );
    const answer = (granted: boolean, code?: string) =>
      w.toPeer({
        type: 'promise-answer',
        from: this.id,
        to: m.from,
        granted,
        epoch: m.epoch,
        durationMs: m.durationMs,
        incarnation: m.incarnation,
        reqId: m.reqId,
        ...(code ? { code } : {}),
      });
    if (!decision.granted) {
      w.stats.promisesRefused++;
      answer(false, decision.code);
      return;
    }
    const bound = this.promises.length > 0 && bindingPromise(this.promises, now) !== undefined;
    this.promises = withPromise(this.promises, decision.promise, now);
    this.highestEpoch = Math.max(this.highestEpoch, m.epoch);
    w.stats.promisesGranted++;
    w.recorder.promise({
      node: this.id,
      to: decision.promise.to,
      epoch: decision.promise.epoch,
      start: w.now,
      end: this.clock.realAt(decision.promise.until),
      endedBy: 'its end',
    });
    if (!bound)
      w.recorder.note(
        w.now,
        this.id,
        `promises ${m.from} under e${m.epoch} until ${this.clock.realAt(decision.promise.until).toFixed(1)}`,
      );
    answer(true);
  }

  private promiseAnswer(m: Extract<PeerMessage, { type: 'promise-answer' }>): void {
    const w = this.world;
    const sentAt = this.asked.get(m.reqId);
    const lease = this.lease;
    if (!m.granted || sentAt === undefined || !lease || lease.epoch !== m.epoch) return;
    const held: Held = {
      from: m.from,
      epoch: m.epoch,
      sentAt: w.rules.peer.promiseFromSendTime ? sentAt : this.localNow,
      durationMs: m.durationMs,
      trueSentAt: sentAt,
    };
    // one per peer: the latest-ending
    const same = this.held.find((h) => h.from === m.from && h.epoch === m.epoch);
    if (same && same.sentAt + same.durationMs >= held.sentAt + held.durationMs) return;
    this.held = [...this.held.filter((h) => h !== same), held];
    const peerEnd = this.peerLeaseEndLocal();
    if (peerEnd === null) return;
    const end = this.clock.realAt(peerEnd);
    if (end <= this.segmentEnd || end <= w.now) return;
    const cpEndLocal = w.rules.agentLeaseEndsAt(lease.startLocal, lease.leaseMs);
    const cpEnd = Number.isFinite(cpEndLocal) ? this.clock.realAt(cpEndLocal) : Number.POSITIVE_INFINITY;
    if (this.segmentEnd <= cpEnd || this.segmentEnd < w.now) {
      w.stats.peerLeaseIntervals++;
      w.recorder.note(w.now, this.id, `holds a peer lease under e${lease.epoch} until ${end.toFixed(1)}`);
    }
    this.segmentEnd = end;
    w.recorder.openSegment(this.id, lease.grantId, lease.epoch, w.now, end, cpEnd);
  }

  /** A node bound by a promise accepts no promotion: no grant, no promote command (`mayAcceptPromotion`). */
  private refusesWhileBound(what: string, epoch: number): boolean {
    const may = mayAcceptPromotion(this.promises, this.localNow);
    if (may.allowed) return false;
    const w = this.world;
    if (!w.rules.peer.boundRefusesPromotion) return false;
    w.stats.boundRefusals++;
    w.recorder.note(w.now, this.id, `refuses ${what} under e${epoch}: ${may.reason}`);
    return true;
  }

  /** The two sides of a peer link lost: ask the control plane for the vote. */
  requestArbitration(): void {
    this.guarded(() => {
      const checks: HealthCheck[] = [
        { name: 'gpu', status: this.rng.chance(0.8) ? 'ok' : this.rng.chance(0.5) ? 'warn' : 'fail' },
      ];
      this.world.toControlPlane({ type: 'arbitrate', node: this.id, epoch: this.highestEpoch, checks });
    })();
  }

  crash(downMs: number, why: string): void {
    if (!this.alive) return;
    const w = this.world;
    // stopped while active: the restarted process demotes under that epoch before its first heartbeat
    if (this.lease) this.demoteSelf(this.lease.epoch, `${why} while active`);
    this.drop(why);
    this.alive = false;
    this.paused = false;
    this.pending = [];
    this.outstanding.clear();
    this.acting = false;
    this.peers = null;
    this.lastAnswered = true;
    if (!w.rules.peer.promisesPersisted && this.promises.length > 0) {
      w.stats.promisesForgotten += w.recorder.forgetPromises(this.id, w.now);
      this.promises = [];
    }
    w.recorder.note(w.now, this.id, `${why}; restarts in ${downMs.toFixed(0)} ms`);
    w.sched.after(downMs, () => this.restart());
  }

  private restart(): void {
    this.alive = true;
    this.incarnation++;
    this.world.recorder.note(this.world.now, this.id, `restarts as standby (epoch ${this.highestEpoch})`);
    this.scheduleHeartbeat(this.rng.range(0, 50));
  }

  /** A stop-the-world pause: the clock runs on, nothing is processed until it resumes. */
  pause(ms: number): void {
    if (!this.alive || this.paused) return;
    const w = this.world;
    this.paused = true;
    const incarnation = this.incarnation;
    w.recorder.note(w.now, this.id, `pauses for ${ms.toFixed(0)} ms`);
    w.sched.after(ms, () => {
      if (!this.alive || incarnation !== this.incarnation || !this.paused) return;
      this.paused = false;
      w.recorder.note(w.now, this.id, 'resumes');
      const pending = this.pending;
      this.pending = [];
      for (const fn of pending) {
        if (!this.alive || incarnation !== this.incarnation) break;
        if (this.paused) this.pending.push(fn);
        else fn();
      }
    });
  }
}
