import { createHmac, timingSafeEqual } from 'node:crypto';
import { refuse, type Outcome } from '../control/common/outcome';

/**
 * Signed generic webhooks, per the Standard Webhooks specification (symmetric scheme `v1`):
 *
 *     webhook-id:        the message id (the same on every retry of one message)
 *     webhook-timestamp: integer seconds since the Unix epoch
 *     webhook-signature: space-separated `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` entries
 *
 * The key is the secret without its `whsec_` prefix, base64-decoded. Several signatures are sent while a sender
 * rotates its secret; any one that matches a secret the receiver holds is enough. Entries of other schemes (`v1a`,
 * asymmetric) are skipped. The body is signed as the exact bytes received: verify before parsing it.
 *
 * Pure but for HMAC: the time is an input, and the replay memory is the caller's (see `rememberWebhookId`).
 */

export const STANDARD_WEBHOOK_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

/** How far a timestamp may be from `now`, either way: 5 minutes, as the specification's libraries use. */
export const STANDARD_WEBHOOK_TOLERANCE_MS = 5 * 60_000;

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** The specification's minimum key size (192 bits); it allows up to 512 bytes. */
export const MIN_WEBHOOK_KEY_BYTES = 24;
export const MAX_WEBHOOK_KEY_BYTES = 512;
/** Longest `webhook-id` accepted (ids are short: `msg_` plus a KSUID or similar). */
export const MAX_WEBHOOK_ID_CHARS = 256;

export type StandardWebhookRefusalCode =
  /** `webhook-id`, `webhook-timestamp` or `webhook-signature` is missing or empty. */
  | 'MissingWebhookHeaders'
  /** A header is present twice, or the id or timestamp is not of its form. */
  | 'MalformedWebhookHeaders'
  /** The timestamp is more than the tolerance before or after `now`. */
  | 'StaleWebhookTimestamp'
  /** No `v1` signature matches any of the secrets. */
  | 'BadWebhookSignature';

export interface VerifiedStandardWebhook {
  /** The message id: the idempotency key the caller remembers (see `rememberWebhookId`). */
  id: string;
  timestampSeconds: number;
}

export interface VerifyStandardWebhookInput {
  /** Request headers; names are matched case-insensitively. */
  headers: Readonly<Record<string, string | undefined>>;
  /** The raw body as received (a string is taken as UTF-8). */
  body: Buffer | string;
  /** The secrets (`whsec_<base64>`) the receiver accepts: more than one while it rotates its own. */
  secrets: readonly string[];
  /** The receiver's clock, ms since the Unix epoch. */
  now: number;
  /** Defaults to STANDARD_WEBHOOK_TOLERANCE_MS. */
  toleranceMs?: number;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Visible ASCII without `.` (the signed string's delimiter) or spaces. */
const WEBHOOK_ID = /^[\x21-\x2d\x2f-\x7e]+$/;
const TIMESTAMP = /^[0-9]{1,12}$/;
const HMAC_BYTES = 32;

/**
 * The HMAC key of a secret: `whsec_` stripped (a secret pasted without it is accepted too), base64-decoded.
 * Throws RangeError for a secret that is not base64 or whose key is outside 24–512 bytes: that is configuration to
 * fix, not a request to refuse. The message never contains the secret.
 */
export function webhookKey(secret: string): Buffer {
  const encoded = secret.startsWith(WEBHOOK_SECRET_PREFIX)
    ? secret.slice(WEBHOOK_SECRET_PREFIX.length)
    : secret;
  if (!BASE64.test(encoded)) throw new RangeError('a webhook secret must be "whsec_" followed by base64');
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_WEBHOOK_KEY_BYTES || key.length > MAX_WEBHOOK_KEY_BYTES) {
    throw new RangeError(
      `a webhook secret must decode to ${MIN_WEBHOOK_KEY_BYTES}-${MAX_WEBHOOK_KEY_BYTES} bytes (found ${key.length})`,
    );
  }
  return key;
}

function hmac(key: Buffer, id: string, timestampSeconds: number | string, body: Buffer | string): Buffer {
  return createHmac('sha256', key)
    .update(`${id}.${timestampSeconds}.`, 'utf8')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest();
}

/**
 * The `webhook-signature` value for a message: `v1,<base64>`. For tests and for clients that send signed webhooks;
 * a client sends it with `webhook-id: id` and `webhook-timestamp: timestampSeconds`. Throws RangeError on an id or
 * timestamp the verifier would refuse, or a bad secret.
 */
export function signStandardWebhook(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: Buffer | string,
): string {
  if (!WEBHOOK_ID.test(id) || id.length > MAX_WEBHOOK_ID_CHARS) {
    throw new RangeError(`a webhook id is 1-${MAX_WEBHOOK_ID_CHARS} visible ASCII characters without "."`);
  }
  if (
    !Number.isSafeInteger(timestampSeconds) ||
    timestampSeconds < 0 ||
    !TIMESTAMP.test(String(timestampSeconds))
  ) {
    throw new RangeError('timestampSeconds must be a non-negative integer number of seconds');
  }
  return `v1,${hmac(webhookKey(secret), id, timestampSeconds, body).toString('base64')}`;
}

const HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(STANDARD_WEBHOOK_HEADERS));

/**
 * Verifies a signed webhook. The checks, in order, each answering as soon as it fails (every refusal is
 * `unauthenticated`, HTTP 401):
 *
 * 1. a header missing or empty → `MissingWebhookHeaders`; present twice, an id with `.`, spaces or control
 *    characters or longer than 256, a timestamp that is not an integer of seconds → `MalformedWebhookHeaders`;
 * 2. the timestamp more than `toleranceMs` before or after `now` → `StaleWebhookTimestamp`;
 * 3. no `v1` entry of the signature header equal (constant-time) to the HMAC under one of `secrets` →
 *    `BadWebhookSignature`.
 *
 * Replays within the tolerance are the caller's to stop: remember each accepted id until `webhookIdExpiry` and treat
 * a known id as already delivered (see `rememberWebhookId`).
 */
export function verifyStandardWebhook(
  input: VerifyStandardWebhookInput,
): Outcome<VerifiedStandardWebhook, StandardWebhookRefusalCode> {
  const toleranceMs = input.toleranceMs ?? STANDARD_WEBHOOK_TOLERANCE_MS;
  if (!Number.isFinite(toleranceMs) || toleranceMs < 0)
    throw new RangeError('toleranceMs must be non-negative');
  if (!Number.isFinite(input.now)) throw new RangeError('now must be a number of ms since the Unix epoch');
  const keys = input.secrets.map(webhookKey);
  if (keys.length === 0) throw new RangeError('at least one webhook secret is needed');

  const found = new Map<string, string>();
  for (const [name, value] of Object.entries(input.headers)) {
    const lower = name.toLowerCase();
    if (!HEADER_NAMES.has(lower) || value === undefined) continue;
    if (found.has(lower)) {
      return refuse('unauthenticated', 'MalformedWebhookHeaders', `header ${lower} is present twice`);
    }
    found.set(lower, value);
  }
  const missing = [...HEADER_NAMES].filter((name) => (found.get(name) ?? '').trim() === '');
  if (missing.length > 0) {
    return refuse(
      'unauthenticated',
      'MissingWebhookHeaders',
      `a signed webhook needs the headers ${[...HEADER_NAMES].join(', ')}; missing or empty: ${missing.join(', ')}`,
    );
  }
  const id = (found.get(STANDARD_WEBHOOK_HEADERS.id) ?? '').trim();
  const timestampText = (found.get(STANDARD_WEBHOOK_HEADERS.timestamp) ?? '').trim();
  const signatureHeader = found.get(STANDARD_WEBHOOK_HEADERS.signature) ?? '';
  if (id.length > MAX_WEBHOOK_ID_CHARS || !WEBHOOK_ID.test(id)) {
    return refuse(
      'unauthenticated',
      'MalformedWebhookHeaders',
      `${STANDARD_WEBHOOK_HEADERS.id} must be 1-${MAX_WEBHOOK_ID_CHARS} visible ASCII characters without "."`,
    );
  }
  if (!TIMESTAMP.test(timestampText)) {
    return refuse(
      'unauthenticated',
      'MalformedWebhookHeaders',
      `${STANDARD_WEBHOOK_HEADERS.timestamp} must be an integer number of seconds since the Unix epoch`,
    );
  }
  const timestampSeconds = Number(timestampText);
  const skewMs = timestampSeconds * 1000 - input.now;
  if (Math.abs(skewMs) > toleranceMs) {
    return refuse(
      'unauthenticated',
      'StaleWebhookTimestamp',
      `${STANDARD_WEBHOOK_HEADERS.timestamp} is ${Math.round(Math.abs(skewMs) / 1000)} s ` +
        `${skewMs < 0 ? 'in the past' : 'in the future'}; at most ${Math.floor(toleranceMs / 1000)} s either way is accepted`,
    );
  }

  const candidates: Buffer[] = [];
  for (const entry of signatureHeader.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const encoded = entry.slice(comma + 1);
    if (!BASE64.test(encoded)) continue;
    const decoded = Buffer.from(encoded, 'base64');
    if (decoded.length === HMAC_BYTES) candidates.push(decoded);
  }
  // Every key is compared with every candidate, without stopping at a match: the time does not tell which matched.
  let matched = false;
  for (const key of keys) {
    const expected = hmac(key, id, timestampText, input.body);
    for (const candidate of candidates) {
      if (timingSafeEqual(expected, candidate)) matched = true;
    }
  }
  if (!matched) {
    return refuse(
      'unauthenticated',
      'BadWebhookSignature',
      candidates.length === 0
        ? `${STANDARD_WEBHOOK_HEADERS.signature} holds no v1 signature ("v1,<base64 of 32 bytes>", space-separated)`
        : `no v1 signature in ${STANDARD_WEBHOOK_HEADERS.signature} matches the body, id and timestamp under a configured secret`,
    );
  }
  return { ok: true, id, timestampSeconds };
}

/**
 * Until when an accepted id must be remembered: after its timestamp plus the tolerance, the timestamp check refuses
 * the message anyway, so an older memory can be dropped.
 */
export function webhookIdExpiry(
  timestampSeconds: number,
  toleranceMs: number = STANDARD_WEBHOOK_TOLERANCE_MS,
): number {
  return timestampSeconds * 1000 + toleranceMs;
}

/**
 * The replay memory a caller backs with storage (e.g. a table row per id, inserted only if absent, with its expiry).
 * `remember` answers true if the id was not known (and now is), false if it was already remembered and not expired.
 * Remember an id once its work has durably started: a sender retries a failed delivery with the same id, and that
 * retry must be acted on if the first attempt was not. A known id is answered as delivered (2xx), not refused.
 */
export interface WebhookIdMemory {
  remember(id: string, expiresAt: number): Promise<boolean>;
}

/**
 * The same rule over an in-memory map (for one process, and for tests): drops expired ids, then answers whether `id`
 * is new and the map to keep. Pure: `seen` is not changed.
 */
export function rememberWebhookId(
  seen: ReadonlyMap<string, number>,
  id: string,
  expiresAt: number,
  now: number,
): { fresh: boolean; seen: Map<string, number> } {
  const next = new Map<string, number>();
  for (const [knownId, expiry] of seen) if (expiry > now) next.set(knownId, expiry);
  const fresh = !next.has(id);
  if (fresh) next.set(id, expiresAt);
  return { fresh, seen: next };
}
