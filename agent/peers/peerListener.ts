import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignedRequest } from '../../shared/auth/signedRequest';
import { PEER_KEY_VERSION, PEER_ROUTES, promiseRequestSchema } from '../../shared/contracts/peerApi';
import type { PromiseDecision, PromiseRequest } from '../../shared/domain/peerPromises';
import type { Clock } from '../clock';
import { errorMessage, type Logger } from '../log';

/** The largest promise request body accepted. */
export const MAX_PEER_BODY_BYTES = 4096;
/** How far a peer request's wall-clock timestamp may be from this node's. */
export const PEER_TOLERANCE_MS = 30_000;

/**
 * What the listener asks of the agent, in ONE synchronous step: decide, and when granted, record the promise in
 * memory (so that a promotion handled meanwhile sees it). `persisted` resolves once the promise (and any raised
 * highest epoch) is on disk; only then is the grant answered.
 */
export interface Promiser {
  promise(request: PromiseRequest): { decision: PromiseDecision; persisted?: Promise<void> };
}

export interface PeerListenerOptions {
  clusterId: string;
  nodeId: string;
  /** The cluster's peer key (`derivePeerKey`): the only key accepted, at `PEER_KEY_VERSION`. */
  key: Buffer;
  address: string;
  port: number;
  clock: Clock;
  log: Logger;
  promiser: Promiser;
}

type Json = Record<string, unknown>;

/**
 * The peer listener (`POST /peer/v1/promise`, `GET /peer/v1/health`): plain node:http, signed requests (the v1
 * agent scheme under the peer key), per-sender sequence numbers strictly increasing (in memory: a restart of this
 * node forgets them, the timestamp tolerance bounds what a replay could do then — and a replayed request only asks
 * this node to promise again, which binds it, the safe way). Every answer is JSON; no input crashes it.
 */
export class PeerListener {
  readonly #o: PeerListenerOptions;
  readonly #key: Buffer;
  readonly #server: http.Server;
  readonly #lastSeq = new Map<string, number>();
  #port = 0;

  constructor({ key, ...options }: PeerListenerOptions) {
    this.#key = key;
    this.#o = { ...options, key: Buffer.alloc(0) };
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        this.#o.log.error('peer listener: request broke', { error: errorMessage(error) });
        send(res, 500, { error: { code: 'Internal', message: 'internal error' } });
      });
    });
    this.#server.headersTimeout = 10_000;
    this.#server.requestTimeout = 15_000;
    this.#server.keepAliveTimeout = 1000;
  }

  /** Starts listening; resolves with the bound port (the configured one, or the one chosen for port 0). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.#server.once('error', onError);
      this.#server.listen(this.#o.port, this.#o.address, () => {
        this.#server.off('error', onError);
        this.#server.on('error', (error) =>
          this.#o.log.error('peer listener error', { error: errorMessage(error) }),
        );
        this.#port = (this.#server.address() as AddressInfo).port;
        this.#o.log.info('peer listener started', { address: this.#o.address, port: this.#port });
        resolve(this.#port);
      });
    });
  }

  get port(): number {
    return this.#port;
  }

  /** Stops accepting and closes every connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const pathname = url.split('?')[0];
    if (pathname === PEER_ROUTES.health) {
      if (req.method !== 'GET') return send(res, 405, error('MethodNotAllowed', 'use GET'), { allow: 'GET' });
      req.resume();
      return send(res, 200, { clusterId: this.#o.clusterId, nodeId: this.#o.nodeId });
    }
    if (pathname !== PEER_ROUTES.promise) {
      req.resume();
      return send(res, 404, error('NotFound', 'no such peer route'));
    }
    if (req.method !== 'POST') {
      req.resume();
      return send(res, 405, error('MethodNotAllowed', 'use POST'), { allow: 'POST' });
    }
    const body = await readBody(req, MAX_PEER_BODY_BYTES);
    if (body === 'too-large')
      return send(res, 413, error('PayloadTooLarge', `the body exceeds ${MAX_PEER_BODY_BYTES} bytes`), {
        connection: 'close',
      });
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(req.headers))
      headers[name] = Array.isArray(value) ? value.join(',') : value;
    const verified = verifySignedRequest({
      method: req.method,
      path: url,
      headers,
      body,
      now: this.#o.clock.wallNow(),
      toleranceMs: PEER_TOLERANCE_MS,
      maxBodyBytes: MAX_PEER_BODY_BYTES,
      keyFor: (clusterId, nodeId, keyVersion) =>
        clusterId === this.#o.clusterId && keyVersion === PEER_KEY_VERSION && nodeId !== this.#o.nodeId
          ? this.#key
          : undefined,
    });
    if (!verified.ok) {
      this.#o.log.warn('peer request refused', { httpStatus: verified.status, code: verified.code });
      return send(res, verified.status, error(verified.code, verified.message));
    }
    const from = verified.nodeId;
    const last = this.#lastSeq.get(from) ?? 0;
    if (verified.seq <= last) {
      this.#o.log.warn('peer request refused: sequence number not above the last one', {
        from,
        seq: verified.seq,
        lastSeq: last,
      });
      return send(res, 409, {
        granted: false,
        code: 'replayed',
        reason: `sequence number ${verified.seq} is not above the last one accepted from ${from} (${last})`,
      });
    }
    this.#lastSeq.set(from, verified.seq);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return send(res, 400, error('InvalidJson', 'the body is not JSON'));
    }
    const parsed = promiseRequestSchema.safeParse(json);
    if (!parsed.success)
      return send(res, 422, {
        error: {
          code: 'InvalidBody',
          message: 'the body is not a promise request',
          problems: parsed.error.issues
            .slice(0, 10)
            .map((i) => ({ path: i.path.join('.'), message: i.message })),
        },
      });
    const request = parsed.data;
    if (request.clusterId !== this.#o.clusterId || request.to !== this.#o.nodeId)
      return send(
        res,
        422,
        error(
          'WrongRecipient',
          `this is ${this.#o.clusterId}/${this.#o.nodeId}, not ${request.clusterId}/${request.to}`,
        ),
      );
    // The decision and the in-memory record: one synchronous step.
    const { decision, persisted } = this.#o.promiser.promise({
      from,
      epoch: request.epoch,
      durationMs: request.durationMs,
    });
    if (!decision.granted) {
      this.#o.log.warn('promise refused', {
        to: from,
        epoch: request.epoch,
        code: decision.code,
        reason: decision.reason,
      });
      return send(res, 409, { granted: false, code: decision.code, reason: decision.reason });
    }
    try {
      await persisted;
    } catch (e) {
      // The promise stays in memory: this node stays bound (safe); the active does not count it.
      this.#o.log.error('promise granted in memory but not persisted: answered 503', {
        to: from,
        epoch: request.epoch,
        error: errorMessage(e),
      });
      return send(res, 503, error('NotPersisted', 'the promise could not be saved'), { 'retry-after': '1' });
    }
    this.#o.log.info('promise given', {
      to: from,
      epoch: request.epoch,
      durationMs: decision.durationMs,
      untilInMs: Math.round(decision.promise.until - this.#o.clock.now()),
    });
    return send(res, 200, { granted: true, epoch: request.epoch, durationMs: decision.durationMs });
  }
}

const error = (code: string, message: string): Json => ({ error: { code, message } });

function send(
  res: http.ServerResponse,
  status: number,
  body: Json,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** The body, or 'too-large' as soon as it exceeds `max` (the rest is not read). */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      req.resume();
      return resolve('too-large');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > max) {
        done = true;
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks));
    });
    req.once('error', (e) => {
      if (done) return;
      done = true;
      reject(e);
    });
  });
}
