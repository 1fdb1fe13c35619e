import { signRequest } from '../../shared/auth/signedRequest';
import {
  PEER_KEY_VERSION,
  PEER_ROUTES,
  promiseAnswerSchema,
  type PromiseAnswer,
  type PromiseRequestBody,
} from '../../shared/contracts/peerApi';
import type { Clock } from '../clock';
import { errorMessage } from '../log';
import { HttpsTransport, type HttpRequest, type HttpResponse } from '../transport';

/**
 * The outcome of asking one peer for a promise. `sentAt` is the monotonic time taken just before the request left:
 * the start of the promise on this node's side. An unreachable peer is an outcome, never a throw.
 */
export type PeerAskResult =
  | { ok: true; nodeId: string; sentAt: number; status: number; answer: PromiseAnswer }
  | { ok: false; nodeId: string; error: string };

export interface PeerApi {
  askPromise(
    peer: { nodeId: string; url: string },
    request: { epoch: number; durationMs: number },
    timeoutMs: number,
  ): Promise<PeerAskResult>;
}

export interface PeerClientOptions {
  clusterId: string;
  nodeId: string;
  /** The cluster's peer key. */
  key: Buffer;
  /** Strictly increasing numbers that survive restarts (the agent's `SequenceAllocator`). */
  nextSeq: () => Promise<number>;
  clock: Clock;
  /** How a request reaches a peer (default: HTTP or HTTPS with the system's CAs, one connection per request). */
  send?: (url: URL, request: HttpRequest) => Promise<HttpResponse>;
}

const defaultSend = (url: URL, request: HttpRequest) =>
  new HttpsTransport(url, { pins: [] }).request(request);

/** Signed promise requests to the other nodes' peer listeners (`POST /peer/v1/promise`, under the peer key). */
export class PeerClient implements PeerApi {
  readonly #key: Buffer;
  readonly #o: Omit<PeerClientOptions, 'key'>;

  constructor({ key, ...options }: PeerClientOptions) {
    this.#key = key;
    this.#o = options;
  }

  async askPromise(
    peer: { nodeId: string; url: string },
    request: { epoch: number; durationMs: number },
    timeoutMs: number,
  ): Promise<PeerAskResult> {
    const { clock } = this.#o;
    let url: URL;
    try {
      url = new URL(peer.url);
    } catch {
      return { ok: false, nodeId: peer.nodeId, error: `${peer.url} is not a URL` };
    }
    let seq: number;
    try {
      seq = await this.#o.nextSeq();
    } catch (error) {
      return {
        ok: false,
        nodeId: peer.nodeId,
        error: `cannot reserve a sequence number: ${errorMessage(error)}`,
      };
    }
    const body: PromiseRequestBody = {
      clusterId: this.#o.clusterId,
      to: peer.nodeId,
      epoch: request.epoch,
      durationMs: request.durationMs,
    };
    const payload = Buffer.from(JSON.stringify(body), 'utf8');
    const path = PEER_ROUTES.promise;
    const headers = signRequest({
      method: 'POST',
      path,
      body: payload,
      clusterId: this.#o.clusterId,
      nodeId: this.#o.nodeId,
      keyVersion: PEER_KEY_VERSION,
      timestamp: Math.round(clock.wallNow()),
      seq,
      key: this.#key,
    });
    const sentAt = clock.now();
    let response: HttpResponse;
    try {
      response = await (this.#o.send ?? defaultSend)(url, {
        method: 'POST',
        path,
        headers: { ...headers, 'content-type': 'application/json' },
        body: payload,
        timeoutMs: Math.max(1, timeoutMs),
      });
    } catch (error) {
      return { ok: false, nodeId: peer.nodeId, error: errorMessage(error) };
    }
    let json: unknown;
    try {
      json = JSON.parse(response.body.toString('utf8'));
    } catch {
      json = undefined;
    }
    const parsed = promiseAnswerSchema.safeParse(json);
    if (!parsed.success || (response.status !== 200 && response.status !== 409))
      return {
        ok: false,
        nodeId: peer.nodeId,
        error: `HTTP ${response.status}${describe(json)}`,
      };
    // A grant counts only as a 200 for what was asked.
    if (parsed.data.granted && (response.status !== 200 || parsed.data.epoch !== request.epoch))
      return {
        ok: false,
        nodeId: peer.nodeId,
        error: `HTTP ${response.status}: an answer for another request`,
      };
    return { ok: true, nodeId: peer.nodeId, sentAt, status: response.status, answer: parsed.data };
  }
}

function describe(json: unknown): string {
  if (typeof json !== 'object' || json === null) return '';
  const e = (json as { error?: { code?: unknown; message?: unknown } }).error;
  if (!e) return '';
  return `${typeof e.code === 'string' ? ` ${e.code}` : ''}${typeof e.message === 'string' ? `: ${e.message}` : ''}`;
}
