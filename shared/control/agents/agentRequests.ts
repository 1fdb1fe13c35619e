import type { z } from 'zod';
import { parseStrictJson } from '../../contracts/json';
import { REPLAYED_SEQUENCE } from '../../contracts/errors';
import { isId } from '../../contracts/ids';
import { deriveNodeKey } from '../../auth/nodeKeys';
import {
  SIGNATURE_HEADERS,
  verifySignedRequest,
  type RejectedRequest,
  type VerifiedRequest,
} from '../../auth/signedRequest';
import type { ClusterDocument } from '../../domain/clusterDocument';
import type { Services } from '../../services/services';
import { refuse, type Refusal } from '../common/outcome';

/** The contract schemas, under the names the control plane has used. */
export {
  checkReportSchema as checkSchema,
  heartbeatBodySchema,
  type HeartbeatBody,
} from '../../contracts/agentApi';

/**
 * Parses a signed agent request's JSON body against `schema`; otherwise a refusal (`unprocessable`, 422) naming every
 * problem.
 */
export function parseAgentBody<T>(
  raw: Buffer,
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
  what: string,
): { ok: true; value: T } | { ok: false; refusal: Refusal } {
  const json = parseStrictJson(raw.toString('utf8'));
  if (!json.ok) {
    // A duplicate key or a number out of range is answered like any body that is not JSON, naming where.
    const message =
      json.reason === 'syntax'
        ? `the ${what} body is not JSON`
        : `the ${what} body is not valid JSON: ${json.message}`;
    const refusal = refuse(
      'unprocessable',
      'InvalidJson',
      message,
      json.path ? { path: json.path } : undefined,
    );
    return { ok: false, refusal };
  }
  const parsed = schema.safeParse(json.value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const problems = parsed.error.issues.map((i) => ({
    path: i.path.join('.') || '(body)',
    message: i.message,
  }));
  const code = `Invalid${what.charAt(0).toUpperCase()}${what.slice(1).replace(/ (\w)/g, (_m, c: string) => c.toUpperCase())}`;
  const refusal = refuse('unprocessable', code, `the ${what} body is invalid`, { problems });
  return { ok: false, refusal };
}

/** The last sequence number accepted from a node, and the key version it was signed with. */
export interface LastSequence {
  seq: number;
  keyVersion: number;
}

/**
 * Replay protection with one sequence per key version: a request signed with a newer key version than the last
 * accepted one starts afresh (so a node that exhausted its sequence numbers recovers by key rotation), one with an
 * older version is refused (the node has moved to the new key), and otherwise the sequence must exceed the last.
 */
export function sequenceRefusal(
  request: { seq: number; keyVersion: number },
  last: LastSequence,
): Refusal | undefined {
  if (request.keyVersion > last.keyVersion) return undefined;
  if (request.keyVersion < last.keyVersion)
    return refuse(
      'conflict',
      'StaleKeyVersion',
      `key version ${request.keyVersion} was replaced: this node already signed with version ${last.keyVersion}`,
      { keyVersion: last.keyVersion },
    );
  if (request.seq <= last.seq)
    return refuse(
      'conflict',
      REPLAYED_SEQUENCE,
      `sequence ${request.seq} is not above the last accepted ${last.seq}`,
      { lastAcceptedSeq: last.seq },
    );
  return undefined;
}

/**
 * The epoch check of `/agent/arbitrate`: an arbitration is about the partition under the cluster's current epoch.
 * A request naming an older epoch is stale (the cluster moved on: 409 StaleEpoch naming the current one), one naming
 * a later epoch is impossible (409 EpochAhead); either way no arbitration is started, so a node holding a key cannot
 * raise the epoch by asking.
 */
export function arbitrationEpochRefusal(requestedEpoch: number, currentEpoch: number): Refusal | undefined {
  if (requestedEpoch > currentEpoch)
    return refuse(
      'conflict',
      'EpochAhead',
      `epoch ${requestedEpoch} is ahead of the cluster's ${currentEpoch}`,
      {
        currentEpoch,
      },
    );
  if (requestedEpoch < currentEpoch)
    return refuse(
      'conflict',
      'StaleEpoch',
      `epoch ${requestedEpoch} is stale: the cluster is at epoch ${currentEpoch}; arbitrate under that one if the peer is still lost`,
      { currentEpoch },
    );
  return undefined;
}

interface Cached<T> {
  value: T;
  readAt: number;
}

/**
 * Short-lived caches of what every agent request needs: the cluster document and the node's key version. Changes
 * made through this process (a declaration, a key rotation) apply at once: the admin handlers call `forgetCluster` /
 * `forgetNode`. Changes made through another instance apply within the TTLs: a node removed from the document within
 * `documentTtlMs` (1 s), a key rotation within `keyTtlMs` (10 s, ±25% jitter) — and an older key version is refused
 * as soon as the node has signed with the newer one (the sequence is kept per key version, see `sequenceRefusal`).
 */
export class AgentDirectory {
  readonly #documents = new Map<string, Cached<ClusterDocument | undefined>>();
  readonly #keyVersions = new Map<string, Cached<number | undefined>>();
  /** Derived node keys: HKDF costs more CPU than the signature check, so derive each key once. */
  readonly #keys = new Map<string, Buffer>();

  constructor(
    private readonly services: Services,
    private readonly keyTtlMs = 10_000,
    private readonly documentTtlMs = 1000,
  ) {}

  /** Drops what is cached about a cluster (its document and every node's key version): it was just re-declared. */
  forgetCluster(clusterId: string): void {
    this.#documents.delete(clusterId);
    for (const key of this.#keyVersions.keys())
      if (key.startsWith(`${clusterId}~`)) this.#keyVersions.delete(key);
  }

  /** Drops the cached key version of a node: its key was just issued or rotated. */
  forgetNode(clusterId: string, nodeId: string): void {
    this.#keyVersions.delete(`${clusterId}~${nodeId}`);
  }

  async document(clusterId: string): Promise<ClusterDocument | undefined> {
    const now = this.services.now();
    const cached = this.#documents.get(clusterId);
    if (cached && now - cached.readAt < this.documentTtlMs) return cached.value;
    const stored = await this.services.clusters.getDocument(clusterId);
    this.#documents.set(clusterId, { value: stored?.document, readAt: now });
    return stored?.document;
  }

  /** The node's current key version; `atLeast` (the version a request claims) bypasses a cache that is behind. */
  async keyVersion(clusterId: string, nodeId: string, atLeast = 0): Promise<number | undefined> {
    const now = this.services.now();
    const key = `${clusterId}~${nodeId}`;
    const cached = this.#keyVersions.get(key);
    // Only the next version (a rotation this cache has not seen) forces a read: unsigned requests claiming any
    // version must not be able to turn every request into a storage read.
    const behind = cached?.value !== undefined && atLeast === cached.value + 1;
    if (cached && cached.value !== undefined && !behind && now - cached.readAt < this.keyTtlMs)
      return cached.value;
    const stored = await this.services.credentials.get(clusterId, nodeId);
    // Entries filled together must not expire together: spread their refreshes over ±25% of the TTL.
    const jitter = (Math.random() - 0.5) * 0.5 * this.keyTtlMs;
    this.#keyVersions.set(key, { value: stored?.credential.keyVersion, readAt: now + jitter });
    return stored?.credential.keyVersion;
  }

  #derivedKey(clusterId: string, nodeId: string, version: number): Buffer {
    const id = `${clusterId}~${nodeId}~${version}`;
    let key = this.#keys.get(id);
    if (!key) {
      key = deriveNodeKey(this.services.config.nodeKeyMaster, clusterId, nodeId, version);
      this.#keys.set(id, key);
    }
    return key;
  }

  /**
   * Verifies a signed agent request: the node must be in the cluster's document and hold an issued key of the
   * version it signed with (the current one, or the one before during a rotation).
   */
  async verify(
    method: string,
    path: string,
    headers: Record<string, string | undefined>,
    body: Buffer,
  ): Promise<VerifiedRequest | RejectedRequest> {
    const clusterId = headers[SIGNATURE_HEADERS.cluster] ?? '';
    const nodeId = headers[SIGNATURE_HEADERS.node] ?? '';
    const { config } = this.services;
    let document: ClusterDocument | undefined;
    let current: number | undefined;
    if (isId(clusterId) && isId(nodeId) && body.length <= config.agentMaxBodyBytes) {
      document = await this.document(clusterId);
      const claimed = Number(headers[SIGNATURE_HEADERS.keyVersion]);
      if (document?.nodes.some((n) => n.id === nodeId)) {
        current = await this.keyVersion(clusterId, nodeId, Number.isSafeInteger(claimed) ? claimed : 0);
      }
    }
    return verifySignedRequest({
      method,
      path,
      headers,
      body,
      now: this.services.now(),
      toleranceMs: config.agentClockToleranceMs,
      maxBodyBytes: config.agentMaxBodyBytes,
      keyFor: (c, n, version) =>
        document &&
        current !== undefined &&
        c === clusterId &&
        n === nodeId &&
        (version === current || version === current - 1) &&
        version >= 1
          ? this.#derivedKey(c, n, version)
          : undefined,
    });
  }
}
