import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { assertId, isId, isPositiveSafeInteger } from './ids';
import { NODE_KEY_BYTES } from './nodeKeys';

/**
 * Agent request signing, scheme v1. Every agent request carries these headers; the signature is
 * base64(HMAC-SHA256(node key, canonical string)) with the canonical string
 *
 *     v1\n<METHOD>\n<path>\n<cluster>\n<node>\n<keyVersion>\n<timestamp>\n<seq>\n<hex sha256 of body>
 *
 * `path` is the request path (with its query string, if any) exactly as sent: nothing is normalised.
 */
export const SIGNATURE_HEADERS = {
  cluster: 'x-fp-cluster',
  node: 'x-fp-node',
  keyVersion: 'x-fp-key-version',
  /** Milliseconds since the Unix epoch, an integer. */
  timestamp: 'x-fp-timestamp',
  /** A positive integer, strictly increasing per node. */
  seq: 'x-fp-seq',
  signature: 'x-fp-signature',
} as const;

export const SIGNATURE_SCHEME = 'v1';

export interface CanonicalRequest {
  method: string;
  path: string;
  body: Buffer | string;
  clusterId: string;
  nodeId: string;
  keyVersion: number;
  timestamp: number;
  seq: number;
}

export interface SignRequestInput extends CanonicalRequest {
  /** The node's key (see `deriveNodeKey`). */
  key: Buffer;
}

export interface VerifyRequestInput {
  method: string;
  path: string;
  /** Request headers; names are matched case-insensitively. */
  headers: Readonly<Record<string, string | undefined>>;
  body: Buffer;
  /** The verifier's clock, ms since the Unix epoch. */
  now: number;
  /** Largest accepted difference between `now` and the request's timestamp, either way. */
  toleranceMs: number;
  maxBodyBytes: number;
  /** The key of a node of a cluster at a key version; undefined when there is no such node (or key version). */
  keyFor: (clusterId: string, nodeId: string, keyVersion: number) => Buffer | undefined;
}

export interface VerifiedRequest {
  ok: true;
  clusterId: string;
  nodeId: string;
  keyVersion: number;
  seq: number;
  timestamp: number;
}

export type RejectionCode =
  | 'PayloadTooLarge'
  | 'MissingSignature'
  | 'MalformedSignatureHeaders'
  | 'TimestampOutOfTolerance'
  | 'BadSignature';

export interface RejectedRequest {
  ok: false;
  status: 401 | 413;
  code: RejectionCode;
  /** Safe to return to the caller and to log: names headers and ids, never keys or signatures. */
  message: string;
}

const METHOD = /^[A-Za-z]{1,16}$/;
/** Visible ASCII only, starting with `/`: no whitespace or control characters, so no newline. */
const PATH = /^\/[\x21-\x7e]*$/;
const POSITIVE_INTEGER = /^[1-9][0-9]{0,15}$/;
/** base64 of the 32-byte HMAC-SHA256. */
const SIGNATURE = /^[A-Za-z0-9+/]{43}=$/;

/** The string that is signed (see `SIGNATURE_HEADERS`). Exported for agents written against the scheme. */
export function canonicalRequestString(request: CanonicalRequest): string {
  const body = typeof request.body === 'string' ? Buffer.from(request.body, 'utf8') : request.body;
  return [
    SIGNATURE_SCHEME,
    request.method.toUpperCase(),
    request.path,
    request.clusterId,
    request.nodeId,
    String(request.keyVersion),
    String(request.timestamp),
    String(request.seq),
    createHash('sha256').update(body).digest('hex'),
  ].join('\n');
}

function assertKey(key: unknown): asserts key is Buffer {
  if (!Buffer.isBuffer(key) || key.length < NODE_KEY_BYTES) {
    throw new RangeError(`a node key must be a Buffer of at least ${NODE_KEY_BYTES} bytes`);
  }
}

const hmac = (key: Buffer, request: CanonicalRequest): Buffer =>
  createHmac('sha256', key).update(canonicalRequestString(request), 'utf8').digest();

/** Signs an agent request: returns the headers to send with it. Throws RangeError on invalid input. */
export function signRequest(input: SignRequestInput): Record<string, string> {
  if (typeof input.method !== 'string' || !METHOD.test(input.method)) {
    throw new RangeError('method must be an HTTP method name');
  }
  if (typeof input.path !== 'string' || !PATH.test(input.path)) {
    throw new RangeError('path must start with "/" and contain only visible ASCII characters');
  }
  if (typeof input.body !== 'string' && !Buffer.isBuffer(input.body)) {
    throw new RangeError('body must be a Buffer or a string');
  }
  assertId(input.clusterId, 'clusterId');
  assertId(input.nodeId, 'nodeId');
  if (!isPositiveSafeInteger(input.keyVersion)) throw new RangeError('keyVersion must be a positive integer');
  if (!isPositiveSafeInteger(input.timestamp)) {
    throw new RangeError('timestamp must be a positive integer (ms since the Unix epoch)');
  }
  if (!isPositiveSafeInteger(input.seq)) throw new RangeError('seq must be a positive integer');
  assertKey(input.key);
  return {
    [SIGNATURE_HEADERS.cluster]: input.clusterId,
    [SIGNATURE_HEADERS.node]: input.nodeId,
    [SIGNATURE_HEADERS.keyVersion]: String(input.keyVersion),
    [SIGNATURE_HEADERS.timestamp]: String(input.timestamp),
    [SIGNATURE_HEADERS.seq]: String(input.seq),
    [SIGNATURE_HEADERS.signature]: hmac(input.key, input).toString('base64'),
  };
}

/** The largest sequence number a request may carry: far beyond any node's lifetime, far below 2^53. */
export const MAX_SEQUENCE = 2 ** 48;

/** The one answer to a request no key of its (cluster, node, key version) signed, whether or not that key exists. */
export const BAD_SIGNATURE_MESSAGE =
  'the request signature does not match a key of this cluster, node and key version';

const UNKNOWN_KEY = Buffer.alloc(NODE_KEY_BYTES);

const reject = (
  status: RejectedRequest['status'],
  code: RejectionCode,
  message: string,
): RejectedRequest => ({
  ok: false,
  status,
  code,
  message,
});

type HeaderName = (typeof SIGNATURE_HEADERS)[keyof typeof SIGNATURE_HEADERS];
const HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(SIGNATURE_HEADERS));

/**
 * Verifies a signed agent request. The checks, in order, each answering as soon as it fails:
 *
 * 1. body larger than `maxBodyBytes` → 413 `PayloadTooLarge` (before anything else, and before hashing it);
 * 2. a signature header missing or empty → 401 `MissingSignature`; present twice (in different letter cases) or
 *    not of its form → 401 `MalformedSignatureHeaders`;
 *    A sequence above MAX_SEQUENCE is malformed: a node must never be able to reach a number after which no request
 *    of it could be accepted.
 * 3. timestamp further than `toleranceMs` from `now` → 401 `TimestampOutOfTolerance`;
 * 4. `keyFor` knows no key for (cluster, node, key version), or the signature is not the expected one
 *    (constant-time comparison), or a method or path `signRequest` would refuse → 401 `BadSignature`, with one
 *    message for all of them: the answer does not tell which clusters, nodes or key versions exist.
 *
 * Replay protection is the caller's: this function keeps no state. After `ok: true`, the caller must compare `seq`
 * with the last sequence number it accepted from that node (persisted per node), accept only a strictly greater one,
 * record it, and answer a replayed or reordered request with 409. The timestamp tolerance bounds how long a captured
 * request stays usable; the sequence check makes it usable at most once.
 */
export function verifySignedRequest(input: VerifyRequestInput): VerifiedRequest | RejectedRequest {
  if (!Number.isSafeInteger(input.maxBodyBytes) || input.maxBodyBytes < 0) {
    throw new RangeError('maxBodyBytes must be a non-negative integer');
  }
  if (!Number.isFinite(input.toleranceMs) || input.toleranceMs < 0) {
    throw new RangeError('toleranceMs must be a non-negative number');
  }
  if (input.body.length > input.maxBodyBytes) {
    return reject(413, 'PayloadTooLarge', `the request body exceeds ${input.maxBodyBytes} bytes`);
  }

  const found = new Map<string, string>();
  for (const [name, value] of Object.entries(input.headers)) {
    const lower = name.toLowerCase();
    if (!HEADER_NAMES.has(lower) || value === undefined) continue;
    if (found.has(lower)) return reject(401, 'MalformedSignatureHeaders', `header ${lower} is present twice`);
    found.set(lower, value);
  }
  for (const name of HEADER_NAMES) {
    if (!found.get(name)) return reject(401, 'MissingSignature', `header ${name} is missing`);
  }
  const header = (name: HeaderName): string => found.get(name) ?? '';
  const malformed = (name: HeaderName, form: string) =>
    reject(401, 'MalformedSignatureHeaders', `header ${name} must be ${form}`);

  const clusterId = header(SIGNATURE_HEADERS.cluster);
  const nodeId = header(SIGNATURE_HEADERS.node);
  if (!isId(clusterId)) return malformed(SIGNATURE_HEADERS.cluster, 'a cluster id');
  if (!isId(nodeId)) return malformed(SIGNATURE_HEADERS.node, 'a node id');
  const integer = (name: HeaderName): number | undefined => {
    const text = header(name);
    const value = POSITIVE_INTEGER.test(text) ? Number(text) : NaN;
    return Number.isSafeInteger(value) ? value : undefined;
  };
  const keyVersion = integer(SIGNATURE_HEADERS.keyVersion);
  if (keyVersion === undefined) return malformed(SIGNATURE_HEADERS.keyVersion, 'a positive integer');
  const timestamp = integer(SIGNATURE_HEADERS.timestamp);
  if (timestamp === undefined) {
    return malformed(SIGNATURE_HEADERS.timestamp, 'a positive integer (ms since the Unix epoch)');
  }
  const seq = integer(SIGNATURE_HEADERS.seq);
  if (seq === undefined || seq > MAX_SEQUENCE)
    return malformed(SIGNATURE_HEADERS.seq, `a positive integer of at most ${MAX_SEQUENCE} (2^48)`);
  const signatureText = header(SIGNATURE_HEADERS.signature);
  if (!SIGNATURE.test(signatureText)) {
    return malformed(SIGNATURE_HEADERS.signature, 'a base64 HMAC-SHA256 (44 characters)');
  }

  const skew = timestamp - input.now;
  if (Math.abs(skew) > input.toleranceMs) {
    return reject(
      401,
      'TimestampOutOfTolerance',
      `the request timestamp is ${Math.abs(skew)} ms ${skew < 0 ? 'behind' : 'ahead of'} the server clock ` +
        `(tolerance ${input.toleranceMs} ms)`,
    );
  }

  const known = input.keyFor(clusterId, nodeId, keyVersion);
  if (known !== undefined) assertKey(known);
  // An unknown (cluster, node, key version) costs the same HMAC as a known one and gets the same answer.
  const key = known ?? UNKNOWN_KEY;
  const signable = METHOD.test(input.method) && PATH.test(input.path);
  const expected = hmac(key, {
    method: signable ? input.method : 'GET',
    path: signable ? input.path : '/',
    body: input.body,
    clusterId,
    nodeId,
    keyVersion,
    timestamp,
    seq,
  });
  const given = Buffer.from(signatureText, 'base64');
  const matches = given.length === expected.length && timingSafeEqual(given, expected);
  // Nothing signRequest refuses can match (and no newline can shift the canonical string's fields).
  if (!matches || known === undefined || !signable) return reject(401, 'BadSignature', BAD_SIGNATURE_MESSAGE);
  return { ok: true, clusterId, nodeId, keyVersion, seq, timestamp };
}
