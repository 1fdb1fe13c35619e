import { signRequest } from '../shared/auth/signedRequest';
import type { ArbitrateBody, CommandAckBody, HeartbeatBody } from '../shared/contracts/agentApi';
import { readErrorBody } from '../shared/contracts/errors';
import { matchArbitrationStatusPath, paths } from '../shared/contracts/routes';
import type { Clock } from './clock';
import type { SequenceAllocator } from './state';
import { TransportError, type FailureKind, type HttpRequest, type HttpResponse } from './transport';

/** The wire types are the contract's (`shared/contracts/agentApi.ts`): one definition for agent and control plane. */
export type {
  ArbitrateBody,
  CheckReport,
  CommandAckBody,
  GpuReport,
  HeartbeatBody,
} from '../shared/contracts/agentApi';

export interface ApiAnswer {
  status: number;
  json: unknown;
  /** From Retry-After, when present. */
  retryAfterMs?: number;
}

/**
 * The outcome of one signed request. `sentAt` is the monotonic time taken just before the connection was opened:
 * the start of any lease the answer grants (so the agent's lease always ends before the control plane's).
 */
export type ApiResult =
  | { ok: true; seq: number; sentAt: number; answer: ApiAnswer }
  | { ok: false; kind: FailureKind | 'state'; message: string };

export interface ControlPlaneApi {
  heartbeat(body: HeartbeatBody): Promise<ApiResult>;
  arbitrate(body: ArbitrateBody): Promise<ApiResult>;
  /** GET of the statusUrl an arbitration answered 202 with. */
  arbitrationStatus(statusUrl: string): Promise<ApiResult>;
  /** A command's acknowledgement (`POST /api/v1/agent/ack`). */
  ack(body: CommandAckBody): Promise<ApiResult>;
}

export interface ClientOptions {
  transport: { request(request: HttpRequest): Promise<HttpResponse> };
  /** The control plane's base URL (its path, if any, ends with "/"). */
  base: URL;
  clusterId: string;
  nodeId: string;
  keyVersion: number;
  key: Buffer;
  sequence: SequenceAllocator;
  clock: Clock;
  requestTimeoutMs: number;
  arbitrateTimeoutMs: number;
}

/** A contract path without its leading "/": relative to the base URL, whose path ends with "/". */
const relative = (path: string) => path.slice(1);

/**
 * Signed requests to the control plane (README "Signed agent requests"), one at a time: a request takes the next
 * sequence number and is sent only after the previous one finished, so numbers reach the server in order. The node
 * key lives only here.
 */
export class ControlPlaneClient implements ControlPlaneApi {
  readonly #key: Buffer;
  /** Everything but the key, which is kept apart so that no options object ever carries it. */
  private readonly options: Omit<ClientOptions, 'key'>;
  #chain: Promise<unknown> = Promise.resolve();

  constructor({ key, ...options }: ClientOptions) {
    this.#key = key;
    this.options = options;
  }

  heartbeat(body: HeartbeatBody): Promise<ApiResult> {
    return this.#send(
      'POST',
      relative(paths.agentHeartbeat()),
      JSON.stringify(body),
      this.options.requestTimeoutMs,
    );
  }

  arbitrate(body: ArbitrateBody): Promise<ApiResult> {
    return this.#send(
      'POST',
      relative(paths.agentArbitrate()),
      JSON.stringify(body),
      this.options.arbitrateTimeoutMs,
    );
  }

  ack(body: CommandAckBody): Promise<ApiResult> {
    return this.#send(
      'POST',
      relative(paths.agentAck()),
      JSON.stringify(body),
      this.options.requestTimeoutMs,
    );
  }

  arbitrationStatus(statusUrl: string): Promise<ApiResult> {
    let match: { clusterId: string; epoch: number } | undefined;
    try {
      match = matchArbitrationStatusPath(new URL(statusUrl, this.options.base).pathname);
    } catch {
      match = undefined;
    }
    if (!match)
      return Promise.resolve({ ok: false, kind: 'protocol', message: `unexpected statusUrl ${statusUrl}` });
    // Only the path is taken from the answer: the request goes to the configured control plane, whatever origin
    // the control plane saw behind a proxy.
    return this.#send(
      'GET',
      relative(paths.agentArbitrationStatus(match.clusterId, match.epoch)),
      '',
      this.options.requestTimeoutMs,
    );
  }

  #send(method: 'GET' | 'POST', relative: string, body: string, timeoutMs: number): Promise<ApiResult> {
    const run = () => this.#sendNow(method, relative, body, timeoutMs);
    const next = this.#chain.then(run, run);
    this.#chain = next;
    return next;
  }

  async #sendNow(
    method: 'GET' | 'POST',
    relative: string,
    body: string,
    timeoutMs: number,
  ): Promise<ApiResult> {
    const { base, clock, sequence } = this.options;
    const path = `${base.pathname}${relative}`;
    let seq: number;
    try {
      seq = await sequence.next();
    } catch (error) {
      return {
        ok: false,
        kind: 'state',
        message: `cannot reserve a sequence number in the state directory: ${(error as Error).message}`,
      };
    }
    const payload = Buffer.from(body, 'utf8');
    const headers = signRequest({
      method,
      path,
      body: payload,
      clusterId: this.options.clusterId,
      nodeId: this.options.nodeId,
      keyVersion: this.options.keyVersion,
      timestamp: Math.round(clock.wallNow()),
      seq,
      key: this.#key,
    });
    const sentAt = clock.now();
    try {
      const response = await this.options.transport.request({
        method,
        path,
        headers: { ...headers, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
        body: payload,
        timeoutMs,
      });
      const text = response.body.toString('utf8');
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (response.status === 409) {
        // The control plane accepted a higher number already (a lost state directory, a restored backup): go on
        // above the one its error body names (`lastAcceptedSeq`; the message is for people and may change). This
        // only ever raises our counter.
        const last = readErrorBody(json)?.lastAcceptedSeq;
        if (last !== undefined) sequence.advancePast(last);
      }
      const retryAfter = Number(response.headers['retry-after']);
      return {
        ok: true,
        seq,
        sentAt,
        answer: {
          status: response.status,
          json,
          ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
        },
      };
    } catch (error) {
      const failure =
        error instanceof TransportError ? error : new TransportError('network', (error as Error).message);
      return { ok: false, kind: failure.kind, message: failure.message };
    }
  }
}
