import type { VerifiedRequest } from '../auth/signedRequest';
import type { AgentCommand, HeartbeatReply } from '../contracts/agentApi';
import { REPLAYED_SEQUENCE } from '../contracts/errors';
import type { ClusterDocument } from '../domain/clusterDocument';
import { initialClusterState, type ClusterState, type NodeHeartbeat } from '../domain/clusterState';
import { grantLease, reaffirm } from '../domain/decisions';
import type { Services } from '../services/services';
import { heartbeatBodySchema, parseAgentBody, type AgentDirectory, type AgentReply } from './agentRequests';

export type { AgentReply } from './agentRequests';

export type { AgentCommand, HeartbeatReply } from '../contracts/agentApi';

interface CachedState {
  state: ClusterState;
  etag: string;
  readAt: number;
}

const replayed = (seq: number, last: number): AgentReply => ({
  status: 409,
  body: {
    error: {
      code: REPLAYED_SEQUENCE,
      message: `sequence ${seq} is not above the last accepted ${last}`,
      lastAcceptedSeq: last,
    },
  },
});

const busy = (what: string): AgentReply => ({
  status: 503,
  headers: { 'retry-after': '1' },
  body: { error: { code: 'Busy', message: `${what} changed concurrently twice; retry` } },
});

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
  readonly #rows = new Map<string, { seq: number; etag: string }>();

  constructor(
    private readonly services: Services,
    private readonly directory: AgentDirectory,
    private readonly stateTtlMs = 1000,
  ) {}

  async handle(request: VerifiedRequest, rawBody: Buffer): Promise<AgentReply> {
    const parsed = parseAgentBody(rawBody, heartbeatBodySchema, 'heartbeat');
    if (!parsed.ok) return parsed.reply;
    const document = await this.directory.document(request.clusterId);
    if (!document)
      return {
        status: 403,
        body: {
          error: { code: 'NodeNotInCluster', message: `cluster ${request.clusterId} is not declared` },
        },
      };
    const body = parsed.value;
    const record: NodeHeartbeat = {
      clusterId: request.clusterId,
      nodeId: request.nodeId,
      seq: request.seq,
      receivedAt: this.services.now(),
      role: body.role,
      epoch: body.epoch,
      checks: body.checks,
      ...(body.replicationLagMs !== undefined ? { replicationLagMs: body.replicationLagMs } : {}),
      ...(body.gpu !== undefined ? { gpu: body.gpu } : {}),
    };
    for (let attempt = 0; attempt < 2; attempt++) {
      const cached = await this.#state(document, attempt > 0);
      const reply =
        cached.state.activeNodeId === record.nodeId && !cached.state.revoked
          ? await this.#asActive(document, cached, record, body.demotedAtEpoch)
          : await this.#asStandby(document, cached.state, record, attempt > 0);
      if (reply !== 'conflict') return reply;
    }
    return busy(`the state of ${request.clusterId}`);
  }

  /**
   * Accepts the sequence number of a signed request that is not a heartbeat (arbitration): it must exceed the node's
   * last accepted one, and is recorded with one conditional write of the node's heartbeat row (created from
   * `fallback` if the node never sent a heartbeat), so the request cannot be replayed. A reply means refused.
   */
  async consumeSequence(
    document: ClusterDocument,
    request: VerifiedRequest,
    fallback: Omit<NodeHeartbeat, 'clusterId' | 'nodeId' | 'seq'>,
  ): Promise<AgentReply | undefined> {
    const { state } = await this.#state(document, false);
    const stored = await this.services.heartbeats.get(request.clusterId, request.nodeId);
    const asActive = state.activeHeartbeat?.nodeId === request.nodeId ? state.activeHeartbeat.seq : 0;
    const last = Math.max(stored?.record.seq ?? 0, asActive);
    if (request.seq <= last) return replayed(request.seq, last);
    const record = stored
      ? { ...stored.record, seq: request.seq }
      : { ...fallback, clusterId: request.clusterId, nodeId: request.nodeId, seq: request.seq };
    const write = await this.services.heartbeats.put(record, stored?.etag);
    const key = `${request.clusterId}~${request.nodeId}`;
    if (!write.ok) {
      this.#rows.delete(key);
      return replayed(request.seq, last);
    }
    this.#rows.set(key, { seq: request.seq, etag: write.etag });
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
    const refresh = (async () => {
      const stored =
        (await this.services.clusters.getState(document.id)) ??
        (await this.services.clusters.createState(
          initialClusterState(document.id, document.nodes.find((n) => n.role === 'active')?.id ?? '', now),
        ));
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
  ): Promise<{ seq: number; etag: string | undefined }> {
    const key = `${record.clusterId}~${record.nodeId}`;
    let row = fresh ? undefined : this.#rows.get(key);
    if (!row) {
      const stored = await this.services.heartbeats.get(record.clusterId, record.nodeId);
      row = stored ? { seq: stored.record.seq, etag: stored.etag } : { seq: 0, etag: '' };
      this.#rows.set(key, row);
    }
    const asActive = state.activeHeartbeat?.nodeId === record.nodeId ? state.activeHeartbeat.seq : 0;
    return { seq: Math.max(row.seq, asActive), etag: row.etag || undefined };
  }

  async #asActive(
    document: ClusterDocument,
    cached: CachedState,
    record: NodeHeartbeat,
    demotedAt: number | undefined,
  ): Promise<AgentReply | 'conflict'> {
    const { state } = cached;
    const last = await this.#lastSeq(record, state, false);
    if (record.seq <= last.seq) return replayed(record.seq, last.seq);
    // The active demoted itself under the current epoch (its lease lapsed) and refuses grants under it: keep it
    // active under a new epoch — the same node, so no other node's lease is involved — and grant under that.
    // An epoch ahead of the store is refused before anything else (a raised epoch must not make it look current).
    const raise = demotedAt !== undefined && demotedAt >= state.epoch && record.epoch <= state.epoch;
    const base = raise
      ? reaffirm(
          state,
          record.receivedAt,
          `${record.nodeId} demoted itself under epoch ${state.epoch}; active again`,
        )
      : state;
    const decision = grantLease(
      base,
      record.nodeId,
      record.epoch,
      record.receivedAt,
      document.detection.leaseMs,
    );
    if (!decision.granted) {
      return {
        status: 409,
        body: {
          error: {
            code: 'EpochAhead',
            message: `epoch ${record.epoch} is ahead of the cluster's ${state.epoch}`,
          },
        },
      };
    }
    const next: ClusterState = { ...decision.state, activeHeartbeat: record };
    const write = await this.services.clusters.replaceState(next, cached.etag);
    if (!write.ok) return 'conflict';
    this.#setState(document.id, { state: next, etag: write.etag, readAt: cached.readAt });
    return { status: 200, body: this.#reply(document, next, record, decision.leaseMs) };
  }

  async #asStandby(
    document: ClusterDocument,
    state: ClusterState,
    record: NodeHeartbeat,
    fresh: boolean,
  ): Promise<AgentReply | 'conflict'> {
    const last = await this.#lastSeq(record, state, fresh);
    if (record.seq <= last.seq) return replayed(record.seq, last.seq);
    const write = await this.services.heartbeats.put(record, last.etag);
    const key = `${record.clusterId}~${record.nodeId}`;
    if (!write.ok) {
      this.#rows.delete(key);
      return 'conflict';
    }
    this.#rows.set(key, { seq: record.seq, etag: write.etag });
    return { status: 200, body: this.#reply(document, state, record, null) };
  }

  #reply(
    document: ClusterDocument,
    state: ClusterState,
    record: NodeHeartbeat,
    leaseMs: number | null,
  ): HeartbeatReply {
    const role = leaseMs !== null ? 'active' : 'standby';
    const commands: AgentCommand[] = [];
    if (role === 'active' && record.role !== 'active')
      commands.push({ id: `promote-${state.epoch}`, type: 'promote', epoch: state.epoch });
    if (role === 'standby' && record.role === 'active')
      commands.push({ id: `demote-${state.epoch}`, type: 'demote', epoch: state.epoch });
    return {
      role,
      epoch: state.epoch,
      lease: leaseMs === null ? null : { durationMs: leaseMs },
      commands,
      heartbeatIntervalMs: document.detection.heartbeatIntervalMs,
    };
  }
}
