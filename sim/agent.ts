import type { HealthCheck } from '../shared/domain/decisions';
import { DriftingClock } from './clock';
import { mix32, Prng } from './prng';
import type { DownMessage, World } from './world';

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
    const seq = ++this.seq;
    this.outstanding.set(seq, this.localNow);
    this.outstanding.delete(seq - 256);
    const replicationLagMs = this.replicationLag();
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
      if (message.epoch >= this.highestEpoch) this.heartbeat(false);
      return;
    }
    const sentLocal = this.outstanding.get(message.seq);
    if (sentLocal === undefined) return;
    const previousHighest = this.highestEpoch;
    this.highestEpoch = Math.max(this.highestEpoch, message.epoch);
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
    const endLocal = w.rules.agentLeaseEndsAt(startLocal, message.leaseMs);
    const end = Number.isFinite(endLocal) ? this.clock.realAt(endLocal) : Number.POSITIVE_INFINITY;
    w.recorder.openSegment(this.id, message.grantId, message.epoch, w.now, end);
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
    if (w.rules.agentHoldsLease(lease.startLocal, lease.leaseMs, local)) {
      w.stats.actions++;
      w.recorder.action({
        t: w.now,
        node: this.id,
        epoch: lease.epoch,
        grantId: lease.grantId,
        local,
        grantSentLocal: lease.sentLocal,
        leaseMs: lease.leaseMs,
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
    if (this.world.rules.agentHoldsLease(lease.startLocal, lease.leaseMs, this.localNow)) {
      // rounding between the two clocks: look again a microsecond later
      this.world.sched.after(
        0.001,
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
