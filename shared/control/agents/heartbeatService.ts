import { BAD_SIGNATURE_MESSAGE, type VerifiedRequest } from '../../auth/signedRequest';
import type { AgentCommand, HeartbeatReply } from '../../contracts/agentApi';
import type { ClusterDocument } from '../../domain/clusterDocument';
import {
  activeHeardAt,
  detectionView,
  nextActiveStreak,
  type ClusterState,
  type NodeHeartbeat,
} from '../../domain/clusterState';
import { grantLease, reaffirm } from '../../domain/decisions';
import { peerLeasesOn } from '../../domain/clusterDocument';
import { MAX_PROMISE_MS, peerConfirmation, promiseMarginMs } from '../../domain/peerPromises';
import type { Services } from '../../services/services';
import {
  heartbeatBodySchema,
  parseAgentBody,
  sequenceRefusal,
  type AgentDirectory,
  type LastSequence,
} from './agentRequests';
import { refuse, type Outcome, type Refusal } from '../common/outcome';
import { silence } from '../detection/failureDetector';
import { countHeartbeat } from '../../telemetry/countHeartbeat';
import { epochPromotable, initialStateFor, MAX_REPLY_PEERS } from '../clusters/epochPromotable';

export type { AgentCommand, HeartbeatReply } from '../../contracts/agentApi';

interface CachedState {
  state: ClusterState;
  etag: string;
  readAt: number;
}

const busy = (what: string): Refusal => ({
  ...refuse('unavailable', 'Busy', `${what} changed concurrently twice; retry`),
  retryAfterSeconds: 1,
});

const epochAhead = (claimed: number, current: number, what: string): Refusal =>
  refuse('conflict', 'EpochAhead', `${what} ${claimed} is ahead of the cluster's ${current}`, {
    currentEpoch: current,
  });

/** The interval a node is told to heartbeat at while it matters (see `#urgent`): a tenth, at least 50 ms. */
export function urgentIntervalMs(intervalMs: number): number {
  return Math.max(50, Math.round(intervalMs / 10));
}

export type HeartbeatOutcome = Outcome<{
  reply: HeartbeatReply;
  /**
   * Set on the heartbeat that makes the active's healthy streak reach the document's `failover.verifyHeartbeats`
   * under its epoch: what a running failover or make-active verifies it by (the caller tells the operation).
   */
  verifiedActive?: { nodeId: string; epoch: number };
  /**
   * Set on a standby's heartbeat when the state it was answered from says the active has been silent for the
   * detection window (once per silence and process): the caller checks on a fresh read and records the detection,
   * so a silence is detected within one standby heartbeat instead of at the detector's next round.
   */
  activeSilent?: true;
}>;

/**
 * The heartbeat path. Steady state costs one storage write per heartbeat: a standby's heartbeat row, or for the
 * active one conditional write of the cluster-state entity that extends the lease and records the heartbeat, based
 * on a cached read. A stale cache only ever costs a 412 and a re-read: it never grants a lease the store would not.
 */
export class HeartbeatService {
  readonly #states = new Map<string, CachedState>();
  readonly #refreshing = new Map<string, Promise<CachedState>>();
  /** Bumped on every cache write: a refresh only stores its result if nothing was written since it started. */
  readonly #generations = new Map<string, number>();
  readonly #rows = new Map<string, { seq: number; keyVersion: number; etag: string }>();
  /** Per cluster, the silence (`<epoch>-<heard at>`) a standby's heartbeat last reported: reported once. */
  readonly #silences = new Map<string, string>();
  /**
   * Per cluster, the peer listener URL each node last advertised (`peer.url` of its heartbeat; null: none), read from
   * the heartbeat rows at most once per `peerUrlTtlMs` and kept current by the heartbeats this process handles: what
   * a grant's `peers` lists without a read per heartbeat.
   */
  readonly #peerUrls = new Map<string, { urls: Map<string, string | null>; readAt: number }>();

  constructor(
    private readonly services: Services,
    private readonly directory: AgentDirectory,
    private readonly stateTtlMs = 1000,
    private readonly peerUrlTtlMs = 10_000,
  ) {}

  async handle(request: VerifiedRequest, rawBody: Buffer): Promise<HeartbeatOutcome> {
    const outcome = await this.#judge(request, rawBody);
    countHeartbeat(outcome); // a counter: the heartbeat path stays one storage write
    return outcome;
  }

  async #judge(request: VerifiedRequest, rawBody: Buffer): Promise<HeartbeatOutcome> {
    const parsed = parseAgentBody(rawBody, heartbeatBodySchema, 'heartbeat');
    if (!parsed.ok) return parsed.refusal;
    const document = await this.directory.document(request.clusterId);
    // Removed since it was verified: the same answer as for any request no key signed.
    if (!document?.nodes.some((n) => n.id === request.nodeId))
      return refuse('unauthenticated', 'BadSignature', BAD_SIGNATURE_MESSAGE);
    const body = parsed.value;
    const receivedAt = this.services.now();
    const record: NodeHeartbeat = {
      clusterId: request.clusterId,
      nodeId: request.nodeId,
      seq: request.seq,
      keyVersion: request.keyVersion,
      receivedAt,
      role: body.role,
      epoch: body.epoch,
      checks: body.checks,
      ...(body.replicationLagMs !== undefined ? { replicationLagMs: body.replicationLagMs } : {}),
      ...(body.gpu !== undefined ? { gpu: body.gpu } : {}),
      ...(body.demotedAtEpoch !== undefined ? { demotedAtEpoch: body.demotedAtEpoch } : {}),
      ...(body.hooks !== undefined ? { hooks: body.hooks } : {}),
      ...(body.peer !== undefined ? { peer: body.peer } : {}),
      // The agent's clock offset plus the transit time (the signed timestamp is within the tolerance already).
      clockSkewMs: receivedAt - request.timestamp,
    };
    for (let attempt = 0; attempt < 2; attempt++) {
      const cached = await this.#state(document, attempt > 0);
      // A node cannot have demoted itself under an epoch the cluster never reached: refused (after a fresh read),
      // so that a node holding a key cannot raise the epoch at will.
      if (body.demotedAtEpoch !== undefined && body.demotedAtEpoch > cached.state.epoch) {
        if (attempt === 0) continue;
        return epochAhead(body.demotedAtEpoch, cached.state.epoch, 'demotedAtEpoch');
      }
      const reply =
        cached.state.activeNodeId === record.nodeId && !cached.state.revoked
          ? await this.#asActive(document, cached, record, body.demotedAtEpoch)
          : await this.#asStandby(document, cached, record, attempt > 0);
      if (reply !== 'conflict') return reply;
    }
    return busy(`the state of ${request.clusterId}`);
  }

  /**
   * Accepts the sequence number of a signed request that is not a heartbeat (arbitration, the signed status GET): it
   * must exceed the node's last accepted one for its key version, and is recorded with one conditional write of the
   * node's heartbeat row (created from `fallback` if the node never sent a heartbeat), so the request cannot be
   * replayed. A refusal (kind `conflict`) means refused.
   */
  async consume(
    document: ClusterDocument,
    request: VerifiedRequest,
    fallback: Omit<NodeHeartbeat, 'clusterId' | 'nodeId' | 'seq'>,
  ): Promise<Refusal | undefined> {
    const { state } = await this.#state(document, false);
    const stored = await this.services.heartbeats.get(request.clusterId, request.nodeId);
    const last = lastAccepted(stored?.record, state, request.nodeId);
    const refused = sequenceRefusal(request, last);
    if (refused) return refused;
    const record = stored
      ? { ...stored.record, seq: request.seq, keyVersion: request.keyVersion }
      : {
          ...fallback,
          clusterId: request.clusterId,
          nodeId: request.nodeId,
          seq: request.seq,
          keyVersion: request.keyVersion,
        };
    const write = await this.services.heartbeats.put(record, stored?.etag);
    const key = `${request.clusterId}~${request.nodeId}`;
    if (!write.ok) {
      this.#rows.delete(key);
      return sequenceRefusal(request, { seq: request.seq, keyVersion: request.keyVersion });
    }
    this.#rows.set(key, { seq: request.seq, keyVersion: request.keyVersion, etag: write.etag });
    return undefined;
  }

  /**
   * The cached state of a cluster. Concurrent heartbeats of a cluster share one refresh, and a refresh never
   * replaces an entry written after it started (a read that was sent before our own write must not bring back the
   * older state and its stale ETag).
   */
  async #state(document: ClusterDocument, fresh: boolean): Promise<CachedState> {
    const now = this.services.now();
    const cached = this.#states.get(document.id);
    if (cached && !fresh && now - cached.readAt < this.stateTtlMs) return cached;
    const inFlight = this.#refreshing.get(document.id);
    if (inFlight && !fresh) return inFlight;
    const generation = this.#generation(document.id);
    const declaredActive = document.nodes.find((n) => n.role === 'active')?.id ?? '';
    const refresh = (async () => {
      const stored =
        (await this.services.clusters.getState(document.id)) ??
        (await this.services.clusters.createState(initialStateFor(document, declaredActive, now)));
      const entry = { ...stored, readAt: now };
      if (this.#generation(document.id) === generation) this.#setState(document.id, entry);
      return this.#states.get(document.id) ?? entry;
    })();
    this.#refreshing.set(document.id, refresh);
    try {
      return await refresh;
    } finally {
      if (this.#refreshing.get(document.id) === refresh) this.#refreshing.delete(document.id);
    }
  }

  #generation(clusterId: string): number {
    return this.#generations.get(clusterId) ?? 0;
  }

  #setState(clusterId: string, entry: CachedState): void {
    this.#states.set(clusterId, entry);
    this.#generations.set(clusterId, this.#generation(clusterId) + 1);
  }

  async #lastSeq(
    record: NodeHeartbeat,
    state: ClusterState,
    fresh: boolean,
  ): Promise<LastSequence & { etag: string | undefined }> {
    const key = `${record.clusterId}~${record.nodeId}`;
    let row = fresh ? undefined : this.#rows.get(key);
    if (!row) {
      const stored = await this.services.heartbeats.get(record.clusterId, record.nodeId);
      row = stored
        ? { seq: stored.record.seq, keyVersion: stored.record.keyVersion ?? 1, etag: stored.etag }
        : { seq: 0, keyVersion: 1, etag: '' };
      this.#rows.set(key, row);
    }
    return { ...lastAccepted(row, state, record.nodeId), etag: row.etag || undefined };
  }

  async #asActive(
    document: ClusterDocument,
    cached: CachedState,
    record: NodeHeartbeat,
    demotedAt: number | undefined,
  ): Promise<HeartbeatOutcome | 'conflict'> {
    const { state } = cached;
    const last = await this.#lastSeq(record, state, false);
    const refused = sequenceRefusal({ seq: record.seq, keyVersion: record.keyVersion ?? 1 }, last);
    if (refused) return refused;
    // The active demoted itself under the current epoch (its lease lapsed) and refuses grants under it: keep it
    // active under a new epoch — the same node, so no other node's lease is involved — and grant under that.
    // An epoch ahead of the store is refused before anything else (a raised epoch must not make it look current).
    const raise = demotedAt === state.epoch && record.epoch <= state.epoch;
    // Unless it stepped down because its promote hook failed under this epoch: making it active again would run the
    // failing hook again at every heartbeat. It stays a standby; the operation that promoted it tries another node
    // (or rolls back). One read, only on this rare path.
    if (raise) {
      const ack = await this.services.commandAcks.get(
        record.clusterId,
        record.nodeId,
        `promote-${state.epoch}`,
      );
      if (ack?.event.epoch === state.epoch && ack.event.outcome === 'failed')
        return this.#asStandby(document, cached, record, false);
    }
    const base = raise
      ? withoutUnsetPromotable(
          reaffirm(
            state,
            record.receivedAt,
            `${record.nodeId} demoted itself under epoch ${state.epoch}; active again`,
            { promotable: epochPromotable(document, record.nodeId) },
          ),
          document,
        )
      : state;
    const decision = grantLease(
      base,
      record.nodeId,
      record.epoch,
      record.receivedAt,
      document.detection.leaseMs,
    );
    if (!decision.granted) return epochAhead(record.epoch, state.epoch, 'epoch');
    const former = state.activeHeartbeat;
    if (former && former.nodeId !== record.nodeId) await this.#carry(former);
    // The epoch's promotable set, recorded with its first grant when the epoch began without one (a state written
    // before peer leases, a promotion that did not record it) while the document has peer leases on. Once set it is
    // never changed within the epoch: the active counts promises against exactly this set.
    const promotable =
      decision.state.promotable ??
      (peerLeasesOn(document.detection) ? epochPromotable(document, record.nodeId) : undefined);
    const next: ClusterState = {
      ...decision.state,
      ...(promotable ? { promotable } : {}),
      activeHeartbeat: record,
      activeStreak: nextActiveStreak(state.activeStreak, record, decision.state.epoch),
    };
    const peers = await this.#peersOf(document, next);
    const write = await this.services.clusters.replaceState(next, cached.etag);
    if (!write.ok) return 'conflict';
    this.#setState(document.id, { state: next, etag: write.etag, readAt: cached.readAt });
    const reached = next.activeStreak?.count === document.failover.verifyHeartbeats;
    return {
      ok: true,
      reply: { ...this.#reply(document, next, record, decision.leaseMs), ...(peers ? { peers } : {}) },
      ...(reached ? { verifiedActive: { nodeId: record.nodeId, epoch: next.epoch } } : {}),
    };
  }

  /**
   * A former active's heartbeats while active live in the state only: before the new active's heartbeat replaces it
   * there, the latest is written to the former active's own row (unless the row holds a later one), so the status
   * keeps showing that node's real last heartbeat and its row keeps the highest sequence accepted from it. One read
   * and at most one write, once per change of active. Losing twice to the node's own writes is fine: theirs is later.
   */
  async #carry(former: NodeHeartbeat): Promise<void> {
    const key = `${former.clusterId}~${former.nodeId}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const stored = await this.services.heartbeats.get(former.clusterId, former.nodeId);
      if (stored && stored.record.receivedAt >= former.receivedAt) return;
      const row = stored?.record;
      const rowLater =
        row !== undefined &&
        ((row.keyVersion ?? 1) > (former.keyVersion ?? 1) ||
          ((row.keyVersion ?? 1) === (former.keyVersion ?? 1) && row.seq > former.seq));
      const record = rowLater ? { ...former, seq: row.seq, keyVersion: row.keyVersion ?? 1 } : former;
      const write = await this.services.heartbeats.put(record, stored?.etag);
      this.#rows.delete(key);
      if (write.ok) return;
    }
  }

  async #asStandby(
    document: ClusterDocument,
    cached: CachedState,
    record: NodeHeartbeat,
    fresh: boolean,
  ): Promise<HeartbeatOutcome | 'conflict'> {
    let { state } = cached;
    const last = await this.#lastSeq(record, state, fresh);
    const refused = sequenceRefusal({ seq: record.seq, keyVersion: record.keyVersion ?? 1 }, last);
    if (refused) return refused;
    const write = await this.services.heartbeats.put(record, last.etag);
    const key = `${record.clusterId}~${record.nodeId}`;
    if (!write.ok) {
      this.#rows.delete(key);
      return 'conflict';
    }
    this.#rows.set(key, { seq: record.seq, keyVersion: record.keyVersion ?? 1, etag: write.etag });
    this.#peerUrls.get(record.clusterId)?.urls.set(record.nodeId, record.peer?.url ?? null);
    state = (await this.#confirmByPeer(document, cached, record)) ?? state;
    return {
      ok: true,
      reply: this.#reply(document, state, record, null),
      ...(this.#activeSilent(state, record) ? { activeSilent: true as const } : {}),
    };
  }

  /**
   * A standby's heartbeat reporting a promise to the current, unrevoked active under the current epoch
   * (`peerConfirmation`) records it in the state (`peerConfirmed`): the active is alive and reaches its peer, so the
   * detector records no failure before the promise ends. Written with If-Match over the state the confirmation was
   * judged on, only when the state has none under this epoch or the one it has is more than a heartbeat interval
   * old — at most about one extra state write per interval while the control plane does not hear the active. A lost
   * race is judged again on a fresh read once, then left to the next heartbeat: never a write over an unseen state.
   * Returns the state written, if any.
   */
  async #confirmByPeer(
    document: ClusterDocument,
    cached: CachedState,
    record: NodeHeartbeat,
  ): Promise<ClusterState | undefined> {
    const promise = record.peer?.promise;
    if (!promise) return undefined;
    // No promise lasts longer than the longest a node gives (plus its margin), whatever a heartbeat claims.
    const longest = MAX_PROMISE_MS + promiseMarginMs(MAX_PROMISE_MS);
    const report = {
      nodeId: record.nodeId,
      to: promise.to,
      epoch: promise.epoch,
      remainingMs: Math.min(promise.remainingMs, longest),
      receivedAt: record.receivedAt,
    };
    let entry = cached;
    for (let attempt = 0; attempt < 2; attempt++) {
      const { state } = entry;
      const confirmed = peerConfirmation(state, [report], record.receivedAt);
      if (!confirmed) return undefined;
      const current = state.peerConfirmed;
      const recent =
        current !== undefined &&
        current.epoch === state.epoch &&
        current.until >= record.receivedAt &&
        record.receivedAt - current.at <= document.detection.heartbeatIntervalMs;
      if (recent || (current?.epoch === state.epoch && current.until >= confirmed.until)) return undefined;
      const next: ClusterState = {
        ...state,
        peerConfirmed: { ...confirmed, at: record.receivedAt },
      };
      const write = await this.services.clusters.replaceState(next, entry.etag);
      if (write.ok) {
        this.#setState(document.id, { state: next, etag: write.etag, readAt: entry.readAt });
        return next;
      }
      if (attempt === 0) entry = await this.#state(document, true);
    }
    return undefined;
  }

  /**
   * The `peers` of a grant: the epoch's promotable set with each node's advertised peer URL, when the document has
   * peer leases on and the set is non-empty (and small enough to send whole). Reads the heartbeat rows at most once
   * per `peerUrlTtlMs` per cluster (one query), never writes.
   */
  async #peersOf(document: ClusterDocument, state: ClusterState): Promise<HeartbeatReply['peers']> {
    const set = state.promotable;
    if (!peerLeasesOn(document.detection) || !set || set.length === 0 || set.length > MAX_REPLY_PEERS)
      return undefined;
    const now = this.services.now();
    let known = this.#peerUrls.get(document.id);
    if (!known || now - known.readAt >= this.peerUrlTtlMs) {
      const rows = await this.services.heartbeats.listForCluster(document.id);
      known = { urls: new Map(rows.map((r) => [r.nodeId, r.peer?.url ?? null])), readAt: now };
      this.#peerUrls.set(document.id, known);
    }
    const urls = known.urls;
    return {
      epoch: state.epoch,
      nodes: set.map((nodeId) => ({ nodeId, url: urls.get(nodeId) ?? null })),
    };
  }

  /**
   * Whether the node should heartbeat faster for now (`urgentIntervalMs`): a failover is under way (the state is
   * revoked); a make-active plan was just shown (`hastenUntil`); the active is about to miss its window (a standby's heartbeat then sees the silence within a fraction
   * of an interval); or this node is a new active not yet verified (its heartbeats are what verifies it). In steady
   * state none holds, so it costs nothing; the agents adopt the interval each answer carries.
   */
  #urgent(document: ClusterDocument, state: ClusterState, record: NodeHeartbeat): boolean {
    if (state.revoked) return true;
    if (state.hastenUntil !== undefined && record.receivedAt < state.hastenUntil) return true;
    const { heartbeatIntervalMs: interval, missedHeartbeats } = document.detection;
    if (state.activeNodeId === record.nodeId) {
      const streak = state.activeStreak;
      return (
        streak !== undefined &&
        streak.nodeId === record.nodeId &&
        streak.epoch === state.epoch &&
        streak.count < document.failover.verifyHeartbeats
      );
    }
    const view = detectionView(state);
    // The active is confirmed alive by a peer's promise: no detection before the confirmation ends (unless it is
    // about to end within an interval).
    if (view.peerConfirmedUntil !== undefined && view.peerConfirmedUntil - record.receivedAt > interval)
      return false;
    const heardAt = activeHeardAt(view);
    if (heardAt === undefined) return false;
    // Late enough that the next interval may end the window, and later than a cached state can make it look.
    // Counted as the detector counts it: from no earlier than this host's start (its own outage is no silence).
    const suspectAfter = Math.max((missedHeartbeats - 1) * interval, 2 * interval + this.stateTtlMs);
    return record.receivedAt - Math.max(heardAt, this.services.startedAt) >= suspectAfter;
  }

  #activeSilent(state: ClusterState, record: NodeHeartbeat): boolean {
    if (state.activeNodeId === record.nodeId) return false;
    const silent = silence(detectionView(state), record.receivedAt, this.services.startedAt);
    if (!silent) return false;
    const key = `${state.epoch}-${silent.heardAt}`;
    if (this.#silences.get(state.clusterId) === key) return false;
    this.#silences.set(state.clusterId, key);
    return true;
  }

  #reply(
    document: ClusterDocument,
    state: ClusterState,
    record: NodeHeartbeat,
    leaseMs: number | null,
  ): HeartbeatReply {
    const role = leaseMs !== null ? 'active' : 'standby';
    const commands: AgentCommand[] = [];
    const to = { clusterId: record.clusterId, nodeId: record.nodeId };
    if (role === 'active' && record.role !== 'active')
      commands.push({ id: `promote-${state.epoch}`, type: 'promote', epoch: state.epoch, ...to });
    if (role === 'standby' && record.role === 'active')
      commands.push({ id: `demote-${state.epoch}`, type: 'demote', epoch: state.epoch, ...to });
    // The cluster's fencer is asked to fence the revoked active until the state records it fenced (a failover's
    // fence step writes the request; the acknowledgement is the evidence the operation waits for).
    const fence = state.fenceRequest;
    if (
      fence &&
      fence.fencer === record.nodeId &&
      fence.epoch === state.epoch &&
      state.revoked &&
      !state.fenced &&
      fence.nodeId !== record.nodeId
    )
      commands.push({
        id: `fence-peer-${fence.nodeId}-${fence.epoch}`,
        type: 'fence-peer',
        epoch: fence.epoch,
        targetNodeId: fence.nodeId,
        ...to,
      });
    // A failover drill tells the active to go silent (it acknowledges, stops heartbeating and self-fences when its
    // lease lapses): only to the node named, while it holds the lease under the drill's epoch and says it is active
    // (not still promoting), never once revoked (the drill's silence has been detected: nothing more to ask).
    const drill = state.drillSilence;
    if (
      drill &&
      role === 'active' &&
      record.role === 'active' &&
      drill.nodeId === record.nodeId &&
      state.activeNodeId === record.nodeId &&
      drill.epoch === state.epoch &&
      !state.revoked
    )
      commands.push({
        id: `drill-silence-${drill.drillId}`,
        type: 'drill-silence',
        epoch: state.epoch,
        silenceMs: drill.silenceMs,
        ...to,
      });
    return {
      role,
      epoch: state.epoch,
      lease: leaseMs === null ? null : { durationMs: leaseMs },
      // To every node: a standby told its epoch is revoked promises nothing more under it (peer promises).
      ...(state.revoked ? { revoked: true } : {}),
      // And once its active is confirmed fenced (powered off, demoted, fenced by its peer): a standby may release
      // its promises under it early — nobody acts under that epoch any more.
      ...(state.revoked && state.fenced ? { fenced: true } : {}),
      commands,
      heartbeatIntervalMs: this.#urgent(document, state, record)
        ? urgentIntervalMs(document.detection.heartbeatIntervalMs)
        : document.detection.heartbeatIntervalMs,
    };
  }
}

/**
 * The last sequence accepted from a node: its heartbeat row's, or the state's if the node is the active and its
 * latest request went there; the later of the two by (key version, sequence).
 */
function lastAccepted(
  row: { seq: number; keyVersion?: number } | undefined,
  state: ClusterState,
  nodeId: string,
): LastSequence {
  const fromRow = { seq: row?.seq ?? 0, keyVersion: row?.keyVersion ?? 1 };
  const hb = state.activeHeartbeat?.nodeId === nodeId ? state.activeHeartbeat : undefined;
  if (!hb) return fromRow;
  const fromState = { seq: hb.seq, keyVersion: hb.keyVersion ?? 1 };
  const stateLater =
    fromState.keyVersion > fromRow.keyVersion ||
    (fromState.keyVersion === fromRow.keyVersion && fromState.seq > fromRow.seq);
  return stateLater ? fromState : fromRow;
}

/**
 * A reaffirmation's state when the document has peer leases off: no promotable set under the new epoch (reaffirm
 * carries the old epoch's otherwise).
 */
function withoutUnsetPromotable(state: ClusterState, document: ClusterDocument): ClusterState {
  if (peerLeasesOn(document.detection)) return state;
  const { promotable: _dropped, ...rest } = state;
  return rest;
}
