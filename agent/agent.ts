import {
  AGENT_COMMAND_TYPES,
  arbitrationAnswerSchema,
  heartbeatReplySchema,
  type ArbitrationAnswer,
  type HeartbeatReply,
} from '../shared/contracts/agentApi';
import { BOUNDS } from '../shared/contracts/bounds';
import { readErrorBody } from '../shared/contracts/errors';
import { agentHoldsLease } from '../shared/domain/decisions';
import {
  bindingPromise,
  decidePromise,
  MAX_PROMISE_MS,
  mayAcceptPromotion,
  peerLeaseEndsAt,
  type HeldPromise,
  type PromiseDecision,
  type PromiseRequest,
} from '../shared/domain/peerPromises';
import { AckSender, commandAck } from './acks';
import type { ApiResult, CheckReport, CommandAckBody, ControlPlaneApi, HeartbeatBody } from './client';
import type { CheckRound, CheckRunner } from './checks';
import { sleep, type Clock, type TimerHandle } from './clock';
import type { AgentConfig, HookOperation } from './config';
import { configuredOperations, type HookContext, type HookRunner, type OperationResult } from './hooks';
import type { ActingJournal } from './journal';
import { errorMessage, type Logger } from './log';
import type { CommandRecord, HookReport, Role, StateKeeper } from './state';
import { peerAdvertiseUrl } from './config';
import type { PeerApi } from './peers/peerClient';
import { PeerListener } from './peers/peerListener';
import type { PromiseStore } from './peers/promiseStore';

type Command = HeartbeatReply['commands'][number];

export interface AgentSettings {
  clusterId: string;
  nodeId: string;
  initialIntervalMs: number;
  jitterRatio: number;
  maxBackoffMs: number;
  fenceMarginMs: number;
  checkIntervalMs?: number;
  arbitration?: { peerCheck: string; failForMs: number; pollTimeoutMs: number };
  shutdownTimeoutMs: number;
  demoteOnShutdown: boolean;
  /**
   * Set when a `fencePeer` hook is configured: the agent runs `fence-peer` commands, for the listed peers only when
   * `peers` lists any (else for any other node). Without it every `fence-peer` is refused.
   */
  fencePeer?: { peers: readonly string[] };
  /** The hook operations with at least one step configured, sent in every heartbeat (`hooks`). */
  hooks?: readonly string[];
}

/** The longest silence a `drill-silence` command may ask for: longer ones are refused. */
export const MAX_DRILL_SILENCE_MS = 10 * 60_000;

export const settingsFromConfig = (config: AgentConfig): AgentSettings => ({
  clusterId: config.clusterId,
  nodeId: config.nodeId,
  initialIntervalMs: config.heartbeat.initialIntervalMs,
  jitterRatio: config.heartbeat.jitterRatio,
  maxBackoffMs: config.heartbeat.maxBackoffMs,
  fenceMarginMs: config.lease.fenceMarginMs,
  ...(config.checkIntervalMs !== undefined ? { checkIntervalMs: config.checkIntervalMs } : {}),
  ...(config.arbitration ? { arbitration: config.arbitration } : {}),
  shutdownTimeoutMs: config.shutdown.timeoutMs,
  demoteOnShutdown: config.shutdown.demoteIfActive,
  ...(config.hooks.fencePeer.length > 0 ? { fencePeer: { peers: Object.keys(config.peers) } } : {}),
  hooks: configuredOperations(config.hooks),
});

export interface AgentDeps {
  settings: AgentSettings;
  client: ControlPlaneApi;
  checks: CheckRunner;
  hooks: HookRunner;
  state: StateKeeper;
  /** Receives the status snapshot (the file `failover-agent status` reads). */
  writeStatus: (status: AgentStatus) => Promise<void>;
  clock: Clock;
  log: Logger;
  random?: () => number;
  /** Hook results of the previous run, shown by `status` until new ones replace them. */
  previousHooks?: Partial<Record<HookOperation, OperationResult>>;
  /** The acting journal (opt-in, for the chaos checker): none by default. */
  journal?: ActingJournal;
  /** Peer promises (`peerListener` configured): none = no promise given or asked, behaviour as without them. */
  peer?: AgentPeerDeps;
}

/** What the agent needs for peer promises. */
export interface AgentPeerDeps {
  /** The promises this node gave, and the epoch the control plane said was revoked. */
  store: PromiseStore;
  /** Asks the other nodes for promises. */
  client: PeerApi;
  /** The listener the other nodes ask this node at: started by `start()` (or `startPeerListener()`), closed by `stop()`. */
  listener: { address: string; port: number; advertiseUrl?: string; key: Buffer };
}

export interface LastHeartbeat {
  at: string;
  ok: boolean;
  seq?: number;
  httpStatus?: number;
  sentRole: 'active' | 'standby';
  sentEpoch: number;
  replyRole?: 'active' | 'standby';
  replyEpoch?: number;
  leaseMs?: number | null;
  commands?: string[];
  error?: string;
}

/** What `failover-agent status` shows (written to status.json). */
export interface AgentStatus {
  pid: number;
  clusterId: string;
  nodeId: string;
  startedAt: string;
  updatedAt: string;
  role: Role;
  roleEpoch: number | null;
  highestEpoch: number;
  demotedEpoch: number;
  seqReserved: number;
  heartbeatIntervalMs: number;
  lease: { epoch: number; durationMs: number; expiresAt: string; remainingMs: number } | null;
  lastHeartbeat: LastHeartbeat | null;
  lastSuccessAt: string | null;
  consecutiveFailures: number;
  checks: CheckReport[];
  reports: Partial<Record<HookOperation, HookReport>>;
  hooks: Partial<Record<HookOperation, OperationResult>>;
  commands: CommandRecord[];
  arbitration: { at: string; decision: string; epoch?: number; winner?: string; detail?: string } | null;
  /** Set while a failover drill keeps the agent silent (no heartbeats) until `silentUntil`. */
  drill?: { commandId: string; epoch: number; silentUntil: string } | null;
  /** Peer promises, when the peer listener is configured. */
  peer?: PeerStatus;
}

/** The peer part of the status (`failover-agent status`). */
export interface PeerStatus {
  /** Where the other nodes reach this node's peer listener. */
  url: string | null;
  /** The highest epoch the control plane said was revoked: no promise under it or below. */
  closedEpoch: number;
  /** The promises this node gave that still bind it (it accepts no promotion until the last one ends). */
  promises: { to: string; epoch: number; until: string; remainingMs: number }[];
  /** The promotable set of the epoch this node was last granted the active role under. */
  /** `withoutListener`: the nodes of the set whose peer listener the control plane does not know (yet). */
  promotable: { epoch: number; nodes: string[]; withoutListener: string[] } | null;
  /** The peer lease this node holds as the active (a promise from every promotable node), if any. */
  peerLease: { epoch: number; from: string[]; until: string; remainingMs: number } | null;
}

interface Lease {
  epoch: number;
  /** Monotonic send time of the heartbeat that granted it. */
  sentAt: number;
  durationMs: number;
}

interface DemoteRequest {
  epoch: number;
  operationId: string;
  reason: string;
  fence: boolean;
  commandId?: string;
  /** The command is a fence command (its outcome is the fence's). */
  fenceCommand?: boolean;
}

/**
 * The node agent (design.md "Safety", ARCHITECTURE.md "Safety protocol as built"):
 *
 * - heartbeats one at a time, jittered, with capped exponential backoff while the control plane is unreachable
 *   (capped at the heartbeat interval while it holds or is getting a lease, so a short outage does not cost it);
 * - holds the active role only while its lease holds, timed on the monotonic clock from the SEND time of the
 *   heartbeat that granted it (`agentHoldsLease`); when it lapses it runs the demote, then the fence hook;
 * - runs each command id at most once (recorded before it runs), refuses commands under an epoch below the highest
 *   it has seen, and refuses grants and promotions under any epoch it demoted itself under, even late ones;
 * - starts as standby: if it stopped while (becoming) active, it demotes and fences before its first heartbeat;
 * - asks the witness when the peer check has failed long enough, and acts as active only through a lease granted
 *   by a later heartbeat.
 *
 * Hooks run one operation at a time, beside the heartbeats (a long promotion keeps its lease alive).
 */
export class Agent {
  readonly #d: AgentDeps;
  readonly #s: AgentSettings;
  readonly #log: Logger;
  readonly #random: () => number;
  readonly #startedAt: string;

  #intervalMs: number;
  #lease: Lease | null = null;
  #leaseTimer: TimerHandle | null = null;
  #round: CheckRound = { checks: [] };
  #ops: Promise<void> = Promise.resolve();
  #pendingOps = 0;
  #current: { operation: HookOperation; abort: AbortController } | null = null;
  #fenceRequested = false;
  #hooks: Partial<Record<HookOperation, OperationResult>>;
  readonly #acks: AckSender;

  #connected = false;
  #failures = 0;
  #lastFailure: string | null = null;
  #lastHeartbeat: LastHeartbeat | null = null;
  #lastSuccessAt: string | null = null;
  #refusedGrantEpoch = -1;
  #retryAfterMs = 0;

  #peerFailingSince: number | null = null;
  #arbitrationDone = false;
  #arbitrating = false;
  #nextArbitrationAt = 0;
  #arbitrationFailures = 0;
  #arbitration: AgentStatus['arbitration'] = null;

  /** A drill's silence: no heartbeat or arbitration request before this monotonic time. */
  #silentUntil: number | null = null;

  // Peer promises.
  #peerListener: PeerListener | null = null;
  #peerUrl: string | null = null;
  /** The promotable set of the epoch of the last grant (the control plane's `peers`). */
  #promotable: { epoch: number; nodes: { nodeId: string; url: string | null }[] } | null = null;
  /** The promises this node holds as the active, on its monotonic clock. */
  #held: HeldPromise[] = [];
  #askingPeers = false;
  /** The peer lease carries the active role (the control-plane lease ended before it): logged once. */
  #peerCarrying = false;
  /** The epoch a refused grant (bound by a promise) was logged for. */
  #boundLoggedEpoch = -1;
  /** The promote command refused while bound that was logged last. */
  #boundPromoteLogged: string | null = null;
  /** The duration of the last control-plane lease: what the active asks its peers for. */
  #lastLeaseMs: number | null = null;

  #stopping = false;
  #stopped: Promise<void> | null = null;
  readonly #loops = new AbortController();
  #kick: AbortController | null = null;
  #loopPromises: Promise<void>[] = [];

  constructor(deps: AgentDeps) {
    this.#d = deps;
    this.#s = deps.settings;
    this.#log = deps.log;
    this.#random = deps.random ?? Math.random;
    this.#intervalMs = deps.settings.initialIntervalMs;
    this.#hooks = { ...deps.previousHooks };
    this.#startedAt = new Date(deps.clock.wallNow()).toISOString();
    this.#acks = new AckSender({
      client: deps.client,
      state: deps.state,
      clock: deps.clock,
      log: deps.log,
      maxDelayMs: () => this.#intervalMs,
    });
    // A silence accepted before a restart goes on for what is left of it (by the wall clock: the monotonic one
    // starts afresh), never longer than it was asked for.
    const silence = deps.state.current.drillSilence;
    if (silence) {
      const left = Math.min(silence.silenceMs, Date.parse(silence.until) - deps.clock.wallNow());
      if (left > 0) {
        this.#silentUntil = deps.clock.now() + left;
        this.#log.warn('drill: still silent after a restart', {
          id: silence.commandId,
          until: silence.until,
          leftMs: Math.ceil(left),
        });
      }
    }
  }

  /** How long the drill's silence still lasts, in ms (0: not silent). */
  get silentForMs(): number {
    return this.#silentFor();
  }

  get role(): Role {
    return this.#d.state.current.role;
  }
  /** A heartbeat has been answered with 200 since the start. */
  get connected(): boolean {
    return this.#connected;
  }
  get lastFailure(): string | null {
    return this.#lastFailure;
  }
  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** Whether the agent holds a lease now (whatever its role), on the monotonic clock. */
  holdsLease(): boolean {
    return this.#leaseHolds();
  }

  /** Whether the agent may act as active now: role active and a lease that holds, on the monotonic clock. */
  mayActAsActive(): boolean {
    return this.#d.state.current.role === 'active' && this.#leaseHolds();
  }

  /** Command acknowledgements the control plane has not answered yet (persisted: re-sent after a restart). */
  get pendingAcks(): readonly CommandAckBody[] {
    return this.#acks.pending;
  }

  /** Sends the pending acknowledgements now (the heartbeat loop does this every cycle). */
  flushAcks(): Promise<void> {
    return this.#acks.flush();
  }

  /**
   * Starts the agent: recovery (an agent that stopped while active demotes and fences first: no lease outlives the
   * process that timed it), a first round of checks, then the heartbeat and check loops.
   */
  async start(): Promise<void> {
    await this.recover();
    await this.startPeerListener();
    // Acknowledgements a previous run could not deliver.
    void this.#acks.flush();
    await this.runChecks();
    this.#loopPromises = [
      this.#heartbeatLoop(),
      this.#checkLoop(),
      ...(this.#d.peer ? [this.#peerLoop()] : []),
    ];
  }

  /**
   * Starts the peer listener when peer promises are configured (`start()` does it); resolves with the URL the other
   * nodes reach it at (null without peer promises). With port 0, the URL names the port the listener got.
   */
  async startPeerListener(): Promise<string | null> {
    const peer = this.#d.peer;
    if (!peer || this.#peerListener) return this.#peerUrl;
    const listener = new PeerListener({
      clusterId: this.#s.clusterId,
      nodeId: this.#s.nodeId,
      key: peer.listener.key,
      address: peer.listener.address,
      port: peer.listener.port,
      clock: this.#d.clock,
      log: this.#log,
      promiser: { promise: (request) => this.#onPromiseRequest(request) },
    });
    const port = await listener.listen();
    this.#peerListener = listener;
    this.#peerUrl = peerAdvertiseUrl({ ...peer.listener, port });
    const binding = bindingPromise(peer.store.promises, this.#d.clock.now());
    if (binding)
      this.#log.warn('bound by a promise given before the restart: no promotion until it ends', {
        to: binding.to,
        epoch: binding.epoch,
        remainingMs: Math.ceil(binding.until - this.#d.clock.now()),
      });
    return this.#peerUrl;
  }

  /** Where the other nodes reach this node's peer listener (null: no listener). */
  get peerUrl(): string | null {
    return this.#peerUrl;
  }

  /** The end of the peer lease on the monotonic clock (null: none), whether or not it has passed. */
  peerLeaseEndsAt(): number | null {
    return this.#peerLeaseEndsAt();
  }

  /** Whether the agent holds a peer lease now (as the active, while the control plane is unreachable). */
  holdsPeerLease(): boolean {
    const end = this.#peerLeaseEndsAt();
    return end !== null && this.#d.clock.now() < end;
  }

  /** Startup recovery, on its own for tests. */
  async recover(): Promise<void> {
    const s = this.#d.state.current;
    const interrupted = s.commands.filter((c) => c.status === 'running').map((c) => c.id);
    for (const id of interrupted)
      await this.#finishCommand(id, 'interrupted', 'the agent stopped while the command ran');
    if (s.role === 'standby') return;
    const epoch = s.roleEpoch ?? s.highestEpoch;
    this.#log.warn('the agent stopped while not standby: demoting and fencing before the first heartbeat', {
      role: s.role,
      epoch,
    });
    await this.#enqueue(() =>
      this.#demote({
        epoch,
        operationId: `recovery-${epoch}-${Math.round(this.#d.clock.wallNow())}`,
        reason: `the agent restarted while ${s.role}: a lease cannot outlive the process that timed it`,
        fence: true,
      }),
    );
  }

  /** Runs every check once and keeps the results for the next heartbeat. */
  async runChecks(): Promise<CheckRound> {
    const round = await this.#d.checks.run();
    this.#round = round;
    this.#afterChecks(round);
    return round;
  }

  /** Resolves when no hook operation is running or queued. */
  async idle(): Promise<void> {
    while (this.#pendingOps > 0) await this.#ops;
    await this.#acks.settled();
  }

  /** Sends one heartbeat and acts on the answer. True when the control plane answered 200. */
  async heartbeatOnce(): Promise<boolean> {
    // A drill's silence: nothing is sent, exactly as if the control plane were unreachable.
    if (this.#silentFor() > 0) return false;
    const body = this.#heartbeatBody();
    const result = await this.#d.client.heartbeat(body);
    return this.#onHeartbeatResult(body, result);
  }

  /** The body of the next heartbeat (exposed for tests). */
  heartbeatBody(): HeartbeatBody {
    return this.#heartbeatBody();
  }

  /** Stops gracefully: waits (bounded) for a running hook, demotes if active, stops the loops. */
  stop(reason = 'stop requested'): Promise<void> {
    this.#stopped ??= this.#stop(reason);
    return this.#stopped;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Heartbeats

  #heartbeatBody(): HeartbeatBody {
    const s = this.#d.state.current;
    const reports: CheckReport[] = Object.values(s.reports)
      .filter((r) => r.epoch === s.highestEpoch)
      .map((r) => ({ name: `hook:${r.operation}`, status: r.status, detail: r.detail }));
    const checks = [
      ...this.#round.checks.map(({ name, status, detail }) => ({ name, status, detail })),
      ...reports,
    ];
    return {
      role: s.role === 'active' || s.role === 'demoting' ? 'active' : 'standby',
      epoch: s.highestEpoch,
      checks: checks.slice(0, BOUNDS.checks),
      ...(this.#round.gpu ? { gpu: this.#round.gpu } : {}),
      ...(this.#round.replicationLagMs !== undefined
        ? { replicationLagMs: Math.min(BOUNDS.durationMs, this.#round.replicationLagMs) }
        : {}),
      // Tells the control plane this node will take no grant under this epoch (it demoted itself under it), so a
      // control plane that still wants it active raises the epoch instead of repeating a grant it will refuse.
      ...(s.demotedEpoch > 0 && s.demotedEpoch >= s.highestEpoch ? { demotedAtEpoch: s.demotedEpoch } : {}),
      ...(this.#s.hooks ? { hooks: [...this.#s.hooks] } : {}),
      ...(this.#d.peer ? { peer: this.#peerHeartbeat(this.#d.peer.store) } : {}),
    };
  }

  /** The heartbeat's `peer`: where this node is reached, the promise binding it, the epoch it closed. */
  #peerHeartbeat(store: PromiseStore): NonNullable<HeartbeatBody['peer']> {
    const now = this.#d.clock.now();
    const binding = bindingPromise(store.promises, now);
    return {
      ...(this.#peerUrl ? { url: this.#peerUrl } : {}),
      ...(binding
        ? {
            promise: {
              to: binding.to,
              epoch: binding.epoch,
              remainingMs: Math.min(BOUNDS.durationMs, Math.ceil(binding.until - now)),
            },
          }
        : {}),
      ...(store.closedEpoch > 0 ? { closedEpoch: store.closedEpoch } : {}),
    };
  }

  async #onHeartbeatResult(body: HeartbeatBody, result: ApiResult): Promise<boolean> {
    const at = new Date(this.#d.clock.wallNow()).toISOString();
    const base = { at, sentRole: body.role, sentEpoch: body.epoch };
    if (!result.ok) {
      this.#failed({ ...base, ok: false, error: result.message }, result.kind === 'pin' ? 'error' : 'warn');
      return false;
    }
    const { answer } = result;
    this.#retryAfterMs = answer.retryAfterMs ?? 0;
    if (answer.status !== 200) {
      const error = describeError(answer.status, answer.json);
      const level = answer.status === 503 || answer.status >= 500 ? 'warn' : 'error';
      this.#failed({ ...base, ok: false, seq: result.seq, httpStatus: answer.status, error }, level);
      return false;
    }
    const parsed = heartbeatReplySchema.safeParse(answer.json);
    if (!parsed.success) {
      this.#failed(
        {
          ...base,
          ok: false,
          seq: result.seq,
          httpStatus: 200,
          error: 'the heartbeat answer is not understood',
        },
        'error',
      );
      return false;
    }
    const reply = parsed.data;
    if (this.#failures > 0 || !this.#connected)
      this.#log.info(this.#connected ? 'control plane reachable again' : 'connected to the control plane', {
        failures: this.#failures,
        epoch: reply.epoch,
        role: reply.role,
      });
    this.#connected = true;
    this.#failures = 0;
    this.#lastFailure = null;
    this.#lastSuccessAt = at;
    this.#lastHeartbeat = {
      ...base,
      ok: true,
      seq: result.seq,
      httpStatus: 200,
      replyRole: reply.role,
      replyEpoch: reply.epoch,
      leaseMs: reply.lease?.durationMs ?? null,
      commands: reply.commands.map((c) => c.id),
    };
    this.#log.debug('heartbeat', {
      seq: result.seq,
      sentRole: body.role,
      sentEpoch: body.epoch,
      replyRole: reply.role,
      replyEpoch: reply.epoch,
      leaseMs: reply.lease?.durationMs ?? null,
      commands: reply.commands.map((c) => c.id),
    });
    await this.#onReply(reply, result.sentAt);
    // The control plane answers: re-send what it has not acknowledged yet (each heartbeat cycle).
    void this.#acks.flush();
    await this.#writeStatus();
    return true;
  }

  #failed(heartbeat: LastHeartbeat, level: 'warn' | 'error'): void {
    this.#failures++;
    this.#lastHeartbeat = heartbeat;
    const message = heartbeat.error ?? 'failed';
    if (message !== this.#lastFailure)
      this.#log[level]('heartbeat failed', {
        error: message,
        ...(heartbeat.httpStatus ? { httpStatus: heartbeat.httpStatus } : {}),
        failures: this.#failures,
      });
    else this.#log.debug('heartbeat failed again', { error: message, failures: this.#failures });
    this.#lastFailure = message;
    void this.#writeStatus();
  }

  async #onReply(reply: HeartbeatReply, sentAt: number): Promise<void> {
    this.#intervalMs = reply.heartbeatIntervalMs;
    const state = this.#d.state;
    const highest = state.current.highestEpoch;
    if (reply.epoch < highest) {
      this.#log.warn('answer under an older epoch ignored', { epoch: reply.epoch, highestEpoch: highest });
      return;
    }
    if (reply.epoch > highest) {
      // Persisted before anything acts on it.
      await state.update((s) => {
        s.highestEpoch = Math.max(s.highestEpoch, reply.epoch);
      });
      this.#log.info('new epoch', { epoch: reply.epoch, previous: highest });
    }
    const peer = this.#d.peer;
    if (peer && reply.revoked && peer.store.closeEpoch(reply.epoch)) {
      // In memory at once (a promise request from now on is refused under it), on disk before going on.
      this.#log.info('the control plane revoked the epoch: no promise under it any more', {
        epoch: reply.epoch,
      });
      await peer.store.persist();
    }
    if (peer && reply.revoked && reply.fenced && peer.store.release(reply.epoch)) {
      // The revoked epoch's active is confirmed fenced: a promise to it protects nothing any more.
      this.#log.info('the revoked epoch’s active is confirmed fenced: its promises are released', {
        epoch: reply.epoch,
      });
      await peer.store.persist();
      void this.#writeStatus();
    }
    // Promises held under an older epoch support nothing any more.
    this.#held = this.#held.filter((h) => h.epoch >= reply.epoch);
    let granted = false;
    const now = this.#d.clock.now();
    const bound = peer ? mayAcceptPromotion(peer.store.promises, now) : { allowed: true as const };
    if (reply.role === 'active' && reply.lease) {
      const demoted = state.current.demotedEpoch;
      if (!bound.allowed) {
        if (this.#boundLoggedEpoch !== reply.epoch)
          this.#log.warn(
            `bound by a promise to ${bound.promise.to} until ${new Date(
              this.#d.clock.wallNow() + (bound.promise.until - now),
            ).toISOString()}: the grant is refused`,
            { epoch: reply.epoch, promiseEpoch: bound.promise.epoch, reason: bound.reason },
          );
        this.#boundLoggedEpoch = reply.epoch;
      } else if (reply.epoch <= demoted) {
        if (this.#refusedGrantEpoch !== reply.epoch)
          this.#log.warn('lease grant refused: this node demoted itself under that epoch', {
            epoch: reply.epoch,
            demotedEpoch: demoted,
          });
        this.#refusedGrantEpoch = reply.epoch;
      } else {
        this.#grant(reply.epoch, sentAt, reply.lease.durationMs);
        granted = true;
        // The epoch's promotable set comes with every grant; a grant without one: no peer lease under it.
        if (peer) this.#promotable = reply.peers && reply.peers.epoch === reply.epoch ? reply.peers : null;
      }
    }
    let demoteQueued = false;
    for (const command of reply.commands) {
      const queued = await this.#command(command, granted);
      // A fence command of an active node demotes it too.
      if (queued === 'demote' || queued === 'fence') demoteQueued = true;
    }
    const s = state.current;
    if (s.role === 'active' && granted && s.roleEpoch !== null && reply.epoch > s.roleEpoch) {
      // Reaffirmed under a newer epoch (arbitration won by the active): the lease carries on.
      await state.update((st) => {
        st.roleEpoch = reply.epoch;
      });
      this.#log.info('active role carried to a new epoch', { epoch: reply.epoch });
    }
    if (s.role === 'promoting' && reply.role === 'standby' && this.#current?.operation === 'promote') {
      // Revoked while promoting: stop the promotion; it is undone by the demote steps.
      this.#log.warn('the control plane answered standby during the promotion: stopping it', {
        epoch: reply.epoch,
      });
      this.#current.abort.abort(new Error('the control plane answered standby'));
    }
    if (s.role === 'active' && reply.role === 'standby' && !demoteQueued) {
      demoteQueued = true;
      void this.#enqueue(() =>
        this.#demote({
          epoch: Math.max(reply.epoch, s.roleEpoch ?? 0),
          operationId: `standby-${reply.epoch}-${Math.round(this.#d.clock.wallNow())}`,
          reason: 'the control plane answered role standby',
          fence: false,
        }),
      );
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The lease

  #grant(epoch: number, sentAt: number, durationMs: number): void {
    this.#lastLeaseMs = durationMs;
    if (this.#peerCarrying) {
      this.#peerCarrying = false;
      this.#log.info('the control plane lease resumes: the peer lease is no longer needed', { epoch });
    }
    const current = this.#lease;
    if (!current || epoch > current.epoch || sentAt + durationMs > current.sentAt + current.durationMs)
      this.#lease = { epoch, sentAt, durationMs };
    this.#armLeaseTimer();
  }

  /** The fence margin for a lease: as configured, but at most half the lease. */
  #margin(lease: Lease): number {
    return Math.min(this.#s.fenceMarginMs, Math.floor(lease.durationMs / 2));
  }

  /**
   * The lease — the control plane's, or the peer lease that carries an active while the control plane is
   * unreachable — shortened by the fence margin so the self-fence starts that much before the real end.
   */
  #leaseHolds(minEpoch = 0): boolean {
    return this.#cpLeaseHolds(minEpoch) || this.#peerLeaseHolds(minEpoch);
  }

  #cpLeaseHolds(minEpoch = 0): boolean {
    const lease = this.#lease;
    if (!lease || lease.epoch < minEpoch || lease.epoch <= this.#d.state.current.demotedEpoch) return false;
    return agentHoldsLease(lease.sentAt, lease.durationMs - this.#margin(lease), this.#d.clock.now());
  }

  #peerLeaseHolds(minEpoch = 0): boolean {
    const end = this.#peerLeaseEndsAt();
    return end !== null && (this.#promotable?.epoch ?? 0) >= minEpoch && this.#d.clock.now() < end;
  }

  #cpLeaseEndsAt(): number | null {
    return this.#lease ? this.#lease.sentAt + this.#lease.durationMs - this.#margin(this.#lease) : null;
  }

  /**
   * The end of the peer lease (shared/domain/peerPromises.ts `peerLeaseEndsAt`): only for the active under the
   * epoch of the promotable set, with a promise from every node of the set, each timed from its request's SEND time.
   */
  #peerLeaseEndsAt(): number | null {
    const set = this.#promotable;
    const s = this.#d.state.current;
    if (
      !this.#d.peer ||
      !set ||
      s.role !== 'active' ||
      s.roleEpoch !== set.epoch ||
      set.epoch <= s.demotedEpoch
    )
      return null;
    const margin = Math.min(this.#s.fenceMarginMs, Math.floor((this.#lastLeaseMs ?? 0) / 2));
    return peerLeaseEndsAt(
      set.nodes.map((n) => n.nodeId),
      set.epoch,
      this.#held,
      margin,
    );
  }

  /** The later of the control-plane lease's end and the peer lease's. */
  #leaseEndsAt(): number | null {
    const cp = this.#cpLeaseEndsAt();
    const peer = this.#peerLeaseEndsAt();
    if (cp === null) return peer;
    return peer === null ? cp : Math.max(cp, peer);
  }

  #armLeaseTimer(): void {
    const { clock } = this.#d;
    if (this.#leaseTimer) clock.clearTimer(this.#leaseTimer);
    this.#leaseTimer = null;
    const end = this.#leaseEndsAt();
    if (end === null) return;
    this.#leaseTimer = clock.setTimer(() => this.#onLeaseTimer(), end - clock.now());
  }

  #dropLease(): void {
    this.#lease = null;
    this.#held = [];
    this.#peerCarrying = false;
    if (this.#leaseTimer) this.#d.clock.clearTimer(this.#leaseTimer);
    this.#leaseTimer = null;
  }

  #onLeaseTimer(): void {
    this.#leaseTimer = null;
    if (this.#leaseHolds()) {
      this.#armLeaseTimer();
      return;
    }
    const lease = this.#lease;
    this.#journalStopped('the lease lapsed');
    this.#dropLease();
    const s = this.#d.state.current;
    if (s.role === 'standby') {
      this.#log.debug('lease ended while standby', { epoch: lease?.epoch });
      return;
    }
    this.#log.warn('lease lapsed: self-fencing', {
      role: s.role,
      epoch: lease?.epoch,
      durationMs: lease?.durationMs,
      sinceGrantSentMs: lease ? Math.round(this.#d.clock.now() - lease.sentAt) : undefined,
    });
    this.#fenceRequested = true;
    if (s.role === 'promoting' && this.#current?.operation === 'promote')
      this.#current.abort.abort(new Error('the lease lapsed'));
    else if (s.role === 'active') {
      // Fencing another node never delays this one's own self-fence: a running fence-peer is stopped (and
      // acknowledged failed) so the demote and fence hooks queued behind it run now.
      if (this.#current?.operation === 'fence-peer')
        this.#current.abort.abort(new Error('the lease lapsed: this node fences itself first'));
      void this.#enqueue(() =>
        this.#selfFence('the lease lapsed: no heartbeat was granted in time', s.roleEpoch ?? 0),
      );
    }
    void this.#writeStatus();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Peer promises

  /** Why this node may accept no promotion now (it is bound by a promise), or undefined when it may. */
  #boundBy(): string | undefined {
    const peer = this.#d.peer;
    if (!peer) return undefined;
    const verdict = mayAcceptPromotion(peer.store.promises, this.#d.clock.now());
    return verdict.allowed ? undefined : verdict.reason;
  }

  /**
   * A promise request that passed the listener's checks: the decision and the in-memory record in ONE synchronous
   * step (no promotion can slip between them), then the promise and any raised highest epoch go to disk; the
   * listener answers the grant only once they are there.
   */
  #onPromiseRequest(request: PromiseRequest): { decision: PromiseDecision; persisted?: Promise<void> } {
    const peer = this.#d.peer;
    if (!peer || this.#stopping)
      return {
        decision: { granted: false, code: 'not-standby', reason: 'this agent is stopping' },
      };
    const s = this.#d.state.current;
    const now = this.#d.clock.now();
    const decision = decidePromise(
      {
        nodeId: this.#s.nodeId,
        role: s.role,
        highestEpoch: s.highestEpoch,
        closedEpoch: peer.store.closedEpoch,
        holdsLease: this.#cpLeaseHolds(),
        promises: peer.store.promises,
      },
      request,
      now,
    );
    if (!decision.granted) return { decision };
    const first = bindingPromise(peer.store.promises, now) === undefined;
    peer.store.record(decision.promise, decision.promise.until - now);
    const raise =
      request.epoch > s.highestEpoch
        ? this.#d.state.update((st) => {
            st.highestEpoch = Math.max(st.highestEpoch, request.epoch);
          })
        : Promise.resolve();
    const persisted = Promise.all([peer.store.persist(), raise]).then(() => {
      void this.#writeStatus();
      // The first promise: heartbeat now, so the control plane learns within one round trip that the active is
      // alive (and does not detect its silence meanwhile), instead of up to an interval later.
      if (first && this.#silentFor() === 0) this.#kick?.abort();
    });
    return { decision, persisted };
  }

  /**
   * The active, while the control plane does not answer: asks every node of its epoch's promotable set for a promise,
   * in parallel, and keeps each one granted (timed from its request's send time). Only while it still may act as
   * active: a lapsed lease is never revived. Exposed for tests (the heartbeat loop calls it after a failed heartbeat).
   */
  async askPeersOnce(): Promise<void> {
    const peer = this.#d.peer;
    const set = this.#promotable;
    const s = this.#d.state.current;
    // Never during a drill's silence: the drill wants the lease to lapse as if the node were cut off.
    if (!peer || !set || this.#askingPeers || this.#stopping || this.#silentFor() > 0) return;
    if (s.role !== 'active' || s.roleEpoch !== set.epoch || !this.mayActAsActive()) return;
    const epoch = set.epoch;
    const durationMs = Math.min(MAX_PROMISE_MS, this.#lastLeaseMs ?? this.#intervalMs);
    this.#askingPeers = true;
    try {
      const results = await Promise.all(
        set.nodes.map((node) =>
          node.url === null
            ? Promise.resolve({
                ok: false as const,
                nodeId: node.nodeId,
                error: 'it advertised no peer listener',
              })
            : peer.client.askPromise(
                { nodeId: node.nodeId, url: node.url },
                { epoch, durationMs },
                this.#intervalMs,
              ),
        ),
      );
      const now = this.#d.clock.now();
      const st = this.#d.state.current;
      // The role may have changed while asking, or the lease lapsed meanwhile (the self-fence is under way: a lapsed
      // lease is never revived): promises count only for the active still acting under the same epoch.
      if (
        st.role !== 'active' ||
        st.roleEpoch !== epoch ||
        this.#promotable?.epoch !== epoch ||
        !this.mayActAsActive()
      )
        return;
      const failed: string[] = [];
      for (const result of results) {
        if (result.ok && result.answer.granted && result.status === 200) {
          this.#held = [
            ...this.#held.filter((h) => !(h.from === result.nodeId && h.epoch === epoch)),
            {
              from: result.nodeId,
              epoch,
              sentAt: result.sentAt,
              durationMs: Math.min(durationMs, result.answer.durationMs),
            },
          ];
        } else
          failed.push(
            `${result.nodeId}: ${
              !result.ok
                ? result.error
                : result.answer.granted
                  ? `HTTP ${result.status}`
                  : `${result.answer.code}: ${result.answer.reason}`
            }`,
          );
      }
      this.#held = this.#held.filter((h) => h.epoch === epoch);
      if (failed.length)
        this.#log.warn('peer promise not obtained', { epoch, failed: failed.map((f) => f.slice(0, 200)) });
      const peerEnd = this.#peerLeaseEndsAt();
      const cpEnd = this.#cpLeaseEndsAt();
      if (peerEnd !== null && now < peerEnd && this.mayActAsActive()) {
        if (!this.#peerCarrying && (cpEnd === null || peerEnd > cpEnd)) {
          this.#peerCarrying = true;
          this.#log.warn(
            `control plane unreachable: the peer lease from ${set.nodes
              .map((n) => n.nodeId)
              .join(', ')} carries the active role until ${new Date(
              this.#d.clock.wallNow() + (peerEnd - now),
            ).toISOString()}`,
            { epoch, remainingMs: Math.round(peerEnd - now) },
          );
        }
        this.#armLeaseTimer();
      }
    } finally {
      this.#askingPeers = false;
    }
    await this.#writeStatus();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Commands and hook operations

  /** Records and queues a command, or refuses it. Returns the type queued, if any. */
  async #command(command: Command, granted: boolean): Promise<CommandRecord['type'] | undefined> {
    const state = this.#d.state;
    const s = state.current;
    const known = s.commands.find((c) => c.id === command.id);
    if (known) {
      this.#log.debug('command already seen: not run again', { id: command.id, status: known.status });
      return undefined;
    }
    if (
      (command.clusterId !== undefined && command.clusterId !== this.#s.clusterId) ||
      (command.nodeId !== undefined && command.nodeId !== this.#s.nodeId)
    ) {
      this.#log.warn('command for another node ignored', {
        id: command.id,
        type: command.type,
        to: `${command.clusterId ?? '?'}/${command.nodeId ?? '?'}`,
      });
      return undefined;
    }
    if (!isCommandType(command.type)) {
      this.#log.warn('unknown command ignored', { id: command.id, type: command.type });
      return undefined;
    }
    const type = command.type;
    let refusal: string | undefined;
    if (type === 'fence-peer') refusal = this.#fencePeerRefusal(command);
    else if (command.epoch < s.highestEpoch)
      refusal = `epoch ${command.epoch} is below the highest seen (${s.highestEpoch})`;
    else if (type === 'promote' && command.epoch <= s.demotedEpoch)
      refusal = `this node demoted itself under epoch ${s.demotedEpoch}; it becomes active again only under a newer one`;
    else if (type === 'drill-silence' && s.role === 'promoting' && command.epoch === s.roleEpoch) {
      // Still promoting under that epoch: the command comes again with the next answers, once the node is active.
      this.#log.info('drill-silence while promoting: waiting for the promotion to finish', {
        id: command.id,
      });
      return undefined;
    } else if (type === 'drill-silence') refusal = this.#drillSilenceRefusal(command);
    else if (type === 'promote' && this.#boundBy() !== undefined) {
      // Not recorded: the control plane repeats it, and it runs once the promise has lapsed (with a lease grant).
      // Logged once per command id.
      if (this.#boundPromoteLogged !== command.id)
        this.#log.warn('promote command while bound by a promise: not run', {
          id: command.id,
          reason: this.#boundBy(),
        });
      this.#boundPromoteLogged = command.id;
      return undefined;
    } else if (type === 'promote' && !granted) {
      this.#log.warn('promote command without a lease grant: waiting for one', { id: command.id });
      return undefined;
    }
    const at = new Date(this.#d.clock.wallNow()).toISOString();
    if (refusal) {
      this.#log.warn('command refused', { id: command.id, type, epoch: command.epoch, reason: refusal });
      await state.update((st) => {
        st.commands.push({
          id: command.id,
          type,
          epoch: command.epoch,
          status: 'refused',
          detail: refusal,
          at,
        });
        if (command.epoch === st.highestEpoch && type !== 'fence-peer' && type !== 'drill-silence')
          st.reports[type] = {
            operation: type,
            operationId: command.id,
            epoch: command.epoch,
            status: 'fail',
            detail: `${command.id} refused: ${refusal}`.slice(0, 200),
            at,
          };
      });
      await this.#ack({ id: command.id, type, epoch: command.epoch }, 'refused', `refused: ${refusal}`, []);
      return undefined;
    }
    if (type === 'drill-silence') {
      await this.#beSilent(command, at);
      return type;
    }
    // Recorded (and on disk) before it runs: at most once, even across a crash.
    await state.update((st) => {
      st.commands.push({ id: command.id, type, epoch: command.epoch, status: 'running', at });
    });
    this.#log.info('command accepted', { id: command.id, type, epoch: command.epoch });
    const record = { id: command.id, epoch: command.epoch };
    const target = command.targetNodeId;
    void this.#enqueue(() =>
      type === 'promote'
        ? this.#promote(record)
        : type === 'demote'
          ? this.#demoteCommand(record)
          : type === 'fence-peer' && target !== undefined
            ? this.#fencePeer({ ...record, targetNodeId: target })
            : this.#fenceCommand(record),
    );
    return type;
  }

  /** Why a `drill-silence` command cannot run here, if it cannot (its epoch is checked before). */
  #drillSilenceRefusal(command: Command): string | undefined {
    const s = this.#d.state.current;
    const ms = command.silenceMs;
    if (ms === undefined) return 'drill-silence names no silenceMs';
    if (ms > MAX_DRILL_SILENCE_MS)
      return `silenceMs ${ms} is longer than the ${MAX_DRILL_SILENCE_MS} ms a drill may silence an agent`;
    if (s.role !== 'active' || !this.#leaseHolds(command.epoch))
      return `this node is not the active holding a lease under epoch ${command.epoch} (role ${s.role})`;
    if (this.#silentFor() > 0) return 'this node is already silent for a drill';
    return undefined;
  }

  /**
   * A failover drill: the command is recorded (on disk: a restart neither repeats nor ends it) and acknowledged,
   * then no heartbeat and no arbitration request is sent for `silenceMs` on the monotonic clock. The lease lapses as
   * if the control plane were unreachable, and the usual lease-lapse path self-fences the node; afterwards it
   * heartbeats again and takes the role it is answered.
   */
  async #beSilent(command: Command, at: string): Promise<void> {
    const { clock } = this.#d;
    const silenceMs = command.silenceMs ?? 0;
    const until = new Date(clock.wallNow() + silenceMs).toISOString();
    const detail = `silent for ${silenceMs} ms (until ${until}): no heartbeat until then; the lease lapses and the node self-fences`;
    this.#silentUntil = clock.now() + silenceMs;
    await this.#d.state.update((st) => {
      st.commands.push({
        id: command.id,
        type: 'drill-silence',
        epoch: command.epoch,
        status: 'ok',
        detail,
        at,
      });
      st.drillSilence = { commandId: command.id, epoch: command.epoch, silenceMs, until };
    });
    this.#log.warn('drill: going silent', { id: command.id, epoch: command.epoch, silenceMs, until });
    await this.#ack({ id: command.id, type: 'drill-silence', epoch: command.epoch }, 'ok', detail, []);
    await this.#writeStatus();
  }

  /** What is left of a drill's silence, in ms (0: not silent; its end is logged once). */
  #silentFor(): number {
    if (this.#silentUntil === null) return 0;
    const left = this.#silentUntil - this.#d.clock.now();
    if (left > 0) return Math.ceil(left);
    this.#silentUntil = null;
    this.#log.info('drill: silence over, heartbeating again', { role: this.role });
    return 0;
  }

  /** Why a `fence-peer` command cannot run here, if it cannot. */
  #fencePeerRefusal(command: Command): string | undefined {
    const s = this.#d.state.current;
    const target = command.targetNodeId;
    const fencing = this.#s.fencePeer;
    if (!fencing)
      return `this agent cannot fence ${target ?? 'a peer'}: fence-peer is not supported by its hooks (no hooks.fencePeer configured)`;
    if (command.epoch < s.highestEpoch)
      return `epoch ${command.epoch} is below the highest seen (${s.highestEpoch})`;
    if (target === undefined) return 'fence-peer names no targetNodeId';
    if (target === this.#s.nodeId)
      return `fence-peer names this node (${target}): a node fences itself only through its fence hook`;
    if (fencing.peers.length > 0 && !fencing.peers.includes(target))
      return `${target} is not one of this agent's peers (${fencing.peers.join(', ')})`;
    return undefined;
  }

  #enqueue(operation: () => Promise<void>): Promise<void> {
    this.#pendingOps++;
    const run = async () => {
      try {
        await operation();
      } catch (error) {
        this.#log.error('hook operation broke', { error: errorMessage(error) });
      } finally {
        this.#pendingOps--;
      }
    };
    const next = this.#ops.then(run);
    this.#ops = next;
    return next;
  }

  /** Records a command's outcome and acknowledges it with the hook operations it ran. */
  async #finishCommand(
    id: string,
    status: CommandRecord['status'],
    detail: string,
    results: readonly OperationResult[] = [],
  ): Promise<void> {
    let finished: CommandRecord | undefined;
    await this.#d.state.update((st) => {
      const record = st.commands.find((c) => c.id === id);
      if (record) {
        record.status = status;
        record.detail = detail;
        finished = { ...record };
      }
    });
    if (finished) await this.#ack(finished, status, detail, results);
  }

  /** Queues (on disk) and sends the acknowledgement of a finished command. */
  async #ack(
    command: Pick<CommandRecord, 'id' | 'type' | 'epoch'>,
    status: CommandRecord['status'],
    detail: string,
    results: readonly OperationResult[],
  ): Promise<void> {
    await this.#acks.queue(commandAck(command, status, detail, results, this.#d.clock.wallNow()));
  }

  async #runHook(context: HookContext, signal?: AbortSignal): Promise<OperationResult> {
    const abort = new AbortController();
    signal?.addEventListener('abort', () => abort.abort(signal.reason), { once: true });
    this.#current = { operation: context.operation, abort };
    this.#log.info(`${context.operation} started`, {
      operationId: context.operationId,
      epoch: context.epoch,
      reason: context.reason,
      ...(context.targetNodeId !== undefined ? { targetNodeId: context.targetNodeId } : {}),
    });
    let result: OperationResult;
    try {
      result = await this.#d.hooks.run(context, abort.signal);
    } finally {
      this.#current = null;
    }
    this.#hooks[context.operation] = result;
    const level = result.status === 'ok' ? 'info' : 'warn';
    this.#log[level](`${context.operation} finished`, {
      operationId: context.operationId,
      epoch: context.epoch,
      status: result.status,
      detail: result.detail,
    });
    const operation = context.operation;
    // A fence-peer is no health of this node: its outcome is the acknowledgement (and the status), not a
    // `hook:` check that would make the fencer look unhealthy when a peer's BMC does not answer.
    if (operation !== 'fence-peer')
      await this.#d.state.update((st) => {
        st.reports[operation] = {
          operation,
          operationId: context.operationId,
          epoch: context.epoch,
          status: result.status,
          detail: result.detail,
          at: result.finishedAt,
        };
      });
    await this.#writeStatus();
    return result;
  }

  async #promote(command: { id: string; epoch: number }): Promise<void> {
    const state = this.#d.state;
    const s = state.current;
    if (this.#stopping) return this.#finishCommand(command.id, 'interrupted', 'the agent is stopping');
    if (command.epoch < s.highestEpoch || command.epoch <= s.demotedEpoch)
      return this.#finishCommand(command.id, 'refused', `epoch ${command.epoch} is no longer current`);
    if (s.role === 'active' && s.roleEpoch === command.epoch)
      return this.#finishCommand(command.id, 'ok', 'already active under this epoch');
    if (!this.#leaseHolds(command.epoch))
      return this.#finishCommand(command.id, 'fail', 'the lease lapsed before the promotion could start');
    const bound = this.#boundBy();
    if (bound !== undefined) return this.#finishCommand(command.id, 'fail', bound);
    await state.update((st) => {
      st.role = 'promoting';
      st.roleEpoch = command.epoch;
    });
    this.#fenceRequested = false;
    const result = await this.#runHook({
      operation: 'promote',
      operationId: command.id,
      epoch: command.epoch,
      role: 'active',
      reason: 'command from the control plane',
    });
    if (result.status !== 'fail' && this.#leaseHolds(command.epoch)) {
      await state.update((st) => {
        st.role = 'active';
      });
      this.#journalTick();
      await this.#finishCommand(command.id, result.status, result.detail, [result]);
      this.#log.info('active', { epoch: command.epoch, leaseEndsInMs: this.#leaseRemaining() });
      await this.#writeStatus();
      // Tell the control plane at once: its heartbeats as the active are what verify the switchover.
      this.#kick?.abort();
      return;
    }
    const lapsed = !this.#leaseHolds(command.epoch);
    await this.#finishCommand(
      command.id,
      'fail',
      lapsed ? `the lease lapsed during the promotion (${result.detail})` : result.detail,
      [result],
    );
    // Whatever the promotion started is undone; a lapsed lease also fences.
    await this.#demote({
      epoch: command.epoch,
      operationId: `${command.id}-rollback`,
      reason: lapsed ? 'the lease lapsed during the promotion' : 'the promotion failed',
      fence: lapsed,
    });
  }

  async #demoteCommand(command: { id: string; epoch: number }): Promise<void> {
    const s = this.#d.state.current;
    if (command.epoch < s.highestEpoch)
      return this.#finishCommand(command.id, 'refused', `epoch ${command.epoch} is no longer current`);
    if (s.role === 'standby') {
      const at = new Date(this.#d.clock.wallNow()).toISOString();
      await this.#d.state.update((st) => {
        st.demotedEpoch = Math.max(st.demotedEpoch, command.epoch);
        st.reports.demote = {
          operation: 'demote',
          operationId: command.id,
          epoch: command.epoch,
          status: 'ok',
          detail: `${command.id}: already standby`,
          at,
        };
      });
      return this.#finishCommand(command.id, 'ok', 'already standby');
    }
    await this.#demote({
      epoch: Math.max(command.epoch, s.roleEpoch ?? 0),
      operationId: command.id,
      reason: 'command from the control plane',
      fence: false,
      commandId: command.id,
    });
  }

  async #selfFence(reason: string, epoch: number): Promise<void> {
    if (this.#d.state.current.role !== 'active') {
      if (this.#fenceRequested) this.#log.debug('self-fence: no longer active', { role: this.role });
      return;
    }
    await this.#demote({
      epoch,
      operationId: `self-fence-${epoch}-${Math.round(this.#d.clock.wallNow())}`,
      reason,
      fence: true,
    });
  }

  /**
   * Leaves the active role: from now on no grant under `epoch` (or below) is accepted, then the demote hook runs,
   * then the fence hook if asked (or if the lease lapsed meanwhile).
   */
  async #demote(request: DemoteRequest): Promise<void> {
    const state = this.#d.state;
    this.#fenceRequested = this.#fenceRequested || request.fence;
    this.#journalStopped(`demote: ${request.reason}`);
    // The lease of this epoch is over; one granted under a newer epoch (queued promotion) is kept.
    if (this.#lease && this.#lease.epoch <= request.epoch) this.#dropLease();
    this.#held = this.#held.filter((h) => h.epoch > request.epoch);
    this.#peerCarrying = false;
    await state.update((st) => {
      st.role = 'demoting';
      st.roleEpoch = st.roleEpoch ?? request.epoch;
      st.demotedEpoch = Math.max(st.demotedEpoch, request.epoch);
    });
    const context: HookContext = {
      operation: 'demote',
      operationId: request.operationId,
      epoch: request.epoch,
      role: 'standby',
      reason: request.reason,
    };
    const demoted = await this.#runHook(context);
    let fenced: OperationResult | undefined;
    if (this.#fenceRequested) {
      this.#fenceRequested = false;
      fenced = await this.#runHook({ ...context, operation: 'fence' });
    }
    await state.update((st) => {
      st.role = 'standby';
      st.roleEpoch = null;
    });
    if (request.commandId) {
      // A demote command's outcome is the demote hook's (a fence that follows is in its steps); a fence command's
      // is the worse of both.
      const status = request.fenceCommand ? worse(demoted.status, fenced?.status) : demoted.status;
      await this.#finishCommand(
        request.commandId,
        status,
        fenced ? `${demoted.detail}; ${fenced.detail}` : demoted.detail,
        fenced ? [demoted, fenced] : [demoted],
      );
    }
    this.#log.info('standby', {
      epoch: request.epoch,
      demote: demoted.status,
      ...(fenced ? { fence: fenced.status } : {}),
    });
    await this.#writeStatus();
  }

  /** Fences a node that is not active (it lost an arbitration): it takes no grant under `epoch` any more. */
  async #fenceOnly(epoch: number, operationId: string, reason: string): Promise<OperationResult> {
    await this.#d.state.update((st) => {
      st.demotedEpoch = Math.max(st.demotedEpoch, epoch);
    });
    const result = await this.#runHook({ operation: 'fence', operationId, epoch, role: 'standby', reason });
    await this.#writeStatus();
    return result;
  }

  /**
   * A fence command: the node takes no grant under its epoch any more; an active (or promoting) node demotes and
   * fences, a standby runs the fence hook.
   */
  async #fenceCommand(command: { id: string; epoch: number }): Promise<void> {
    const s = this.#d.state.current;
    if (command.epoch < s.highestEpoch)
      return this.#finishCommand(command.id, 'refused', `epoch ${command.epoch} is no longer current`);
    const reason = 'fence command from the control plane';
    if (s.role !== 'standby')
      return this.#demote({
        epoch: Math.max(command.epoch, s.roleEpoch ?? 0),
        operationId: command.id,
        reason,
        fence: true,
        commandId: command.id,
        fenceCommand: true,
      });
    const fenced = await this.#fenceOnly(command.epoch, command.id, reason);
    await this.#finishCommand(command.id, fenced.status, fenced.detail, [fenced]);
  }

  /**
   * A fence-peer command: the `fencePeer` hook powers the peer off (through its BMC). An action on another node:
   * this node's role, epochs and lease stay as they are; the acknowledgement (ok only when the hook verified the
   * power-off) is the control plane's fencing evidence. The epoch is checked again when its turn comes.
   */
  async #fencePeer(command: { id: string; epoch: number; targetNodeId: string }): Promise<void> {
    const s = this.#d.state.current;
    if (command.epoch < s.highestEpoch)
      return this.#finishCommand(command.id, 'refused', `epoch ${command.epoch} is no longer current`);
    const result = await this.#runHook({
      operation: 'fence-peer',
      operationId: command.id,
      epoch: command.epoch,
      reason: `fence-peer command from the control plane: ${command.targetNodeId} held epoch ${command.epoch}`,
      targetNodeId: command.targetNodeId,
    });
    // No steps is no power-off: never acknowledged as a fence.
    const status = result.steps.length === 0 ? 'fail' : result.status;
    await this.#finishCommand(command.id, status, result.detail, [result]);
  }

  /**
   * The journal's record of this loop iteration (when one is kept): `mayActAsActive` — role active and a lease that
   * holds on the monotonic clock, checked right now — extends the acting interval, anything else closes it.
   */
  #journalTick(): void {
    const journal = this.#d.journal;
    if (!journal) return;
    const s = this.#d.state.current;
    if (this.mayActAsActive()) journal.acting(s.roleEpoch ?? s.highestEpoch);
    else this.#journalStopped(s.role === 'active' ? 'the lease lapsed' : `role ${s.role}`);
  }

  /**
   * Closes the journal's open interval, if any, at the moment the agent stopped acting: now, or the end of its lease
   * when that came first (a process paused past its lease notices only when it runs again: it did not act meanwhile).
   */
  #journalStopped(reason: string): void {
    const journal = this.#d.journal;
    if (!journal) return;
    const end = this.#leaseEndsAt();
    journal.stopped(reason, end === null ? 0 : Math.max(0, this.#d.clock.now() - end));
  }

  #leaseRemaining(): number | null {
    const end = this.#leaseEndsAt();
    return end === null ? null : Math.max(0, Math.round(end - this.#d.clock.now()));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Checks and arbitration

  #afterChecks(round: CheckRound): void {
    const arbitration = this.#s.arbitration;
    if (!arbitration) return;
    const peer = round.checks.find((c) => c.name === arbitration.peerCheck);
    if (!peer) return;
    const now = this.#d.clock.now();
    if (peer.status !== 'fail') {
      if (this.#peerFailingSince !== null) this.#log.info('peer reachable again', { check: peer.name });
      this.#peerFailingSince = null;
      this.#arbitrationDone = false;
      return;
    }
    if (this.#peerFailingSince === null) {
      this.#peerFailingSince = now;
      this.#log.warn('peer check failing', { check: peer.name, detail: peer.detail });
    }
    if (
      now - this.#peerFailingSince >= arbitration.failForMs &&
      !this.#arbitrating &&
      !this.#arbitrationDone &&
      !this.#stopping &&
      now >= this.#nextArbitrationAt &&
      this.#silentFor() === 0
    ) {
      this.#arbitrating = true;
      void this.arbitrate().finally(() => {
        this.#arbitrating = false;
      });
    }
  }

  /**
   * Asks the witness for the vote (the peer check has failed for `failForMs`). Skipped while holding a lease: the
   * control plane hears this node, and arbitration prefers an active it hears from. Exposed for tests.
   */
  async arbitrate(): Promise<ArbitrationAnswer | undefined> {
    const arbitration = this.#s.arbitration;
    if (!arbitration) return undefined;
    if (this.#silentFor() > 0) {
      this.#log.info('peer lost during a drill silence: no arbitration request until it ends');
      return undefined;
    }
    const s = this.#d.state.current;
    if (s.role === 'active' && this.#leaseHolds()) {
      this.#log.info('peer lost while holding the lease: no arbitration needed', { epoch: s.roleEpoch });
      this.#arbitrationDone = true;
      return undefined;
    }
    if (s.highestEpoch < 1) {
      this.#log.warn('peer lost before the control plane ever answered: cannot ask the witness yet');
      this.#arbitrationRetryLater();
      return undefined;
    }
    this.#log.warn('peer lost: asking the witness', { epoch: s.highestEpoch, check: arbitration.peerCheck });
    const checks = this.#round.checks.map(({ name, status, detail }) => ({ name, status, detail }));
    const result = await this.#d.client.arbitrate({ epoch: s.highestEpoch, checks });
    let answer = this.#arbitrationAnswer(result);
    if (answer === 'retry') {
      this.#arbitrationRetryLater();
      return undefined;
    }
    if (answer.decision === 'pending') {
      const polled = await this.#pollArbitration(answer.statusUrl ?? '', arbitration.pollTimeoutMs);
      if (!polled) {
        this.#arbitrationRetryLater();
        return undefined;
      }
      answer = polled;
    }
    this.#arbitrationFailures = 0;
    await this.#onArbitration(answer);
    return answer;
  }

  #arbitrationRetryLater(): void {
    this.#arbitrationFailures++;
    const delay = Math.min(30_000, this.#intervalMs * 2 ** Math.min(10, this.#arbitrationFailures));
    this.#nextArbitrationAt = this.#d.clock.now() + delay;
  }

  #arbitrationAnswer(result: ApiResult): ArbitrationAnswer | 'retry' {
    if (!result.ok) {
      this.#log.warn('arbitration request failed', { error: result.message });
      return 'retry';
    }
    const { status, json } = result.answer;
    if (status !== 200 && status !== 202) {
      this.#log.warn('arbitration refused', { httpStatus: status, error: describeError(status, json) });
      return 'retry';
    }
    const parsed = arbitrationAnswerSchema.safeParse(json);
    if (!parsed.success) {
      this.#log.warn('arbitration answer not understood', { httpStatus: status });
      return 'retry';
    }
    return status === 202 ? { ...parsed.data, decision: 'pending' } : parsed.data;
  }

  async #pollArbitration(statusUrl: string, timeoutMs: number): Promise<ArbitrationAnswer | undefined> {
    const { clock } = this.#d;
    const deadline = clock.now() + timeoutMs;
    let delay = 500;
    while (!this.#stopping && clock.now() < deadline && this.#silentFor() === 0) {
      await sleep(clock, delay, this.#loops.signal);
      if (this.#silentFor() > 0) break;
      if (this.#peerFailingSince === null) {
        this.#log.info('peer back while the arbitration was pending: stopped polling');
        return undefined;
      }
      const result = await this.#d.client.arbitrationStatus(statusUrl);
      if (result.ok && result.answer.status === 404) {
        this.#log.warn('the arbitration is gone (404)');
        return undefined;
      }
      const answer = this.#arbitrationAnswer(result);
      if (answer !== 'retry' && answer.decision !== 'pending') return answer;
      const retryAfter = result.ok ? (result.answer.retryAfterMs ?? 0) : 0;
      delay = Math.min(5000, Math.max(delay * 2, retryAfter));
    }
    if (!this.#stopping) this.#log.warn('the arbitration stayed pending: giving up for now', { timeoutMs });
    return undefined;
  }

  async #onArbitration(answer: ArbitrationAnswer): Promise<void> {
    this.#arbitrationDone = true;
    const at = new Date(this.#d.clock.wallNow()).toISOString();
    const epoch = answer.epoch ?? this.#d.state.current.highestEpoch;
    this.#arbitration = {
      at,
      decision: answer.decision,
      epoch,
      ...(answer.winner ? { winner: answer.winner } : {}),
    };
    if (epoch > this.#d.state.current.highestEpoch)
      await this.#d.state.update((st) => {
        st.highestEpoch = Math.max(st.highestEpoch, epoch);
      });
    if (answer.fence) {
      this.#log.warn('arbitration lost: fencing, staying standby', {
        decision: answer.decision,
        epoch,
        winner: answer.winner,
      });
      const s = this.#d.state.current;
      const reason = `arbitration ${answer.decision} at epoch ${epoch} (winner ${answer.winner ?? '?'})`;
      void this.#enqueue(() =>
        s.role === 'standby'
          ? this.#fenceOnly(epoch, `arbitration-${epoch}`, reason).then(() => undefined)
          : this.#demote({ epoch, operationId: `arbitration-${epoch}`, reason, fence: true }),
      );
    } else if (answer.decision === 'refused') {
      // The cluster's failover policy kept the active (manual mode, anti-flapping): nothing changes here.
      this.#log.warn('arbitration refused by the failover policy: keeping the current roles', {
        epoch,
        active: answer.winner,
        reason: answer.reason,
      });
    } else {
      // Never active on this answer alone: only a lease granted by a later heartbeat makes the node active.
      this.#log.info('arbitration won: waiting for a heartbeat to grant the lease', {
        decision: answer.decision,
        epoch,
      });
      this.#kick?.abort();
    }
    await this.#writeStatus();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Loops and shutdown

  #jittered(ms: number): number {
    return Math.max(0, ms * (1 + this.#s.jitterRatio * (2 * this.#random() - 1)));
  }

  /** The delay before the next heartbeat after `failures` failures in a row. */
  nextDelay(retryAfterMs = 0): number {
    if (this.#failures === 0) return this.#jittered(this.#intervalMs);
    // A standby bound by a promise has something at stake too: the control plane should hear it as soon as it is back
    // (the promise tells it the active is alive; a silent standby cannot be promoted afterwards either).
    const bound =
      this.#d.peer !== undefined &&
      bindingPromise(this.#d.peer.store.promises, this.#d.clock.now()) !== undefined;
    const leaseAtStake = this.#d.state.current.role !== 'standby' || this.#lease !== null || bound;
    const cap = leaseAtStake ? this.#intervalMs : Math.max(this.#intervalMs, this.#s.maxBackoffMs);
    const backoff = this.#intervalMs * 2 ** Math.min(20, this.#failures - 1);
    return this.#jittered(Math.min(cap, Math.max(backoff, retryAfterMs)));
  }

  async #heartbeatLoop(): Promise<void> {
    const { clock } = this.#d;
    // Heartbeats go on while stopping, until the hooks are done: a running promotion still needs its lease.
    while (!this.#loops.signal.aborted) {
      // A drill's silence: the loop waits it out (a kick does not end it), then heartbeats at once.
      const silent = this.#silentFor();
      if (silent > 0) {
        this.#journalTick();
        await sleep(clock, silent, this.#loops.signal);
        continue;
      }
      let answered = false;
      try {
        answered = await this.heartbeatOnce();
      } catch (error) {
        this.#log.error('heartbeat broke', { error: errorMessage(error) });
        this.#failures++;
      }
      // The control plane did not answer: the active asks its peers (in the background, every interval).
      if (!answered && this.#d.peer && !this.#askingPeers) void this.askPeersOnce();
      this.#journalTick();
      if (this.#loops.signal.aborted) break;
      const kick = new AbortController();
      this.#kick = kick;
      const stop = () => kick.abort();
      this.#loops.signal.addEventListener('abort', stop, { once: true });
      await sleep(clock, this.nextDelay(this.#retryAfterMs), kick.signal);
      this.#loops.signal.removeEventListener('abort', stop);
    }
  }

  /**
   * The active's promise rounds, on their own clock: every heartbeat interval while its control-plane lease is not
   * being renewed — the last granted heartbeat was sent more than 1.5 intervals ago. Not tied to the heartbeat's own
   * completion: a control plane that black-holes requests holds each heartbeat until its timeout, longer than a
   * promise lasts.
   */
  async #peerLoop(): Promise<void> {
    const { clock } = this.#d;
    while (!this.#loops.signal.aborted) {
      await sleep(clock, this.#intervalMs, this.#loops.signal);
      if (this.#loops.signal.aborted) break;
      const lease = this.#lease;
      const renewing = lease !== null && clock.now() - lease.sentAt <= 1.5 * this.#intervalMs;
      if (!renewing && !this.#askingPeers) {
        try {
          await this.askPeersOnce();
        } catch (error) {
          this.#log.error('peer promise round broke', { error: errorMessage(error) });
        }
      }
    }
  }

  async #checkLoop(): Promise<void> {
    const { clock } = this.#d;
    while (!this.#loops.signal.aborted) {
      await sleep(clock, this.#jittered(this.#s.checkIntervalMs ?? this.#intervalMs), this.#loops.signal);
      if (this.#loops.signal.aborted) break;
      try {
        await this.runChecks();
      } catch (error) {
        this.#log.error('checks broke', { error: errorMessage(error) });
      }
    }
  }

  async #stop(reason: string): Promise<void> {
    this.#stopping = true;
    this.#log.info('stopping', { reason, role: this.role });
    const { clock } = this.#d;
    const bounded = async (promise: Promise<void>, ms: number) => {
      let done = false;
      await Promise.race([promise.then(() => (done = true)), sleep(clock, ms)]);
      return done;
    };
    if (this.#pendingOps > 0) {
      this.#log.info('waiting for the running hook to finish', {
        operation: this.#current?.operation,
        timeoutMs: this.#s.shutdownTimeoutMs,
      });
      if (!(await bounded(this.idle(), this.#s.shutdownTimeoutMs))) {
        this.#log.warn('the hook did not finish in time: stopping it', {
          operation: this.#current?.operation,
        });
        this.#current?.abort.abort(new Error('the agent is stopping'));
        await bounded(this.idle(), 10_000);
      }
    }
    const s = this.#d.state.current;
    if (s.role === 'active' && this.#s.demoteOnShutdown)
      await this.#enqueue(() =>
        this.#demote({
          epoch: s.roleEpoch ?? s.highestEpoch,
          operationId: `shutdown-${s.roleEpoch ?? s.highestEpoch}-${Math.round(clock.wallNow())}`,
          reason: 'the agent is stopping: no one would fence this node once it is gone',
          fence: false,
        }),
      );
    this.#loops.abort();
    await Promise.all(this.#loopPromises);
    this.#acks.stop();
    await this.#acks.settled();
    this.#journalStopped(`the agent stopped: ${reason}`);
    this.#dropLease();
    await this.#peerListener?.close();
    await this.#writeStatus();
    this.#log.info('stopped', { role: this.role });
  }

  #status(): AgentStatus {
    const s = this.#d.state.current;
    const { clock } = this.#d;
    const remaining = this.#leaseRemaining();
    return {
      pid: process.pid,
      clusterId: this.#s.clusterId,
      nodeId: this.#s.nodeId,
      startedAt: this.#startedAt,
      updatedAt: new Date(clock.wallNow()).toISOString(),
      role: s.role,
      roleEpoch: s.roleEpoch,
      highestEpoch: s.highestEpoch,
      demotedEpoch: s.demotedEpoch,
      seqReserved: s.seqReserved,
      heartbeatIntervalMs: this.#intervalMs,
      lease:
        this.#lease && remaining !== null
          ? {
              epoch: this.#lease.epoch,
              durationMs: this.#lease.durationMs,
              expiresAt: new Date(clock.wallNow() + remaining).toISOString(),
              remainingMs: remaining,
            }
          : null,
      lastHeartbeat: this.#lastHeartbeat,
      lastSuccessAt: this.#lastSuccessAt,
      consecutiveFailures: this.#failures,
      checks: this.#round.checks.map(({ name, status, detail }) => ({ name, status, detail })),
      reports: s.reports,
      hooks: this.#hooks,
      commands: s.commands.slice(-20),
      arbitration: this.#arbitration,
      drill:
        this.#silentUntil !== null && s.drillSilence
          ? {
              commandId: s.drillSilence.commandId,
              epoch: s.drillSilence.epoch,
              silentUntil: new Date(
                clock.wallNow() + Math.max(0, this.#silentUntil - clock.now()),
              ).toISOString(),
            }
          : null,
      ...(this.#d.peer ? { peer: this.#peerStatus(this.#d.peer.store) } : {}),
    };
  }

  #peerStatus(store: PromiseStore): PeerStatus {
    const { clock } = this.#d;
    const now = clock.now();
    const iso = (t: number) => new Date(clock.wallNow() + (t - now)).toISOString();
    const peerEnd = this.#peerLeaseEndsAt();
    const set = this.#promotable;
    return {
      url: this.#peerUrl,
      closedEpoch: store.closedEpoch,
      promises: store.promises
        .filter((p) => p.until > now)
        .map((p) => ({
          to: p.to,
          epoch: p.epoch,
          until: iso(p.until),
          remainingMs: Math.ceil(p.until - now),
        })),
      promotable: set
        ? {
            epoch: set.epoch,
            nodes: set.nodes.map((n) => n.nodeId),
            withoutListener: set.nodes.filter((n) => n.url === null).map((n) => n.nodeId),
          }
        : null,
      peerLease:
        peerEnd !== null && set && now < peerEnd
          ? {
              epoch: set.epoch,
              from: set.nodes.map((n) => n.nodeId),
              until: iso(peerEnd),
              remainingMs: Math.round(peerEnd - now),
            }
          : null,
    };
  }

  async #writeStatus(): Promise<void> {
    try {
      await this.#d.writeStatus(this.#status());
    } catch (error) {
      this.#log.warn('cannot write the status file', { error: errorMessage(error) });
    }
  }
}

const COMMAND_TYPES: readonly string[] = AGENT_COMMAND_TYPES;
const isCommandType = (type: string): type is CommandRecord['type'] => COMMAND_TYPES.includes(type);

/** The worse of two hook outcomes. */
function worse(
  a: OperationResult['status'],
  b: OperationResult['status'] | undefined,
): OperationResult['status'] {
  const rank = { ok: 0, warn: 1, fail: 2 } as const;
  return b !== undefined && rank[b] > rank[a] ? b : a;
}

/** "401 BadSignature: the request signature does not match", from the control plane's error JSON. */
export function describeError(status: number, json: unknown): string {
  const error = readErrorBody(json);
  const code = error?.code ?? '';
  const message = error?.message ?? '';
  const hint =
    status === 401
      ? ' (check key.file and key.version, that the clock is in sync, and that this node is in the cluster document with its key issued)'
      : status === 403
        ? ' (is this node in the cluster document, and was its key issued?)'
        : '';
  return `HTTP ${status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}${hint}`;
}
