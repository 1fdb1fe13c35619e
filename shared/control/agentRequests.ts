import type { z } from 'zod';
import { parseStrictJson } from '../contracts/json';
import { isId } from '../contracts/ids';
import { deriveNodeKey } from '../auth/nodeKeys';
import {
  SIGNATURE_HEADERS,
  verifySignedRequest,
  type RejectedRequest,
  type VerifiedRequest,
} from '../auth/signedRequest';
import type { ClusterDocument } from '../domain/clusterDocument';
import type { Services } from '../services/services';

/** The contract schemas, under the names the control plane has used. */
export {
  checkReportSchema as checkSchema,
  heartbeatBodySchema,
  type HeartbeatBody,
} from '../contracts/agentApi';

export interface AgentReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Parses a signed agent request's JSON body against `schema`; a 422 naming every problem otherwise. */
export function parseAgentBody<T>(
  raw: Buffer,
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
  what: string,
): { ok: true; value: T } | { ok: false; reply: AgentReply } {
  const json = parseStrictJson(raw.toString('utf8'));
  if (!json.ok) {
    // A duplicate key or a number out of range is answered like any body that is not JSON, naming where.
    const message =
      json.reason === 'syntax'
        ? `the ${what} body is not JSON`
        : `the ${what} body is not valid JSON: ${json.message}`;
    return {
      ok: false,
      reply: {
        status: 422,
        body: { error: { code: 'InvalidJson', message, ...(json.path ? { path: json.path } : {}) } },
      },
    };
  }
  const parsed = schema.safeParse(json.value);
  if (parsed.success) return { ok: true, value: parsed.data };
  const problems = parsed.error.issues.map((i) => ({
    path: i.path.join('.') || '(body)',
    message: i.message,
  }));
  const code = `Invalid${what.charAt(0).toUpperCase()}${what.slice(1).replace(/ (\w)/g, (_m, c: string) => c.toUpperCase())}`;
  return {
    ok: false,
    reply: { status: 422, body: { error: { code, message: `the ${what} body is invalid`, problems } } },
  };
}

interface Cached<T> {
  value: T;
  readAt: number;
}

/** Short-lived caches of what every agent request needs: the cluster document and the node's key version. */
export class AgentDirectory {
  readonly #documents = new Map<string, Cached<ClusterDocument | undefined>>();
  readonly #keyVersions = new Map<string, Cached<number | undefined>>();
  /** Derived node keys: HKDF costs more CPU than the signature check, so derive each key once. */
  readonly #keys = new Map<string, Buffer>();

  constructor(
    private readonly services: Services,
    private readonly ttlMs = 10_000,
  ) {}

  async document(clusterId: string): Promise<ClusterDocument | undefined> {
    const now = this.services.now();
    const cached = this.#documents.get(clusterId);
    if (cached && now - cached.readAt < this.ttlMs) return cached.value;
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
    if (cached && cached.value !== undefined && !behind && now - cached.readAt < this.ttlMs)
      return cached.value;
    const stored = await this.services.credentials.get(clusterId, nodeId);
    // Entries filled together must not expire together: spread their refreshes over ±25% of the TTL.
    const jitter = (Math.random() - 0.5) * 0.5 * this.ttlMs;
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
