import type { ClusterState } from '../shared/domain/clusterState';
import {
  arbitrate,
  detectFailure,
  failoverAllowed,
  type ArbitrationCandidate,
  type HealthCheck,
} from '../shared/domain/decisions';
import type { Prng } from './prng';
import type { CommitKind, Versioned } from './store';
import type { UpMessage, World } from './world';

type Trigger = 'detector' | 'webhook' | 'make-active' | 'arbitration' | 'resume';
type Fencing = 'none' | 'demote' | 'power-off';

/** One failover (or make-active) as an orchestration runs it, bound to the epoch it set out to end. */
interface FailoverOp {
  id: number;
  trigger: Trigger;
  epoch: number;
  oldActive: string | null;
  target: string | null;
  fencing: Fencing;
  fencingStarted: boolean;
  evidence: string | null;
  /** Invalidates a pending retry timer when something else wakes the op. */
  wake: number;
  done: boolean;
}

/**
 * One control-plane instance: the heartbeat handler (grantLease + If-Match; reaffirm first when the active says it
 * demoted itself under the current epoch), the failure detector (detectFailure on the heartbeat table), failover
 * orchestrations (revoke, fence, wait for mayPromote, promote: each write If-Match) and arbitration (arbitrate →
 * reaffirm or failover). Several instances share the store and race; a crash loses an instance's memory (its running
 * operation), never the store. Times are the control plane's clock.
 */
export class ControllerInstance {
  alive = true;
  private generation = 0;
  private paused = false;
  private pending: (() => void)[] = [];
  private op: FailoverOp | null = null;
  private arbitration: Map<string, ArbitrationCandidate> | null = null;

  constructor(
    readonly index: number,
    private readonly world: World,
    private readonly rng: Prng,
    private readonly skewMs: number,
  ) {}

  private get name(): string {
    return `cp${this.index}`;
  }

  /** The control plane's clock as this instance reads it. */
  private get now(): number {
    return this.world.controllerClock.localAt(this.world.now) + this.skewMs;
  }

  private realAt(controllerTime: number): number {
    return this.world.controllerClock.realAt(controllerTime - this.skewMs);
  }

  private guarded(fn: () => void): () => void {
    const generation = this.generation;
    return () => {
      if (!this.alive || generation !== this.generation) return;
      if (this.paused) this.pending.push(fn);
      else fn();
    };
  }

  private afterLocal(ms: number, fn: () => void): void {
    this.world.sched.at(this.realAt(this.now + ms), this.guarded(fn));
  }

  start(): void {
    this.afterLocal(this.rng.range(0, this.world.scenario.detection.heartbeatIntervalMs), () =>
      this.detectorTick(),
    );
  }

  // ---- store access ----

  private read(then: (v: Versioned) => void, retry: () => void): void {
    this.world.storeCall(
      () => this.world.store.read(),
      this.guardedReply((v) => (v ? then(v) : retry())),
    );
  }

  /** If-Match write; `then(version)` on success, `then(null)` on 412 or a lost reply (outcome unknown). */
  private write(
    etag: number,
    next: ClusterState,
    kind: CommitKind,
    by: string,
    then: (v: number | null) => void,
  ): void {
    const w = this.world;
    w.storeCall(
      () => {
        const version = w.store.compareAndSet(etag, next, kind, by, w.now);
        if (version === null) w.stats.casConflicts++;
        else this.noteCommit(kind, by, next, version);
        return version;
      },
      this.guardedReply((v) => then(v ?? null)),
    );
  }

  private guardedReply<T>(fn: (v: T | undefined) => void): (v: T | undefined) => void {
    const generation = this.generation;
    return (v) => this.guardedAt(generation, () => fn(v));
  }

  private guardedAt(generation: number, fn: () => void): void {
    if (!this.alive || generation !== this.generation) return;
    if (this.paused) this.pending.push(fn);
    else fn();
  }

  private noteCommit(kind: CommitKind, by: string, s: ClusterState, version: number): void {
    const w = this.world;
    if (kind === 'grant' || kind === 'reaffirm-grant') w.stats.grants++;
    if (kind === 'reaffirm-grant') w.stats.selfDemotionReaffirms++;
    if (kind === 'grant') {
      w.recorder.detail(
        w.now,
        'store',
        () => `v${version} grant ${by} e${s.epoch} until ${s.leaseExpiresAt}`,
      );
      return;
    }
    w.recorder.note(
      w.now,
      'store',
      `v${version} ${kind} by ${by}: e${s.epoch} active=${s.activeNodeId} revoked=${s.revoked} fenced=${s.fenced} ` +
        `leaseExpiresAt=${s.leaseExpiresAt === null ? 'null' : s.leaseExpiresAt.toFixed(1)}`,
    );
  }

  runsOp(opId: number): boolean {
    return this.alive && this.op !== null && this.op.id === opId;
  }

  runsAnyOp(): boolean {
    return this.alive && this.op !== null;
  }

  // ---- messages ----

  receive(message: UpMessage): void {
    this.guarded(() => this.handle(message))();
  }

  private handle(message: UpMessage): void {
    switch (message.type) {
      case 'heartbeat':
        this.heartbeat(message);
        return;
      case 'arbitrate':
        this.arbitrationRequest(message.node, message.checks);
        return;
      case 'demote-ack': {
        const op = this.op;
        if (!op || op.done) return;
        const matches = message.opId === op.id && message.epoch === op.epoch && message.node === op.oldActive;
        if (matches || !this.world.rules.controller.fenceEvidenceChecked)
          this.evidence(op, `${message.node} acknowledged demotion from e${message.epoch}`);
        return;
      }
    }
  }

  private heartbeat(m: Extract<UpMessage, { type: 'heartbeat' }>): void {
    const w = this.world;
    const now = this.now;
    w.heartbeats.set(m.node, now);
    const leaseMs = w.scenario.detection.leaseMs;
    const attempt = (n: number) =>
      this.read(
        (v) => {
          const s = v.state;
          // As heartbeatService#asActive: the active (unrevoked) demoted itself under the current epoch and refuses
          // grants under it, so it is kept active under a new epoch (reaffirm: the same node, so no other node's lease
          // is involved) and granted under that, in the same If-Match write.
          const reaffirming =
            s.activeNodeId === m.node &&
            !s.revoked &&
            m.demotedAtEpoch !== undefined &&
            m.demotedAtEpoch >= s.epoch &&
            m.epoch <= s.epoch;
          const base = reaffirming
            ? w.rules.reaffirm(s, now, `${m.node} demoted itself under epoch ${s.epoch}; active again`)
            : s;
          const decision = w.rules.grantLease(base, m.node, m.epoch, now, leaseMs);
          const answer = (granted: boolean, epoch: number, grantId: number, reason: string) =>
            w.toAgent(m.node, {
              type: 'heartbeat-response',
              incarnation: m.incarnation,
              seq: m.seq,
              granted,
              epoch,
              leaseMs,
              grantId,
              reason,
            });
          if (!decision.granted) {
            answer(false, v.state.epoch, 0, decision.reason);
            return;
          }
          const kind = reaffirming ? 'reaffirm-grant' : 'grant';
          this.write(v.etag, decision.state, kind, m.node, (version) => {
            if (version !== null) answer(true, decision.state.epoch, version, 'granted');
            else if (n < 2) attempt(n + 1);
            // else: no answer (a 503); the agent's lease simply runs out
          });
        },
        () => undefined,
      );
    attempt(0);
  }

  // ---- failure detector ----

  private detectorTick(): void {
    const w = this.world;
    this.afterLocal(w.scenario.detection.heartbeatIntervalMs, () => this.detectorTick());
    if (this.op) return;
    this.read(
      (v) => {
        if (this.op) return;
        const s = v.state;
        if (s.revoked) {
          this.startOp('resume', s, null, this.rng.pick<Fencing>(['none', 'demote', 'power-off']));
          return;
        }
        if (s.activeNodeId === null) return;
        const now = this.now;
        const last = w.heartbeats.get(s.activeNodeId);
        if (!detectFailure(last, now, w.scenario.detection).failed) return;
        if (
          w.scenario.flappingGuard &&
          !failoverAllowed(w.failoverHistory, now, w.scenario.document.failover).allowed
        ) {
          w.stats.flappingGuardBlocks++;
          return;
        }
        this.startOp('detector', s, null, this.rng.pick<Fencing>(['none', 'demote', 'power-off']));
      },
      () => undefined,
    );
  }

  // ---- external triggers ----

  /** A webhook (alert) or an operator: starts a failover of the current active, or a make-active to `target`. */
  trigger(kind: 'webhook' | 'make-active', target: string | null): void {
    this.guarded(() =>
      this.read(
        (v) => {
          if (this.op) return;
          if (kind === 'make-active' && (target === null || target === v.state.activeNodeId)) return;
          const fencing: Fencing =
            kind === 'make-active' ? 'demote' : this.rng.pick(['none', 'demote', 'power-off']);
          this.startOp(kind, v.state, target, fencing);
        },
        () => undefined,
      ),
    )();
  }

  private arbitrationRequest(node: string, checks: HealthCheck[]): void {
    const w = this.world;
    const candidate: ArbitrationCandidate = {
      nodeId: node,
      priority: w.scenario.priorities[node] ?? 100,
      checks,
    };
    if (this.arbitration) {
      this.arbitration.set(node, candidate);
      return;
    }
    this.arbitration = new Map([[node, candidate]]);
    w.stats.arbitrations++;
    this.afterLocal(w.scenario.witness.arbitrationWindowMs, () => this.decideArbitration());
  }

  private decideArbitration(): void {
    const w = this.world;
    const candidates = [...(this.arbitration?.values() ?? [])];
    this.arbitration = null;
    if (candidates.length === 0) return;
    this.read(
      (v) => {
        const s = v.state;
        if (s.revoked || s.activeNodeId === null) return; // a failover is already under way
        const { winner } = arbitrate(candidates, s.activeNodeId);
        if (winner !== s.activeNodeId) {
          if (!this.op) this.startOp('arbitration', s, winner, 'demote');
          return;
        }
        const holder = `${this.name}/arbitration`;
        if (w.scenario.witness.enabled && !w.witness.hold(holder, w.now, w.scenario.witness.leaseMs)) {
          w.stats.witnessBusy++;
          return;
        }
        const next = w.rules.reaffirm(s, this.now, `arbitration won by the active ${winner}`);
        this.write(v.etag, next, 'reaffirm', this.name, (version) => {
          if (version !== null) {
            w.stats.reaffirms++;
            w.witness.votes.push({ t: w.now, epoch: next.epoch, active: winner, by: this.name });
          }
          w.witness.release(holder);
        });
      },
      () => undefined,
    );
  }

  // ---- the failover orchestration ----

  private startOp(trigger: Trigger, s: ClusterState, target: string | null, fencing: Fencing): void {
    if (this.op) return;
    const w = this.world;
    const op: FailoverOp = {
      id: w.newOpId(),
      trigger,
      epoch: s.epoch,
      oldActive: s.activeNodeId,
      target,
      fencing,
      fencingStarted: false,
      evidence: null,
      wake: 0,
      done: false,
    };
    this.op = op;
    w.stats.failoverOps++;
    w.stats.opsByTrigger[trigger] = (w.stats.opsByTrigger[trigger] ?? 0) + 1;
    w.recorder.note(
      w.now,
      this.name,
      `op${op.id} ${trigger}: fail over e${op.epoch} from ${op.oldActive} to ${target ?? '(best)'}, fencing ${fencing}`,
    );
    this.step(op);
  }

  private get holderName(): string {
    return `${this.name}/op${this.op?.id ?? 0}`;
  }

  /** Takes or renews the witness lease; false when another decider holds it. */
  private holdWitness(): boolean {
    const w = this.world;
    if (!w.scenario.witness.enabled) return true;
    return w.witness.hold(this.holderName, w.now, w.scenario.witness.leaseMs);
  }

  private finish(op: FailoverOp, outcome: string): void {
    if (op.done) return;
    op.done = true;
    const w = this.world;
    w.witness.release(this.holderName);
    if (this.op === op) this.op = null;
    w.recorder.note(w.now, this.name, `op${op.id} ends: ${outcome}`);
  }

  private retryLater(op: FailoverOp, ms: number): void {
    const wake = ++op.wake;
    this.afterLocal(ms, () => {
      if (!op.done && op.wake === wake) this.step(op);
    });
  }

  private step(op: FailoverOp): void {
    if (op.done) return;
    this.read(
      (v) => this.decide(op, v),
      () => this.retryLater(op, 50),
    );
  }

  private decide(op: FailoverOp, v: Versioned): void {
    if (op.done) return;
    const w = this.world;
    const s = v.state;
    const now = this.now;
    const margin = w.scenario.detection.driftMarginMs;
    if (s.epoch !== op.epoch) return this.finish(op, `superseded: the state is at e${s.epoch}`);
    if (!this.holdWitness()) {
      w.stats.witnessBusy++;
      return this.retryLater(op, this.rng.range(200, 1000));
    }
    if (!s.revoked) {
      if (op.target !== null && op.target === s.activeNodeId)
        return this.finish(op, 'the target is already active');
      const next = w.rules.revoke(s, now, `${op.trigger} (op${op.id})`);
      this.write(v.etag, next, 'revoke', this.name, (version) => {
        if (version !== null) {
          w.stats.revokes++;
          this.startFencing(op);
          this.step(op);
        } else this.retryLater(op, this.rng.range(1, 30));
      });
      return;
    }
    if (!op.fencingStarted) this.startFencing(op);
    if (op.evidence !== null && !s.fenced && s.activeNodeId !== null) {
      const next = w.rules.confirmFenced(s, now, op.evidence);
      this.write(v.etag, next, 'fence', this.name, (version) => {
        if (version !== null) w.stats.fencesConfirmed++;
        this.step(op);
      });
      return;
    }
    const decision = w.rules.mayPromote(s, now, margin);
    if (!decision.allowed) {
      const at = decision.retryAt ?? now + 100;
      return this.retryLater(op, Math.max(at - now, 0.001));
    }
    const target = op.target ?? this.chooseTarget(s, now);
    if (target === null) return this.finish(op, 'no candidate to promote');
    const next = w.rules.promote(s, target, now, margin, `${op.trigger} (op${op.id})`);
    this.write(v.etag, next, 'promote', this.name, (version) => {
      if (version === null) return this.retryLater(op, this.rng.range(1, 30));
      w.stats.promotions++;
      w.failoverHistory.push(now);
      w.toAgent(target, { type: 'promoted', epoch: next.epoch });
      w.witness.votes.push({ t: w.now, epoch: next.epoch, active: target, by: this.name });
      this.finish(op, `promoted ${target} under e${next.epoch}`);
    });
  }

  /** The healthiest other node by heartbeat age (arbitrate), ties by priority then id. */
  private chooseTarget(s: ClusterState, now: number): string | null {
    const w = this.world;
    const d = w.scenario.detection;
    const candidates: ArbitrationCandidate[] = w.scenario.nodes
      .filter((n) => n !== s.activeNodeId)
      .map((nodeId) => {
        const age = now - (w.heartbeats.get(nodeId) ?? Number.NEGATIVE_INFINITY);
        const status =
          age < 2 * d.heartbeatIntervalMs
            ? 'ok'
            : age < d.missedHeartbeats * d.heartbeatIntervalMs
              ? 'warn'
              : 'fail';
        return {
          nodeId,
          priority: w.scenario.priorities[nodeId] ?? 100,
          checks: [{ name: 'heartbeat', status }],
        };
      });
    return candidates.length === 0 ? null : arbitrate(candidates, null).winner;
  }

  private evidence(op: FailoverOp, evidence: string): void {
    if (op.done || op.evidence !== null) return;
    op.evidence = evidence;
    op.wake++;
    this.world.recorder.note(this.world.now, this.name, `op${op.id} fencing evidence: ${evidence}`);
    this.step(op);
  }

  /** Demote the old active (resent until acknowledged) or power it off and poll until the cloud shows it stopped. */
  private startFencing(op: FailoverOp): void {
    if (op.fencingStarted) return;
    op.fencingStarted = true;
    const w = this.world;
    const node = op.oldActive;
    if (node === null || op.fencing === 'none') return;
    if (op.fencing === 'demote') {
      const send = () => {
        if (op.done || op.evidence !== null) return;
        w.toAgent(node, { type: 'demote', epoch: op.epoch, opId: op.id, instance: this.index });
        this.afterLocal(this.rng.range(300, 700), send);
      };
      send();
      return;
    }
    const agent = w.agents.get(node);
    if (!agent) return;
    w.cloudCall(
      () => {
        if (agent.alive) {
          w.stats.powerOffs++;
          agent.crash(w.faultRng.range(1000, 10_000), `powered off by ${this.name} op${op.id}`);
        }
      },
      () => undefined,
    );
    const poll = () => {
      if (op.done || op.evidence !== null) return;
      const generation = this.generation;
      w.cloudCall(
        () => agent.alive,
        (running) =>
          this.guardedAt(generation, () => {
            if (!running) this.evidence(op, `the cloud shows ${node} stopped`);
            else this.afterLocal(this.rng.range(200, 800), poll);
          }),
      );
    };
    this.afterLocal(this.rng.range(50, 300), poll);
  }

  // ---- faults ----

  crash(downMs: number): void {
    if (!this.alive) return;
    const w = this.world;
    this.alive = false;
    this.generation++;
    this.paused = false;
    this.pending = [];
    this.op = null;
    this.arbitration = null;
    w.recorder.note(w.now, this.name, `crashes; restarts in ${downMs.toFixed(0)} ms`);
    w.sched.after(downMs, () => {
      this.alive = true;
      w.recorder.note(w.now, this.name, 'restarts');
      this.start();
    });
  }

  pause(ms: number): void {
    if (!this.alive || this.paused) return;
    const w = this.world;
    this.paused = true;
    const generation = this.generation;
    w.recorder.note(w.now, this.name, `pauses for ${ms.toFixed(0)} ms`);
    w.sched.after(ms, () => {
      if (!this.alive || generation !== this.generation || !this.paused) return;
      this.paused = false;
      const pending = this.pending;
      this.pending = [];
      for (const fn of pending) {
        if (this.paused || generation !== this.generation) break;
        fn();
      }
    });
  }
}
