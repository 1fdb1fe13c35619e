import type { ClusterState } from '../shared/domain/clusterState';
import {
  arbitrate,
  detectFailure,
  failoverAllowed,
  type ArbitrationCandidate,
  type HealthCheck,
} from '../shared/domain/decisions';
import {
  fencingConfirmedBy,
  nextFailoverStep,
  recordStep,
  type FailoverPlan,
  type FailoverProgress,
  type FailoverStep,
  type FailoverStepInput,
  type FenceMethod,
  type FencingEvidence,
} from '../shared/domain/failoverSteps';
import { peerConfirmation, promotableSet } from '../shared/domain/peerPromises';
import type { Prng } from './prng';
import type { CommitKind, Versioned } from './store';
import type { UpMessage, World } from './world';

type Trigger = 'detector' | 'webhook' | 'make-active' | 'arbitration' | 'resume';

/** One failover (or make-active) as an orchestration runs it: its plan, its progress, the evidence it received. */
interface FailoverOp {
  id: number;
  trigger: Trigger;
  plan: FailoverPlan;
  progress: FailoverProgress;
  evidence: FencingEvidence[];
  /** The node and epoch it last started fencing (where `fence-any-epoch` files any acknowledgement). */
  lastFenced?: { nodeId: string; epoch: number };
  /** Bumped by a roll-back: stops the fencing loops of the leg before. */
  fenceRun: number;
  /** Invalidates a pending retry timer when something else wakes the op. */
  wake: number;
  done: boolean;
}

function describeStep(step: FailoverStep): string {
  switch (step.step) {
    case 'choose-target':
      return `chooses ${step.target}: ${step.reason}`;
    case 'roll-back':
      return `rolls back to ${step.to} (${step.reason}), ending e${step.epoch}`;
    case 'retry':
      return `retries without ${step.from} (${step.reason}), ending e${step.epoch}`;
    case 'fence':
      return `fences ${step.nodeId} of e${step.epoch} by ${step.method}`;
    case 'demote-gracefully':
      return `demotes ${step.nodeId} of e${step.epoch} gracefully`;
    default:
      return step.step;
  }
}

/**
 * One control-plane instance: the heartbeat handler (grantLease + If-Match; reaffirm first when the active says it
 * demoted itself under the current epoch), the failure detector (detectFailure on the heartbeat table), failover and
 * make-active operations (the product's step rules, shared/domain/failoverSteps.ts#nextFailoverStep, decide each
 * step; this class does its I/O: If-Match writes, demote commands, power-off and polls, timers) and arbitration
 * (arbitrate → reaffirm or failover). Several instances share the store and race; a crash loses an instance's memory (its running
 * operation), never the store. Times are the control plane's clock.
 */
export class ControllerInstance {
  alive = true;
  private generation = 0;
  private paused = false;
  private pending: (() => void)[] = [];
  private op: FailoverOp | null = null;
  private arbitration: Map<string, ArbitrationCandidate> | null = null;
  /** When this instance's detector started (its clock): a silence is counted from no earlier than this. */
  private startedAt = Number.NEGATIVE_INFINITY;

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
    this.startedAt = this.now;
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

  /** The promotable set of an epoch whose active is `active` (when peer leases are on). */
  private promotable(active: string): { promotable?: string[] } {
    const w = this.world;
    return w.scenario.peerLeases ? { promotable: promotableSet(w.scenario.nodes, active) } : {};
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
        // The acknowledgement is evidence about its own node and epoch: nextFailoverStep counts it only for the
        // node and epoch being fenced. `fence-any-epoch` files it under those, whatever it says.
        const about = this.world.rules.controller.fenceEvidenceChecked
          ? { nodeId: message.node, epoch: message.epoch }
          : (op.lastFenced ?? { nodeId: op.plan.oldActive ?? message.node, epoch: op.plan.epoch });
        this.evidence(op, { kind: 'demotion-ack', ...about });
        return;
      }
    }
  }

  private heartbeat(m: Extract<UpMessage, { type: 'heartbeat' }>): void {
    const w = this.world;
    const now = this.now;
    w.heartbeats.set(m.node, now);
    if (m.replicationLagMs === undefined) w.replicationLag.delete(m.node);
    else w.replicationLag.set(m.node, m.replicationLagMs);
    const promise = m.peer?.promise;
    if (promise) w.promiseReports.set(m.node, { nodeId: m.node, ...promise, receivedAt: now });
    else w.promiseReports.delete(m.node);
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
            ? w.rules.reaffirm(s, now, `${m.node} demoted itself under epoch ${s.epoch}; active again`, {
                ...this.promotable(m.node),
              })
            : s;
          const decision = w.rules.grantLease(base, m.node, m.epoch, now, leaseMs);
          const answer = (granted: boolean, state: ClusterState, grantId: number, reason: string) =>
            w.toAgent(m.node, {
              type: 'heartbeat-response',
              incarnation: m.incarnation,
              seq: m.seq,
              granted,
              epoch: state.epoch,
              leaseMs,
              grantId,
              reason,
              // every reply says whether its epoch is revoked; grants carry the epoch's promotable set
              ...(w.scenario.peerLeases ? { revoked: state.revoked } : {}),
              ...(granted && w.scenario.peerLeases && state.promotable && state.promotable.length > 0
                ? { peers: { epoch: state.epoch, nodes: [...state.promotable] } }
                : {}),
            });
          if (!decision.granted) {
            answer(false, v.state, 0, decision.reason);
            return;
          }
          const kind = reaffirming ? 'reaffirm-grant' : 'grant';
          this.write(v.etag, decision.state, kind, m.node, (version) => {
            if (version !== null) answer(true, decision.state, version, 'granted');
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
          this.startOp('resume', s, null, this.rng.pick<FenceMethod>(['lease-wait', 'demote', 'power-off']));
          return;
        }
        if (s.activeNodeId === null) return;
        const now = this.now;
        // the control plane's own outage is not the node's silence: count it from when this detector started
        const heard = w.heartbeats.get(s.activeNodeId);
        const last = heard === undefined ? undefined : Math.max(heard, this.startedAt);
        if (!detectFailure(last, now, w.scenario.detection).failed) return;
        if (w.scenario.peerLeases && peerConfirmation(s, [...w.promiseReports.values()], now)) {
          w.stats.peerConfirmations++; // silent to the control plane, confirmed alive by its peer
          return;
        }
        if (
          w.scenario.flappingGuard &&
          !failoverAllowed(w.failoverHistory, now, w.scenario.document.failover).allowed
        ) {
          w.stats.flappingGuardBlocks++;
          return;
        }
        this.startOp('detector', s, null, this.rng.pick<FenceMethod>(['lease-wait', 'demote', 'power-off']));
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
          // (a make-active to the active itself ends at once: nextFailoverStep answers `done`, already-active)
          const fencing: FenceMethod =
            kind === 'make-active' ? 'demote' : this.rng.pick(['lease-wait', 'demote', 'power-off']);
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
        const next = w.rules.reaffirm(s, this.now, `arbitration won by the active ${winner}`, {
          ...this.promotable(winner),
        });
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

  // ---- the failover orchestration: shared/domain/failoverSteps.ts decides, this instance does the I/O ----

  private startOp(trigger: Trigger, s: ClusterState, target: string | null, fencing: FenceMethod): void {
    if (this.op) return;
    const w = this.world;
    const plan: FailoverPlan = {
      kind: trigger === 'make-active' ? 'make-active' : 'failover',
      clusterId: s.clusterId,
      epoch: s.epoch,
      oldActive: s.activeNodeId,
      target,
      candidates: w.scenario.nodes.map((nodeId) => ({
        nodeId,
        priority: w.scenario.priorities[nodeId] ?? 100,
      })),
      fencing,
    };
    const op: FailoverOp = {
      id: w.newOpId(),
      trigger,
      plan,
      progress: {},
      evidence: [],
      fenceRun: 0,
      wake: 0,
      done: false,
    };
    this.op = op;
    w.stats.failoverOps++;
    w.stats.opsByTrigger[trigger] = (w.stats.opsByTrigger[trigger] ?? 0) + 1;
    w.recorder.note(
      w.now,
      this.name,
      `op${op.id} ${trigger}: ${plan.kind} of e${plan.epoch} from ${plan.oldActive} to ${target ?? '(best)'}, fencing ${fencing}`,
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

  private stepInput(op: FailoverOp, state: ClusterState): FailoverStepInput {
    const w = this.world;
    return {
      plan: op.plan,
      progress: op.progress,
      state,
      evidence: {
        fencing: op.evidence,
        nodes: w.scenario.nodes.map((nodeId) => {
          const last = w.heartbeats.get(nodeId);
          const lag = w.replicationLag.get(nodeId);
          return {
            nodeId,
            ...(last === undefined ? {} : { lastHeartbeatAt: last }),
            ...(lag === undefined ? {} : { replicationLagMs: lag }),
          };
        }),
      },
      policy: { detection: w.scenario.detection, rpoMs: w.scenario.document.failover.rpoObjectiveMs },
      now: this.now,
    };
  }

  /** Asks `nextFailoverStep` what to do with the state just read, and does it. */
  private decide(op: FailoverOp, v: Versioned, depth = 0): void {
    if (op.done) return;
    // steps that write nothing are decided again on the same read; the step rules must not cycle through them
    if (depth > 8) throw new Error(`op${op.id}: nextFailoverStep keeps answering without I/O`);
    const w = this.world;
    const now = this.now;
    // failoverSteps' promote step does not pass the promotable set yet: pass it here
    const decisions = {
      ...w.rules,
      promote: (state: ClusterState, nodeId: string, t: number, margin: number, reason: string) =>
        w.rules.promote(state, nodeId, t, margin, reason, { ...this.promotable(nodeId) }),
    };
    const step = nextFailoverStep(this.stepInput(op, v.state), decisions);
    switch (step.step) {
      case 'superseded':
        return this.finish(op, `superseded: the state is at e${step.epoch}`);
      case 'refuse':
        w.stats.refusals++;
        if (step.code === 'ReplicationLagAboveRpo') w.stats.replicationLagStops++;
        return this.finish(op, `refused ${step.code}: ${step.message}`);
      case 'done':
        return this.finish(
          op,
          `${step.outcome}: ${step.activeNodeId} under e${step.epoch}${step.verified ? '' : ' (unverified)'}`,
        );
      case 'verify':
        // not a decision: the witness is free for others while the new active collects its lease
        w.witness.release(this.holderName);
        return this.retryLater(
          op,
          Math.max(Math.min(step.until - now, w.scenario.detection.heartbeatIntervalMs), 0.001),
        );
      default:
        break;
    }
    if (!this.holdWitness()) {
      w.stats.witnessBusy++;
      return this.retryLater(op, this.rng.range(200, 1000));
    }
    switch (step.step) {
      case 'choose-target':
      case 'roll-back':
      case 'retry':
      case 'start-target': // never proposed here: the simulation reports no power states
      case 'fence':
      case 'demote-gracefully':
        if (step.step === 'roll-back' || step.step === 'retry') {
          if (step.step === 'roll-back') w.stats.rollBacks++;
          else w.stats.retries++;
          if (step.reason === 'ReplicationLagAboveRpo') w.stats.replicationLagStops++;
          op.fenceRun++; // stops the forward leg's demotion resends and power-state polls
        }
        if (step.step === 'fence' || step.step === 'demote-gracefully') this.startFencing(op, step);
        w.recorder.note(w.now, this.name, `op${op.id} ${describeStep(step)}`);
        op.progress = recordStep(op.progress, step, now);
        return this.decide(op, v, depth + 1); // nothing written: decide again on the same read
      case 'wait':
        return this.retryLater(op, Math.max(step.until - now, 0.001));
      case 'revoke':
        return this.write(v.etag, step.state, 'revoke', this.name, (version) => {
          if (version === null) return this.retryLater(op, this.rng.range(1, 30));
          w.stats.revokes++;
          this.step(op);
        });
      case 'confirm-fenced':
        return this.write(v.etag, step.state, 'fence', this.name, (version) => {
          if (version !== null) w.stats.fencesConfirmed++;
          this.step(op);
        });
      case 'promote': {
        const { target, state: next } = step;
        return this.write(v.etag, next, 'promote', this.name, (version) => {
          if (version === null) return this.retryLater(op, this.rng.range(1, 30));
          w.stats.promotions++;
          w.failoverHistory.push(now);
          op.progress = recordStep(op.progress, step, now);
          w.toAgent(target, { type: 'promoted', epoch: next.epoch });
          w.witness.votes.push({ t: w.now, epoch: next.epoch, active: target, by: this.name });
          w.recorder.note(w.now, this.name, `op${op.id} promoted ${target} under e${next.epoch}; verifying`);
          this.step(op);
        });
      }
    }
  }

  /** Fencing evidence for the operation: kept, and the operation woken to look at it. */
  private evidence(op: FailoverOp, evidence: FencingEvidence): void {
    if (op.done) return;
    const seen = op.evidence.some(
      (e) => e.kind === evidence.kind && e.nodeId === evidence.nodeId && e.epoch === evidence.epoch,
    );
    if (seen) return;
    op.evidence.push(evidence);
    op.wake++;
    this.world.recorder.note(
      this.world.now,
      this.name,
      `op${op.id} fencing evidence: ${evidence.kind} ${evidence.nodeId} e${evidence.epoch}`,
    );
    this.step(op);
  }

  /**
   * Demote the old active (resent until acknowledged) or power it off and poll until the cloud shows it stopped;
   * either stops when the operation ends or rolls back.
   */
  private startFencing(
    op: FailoverOp,
    step: Extract<FailoverStep, { step: 'fence' | 'demote-gracefully' }>,
  ): void {
    const w = this.world;
    const node = step.nodeId;
    const epoch = step.epoch;
    const run = op.fenceRun;
    op.lastFenced = { nodeId: node, epoch };
    const stopped = () =>
      op.done || op.fenceRun !== run || fencingConfirmedBy(op.evidence, node, epoch) !== undefined;
    const method = step.step === 'demote-gracefully' ? 'demote' : step.method;
    if (method === 'lease-wait') return;
    if (method === 'demote') {
      const send = () => {
        if (stopped()) return;
        w.toAgent(node, { type: 'demote', epoch, opId: op.id, instance: this.index });
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
      if (stopped()) return;
      const generation = this.generation;
      w.cloudCall(
        () => agent.alive,
        (running) =>
          this.guardedAt(generation, () => {
            if (!running) this.evidence(op, { kind: 'power-state', nodeId: node, epoch, power: 'stopped' });
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
