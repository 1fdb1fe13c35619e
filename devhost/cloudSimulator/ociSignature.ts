import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { CloudModel } from './cloudModel';
import type { SimRequest } from './simRoute';

/**
 * OCI request signatures (draft-cavage HTTP signatures, version 1, rsa-sha256), verified the way OCI's front door
 * does: the keyId `<tenancy>/<user>/<fingerprint>` names a registered public key; the signed headers must cover
 * `(request-target)`, `host` and the date, plus `content-length` and `x-content-sha256` (which must match the body)
 * on POST/PUT/PATCH; the date must be within 5 minutes of the wall clock (the SDK signs with the real time even when
 * the simulator runs on a manual clock).
 */

export interface OciApiKey {
  tenancy: string;
  user: string;
  fingerprint: string;
  /** PEM (SPKI) or a KeyObject. */
  publicKey: string | KeyObject;
}

const MAX_SKEW_MS = 5 * 60_000;
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** API keys per simulator model (a model is one simulated OCI tenancy set). */
const apiKeys = new WeakMap<CloudModel, Map<string, KeyObject>>();

export function ociKeyId(key: Pick<OciApiKey, 'tenancy' | 'user' | 'fingerprint'>): string {
  return `${key.tenancy}/${key.user}/${key.fingerprint}`;
}

/** Registers (or replaces) the public key the simulator verifies `keyId` signatures with. */
export function registerOciApiKey(model: CloudModel, key: OciApiKey): void {
  let keys = apiKeys.get(model);
  if (!keys) {
    keys = new Map<string, KeyObject>();
    apiKeys.set(model, keys);
  }
  keys.set(ociKeyId(key), createPublicKey(key.publicKey));
}

export type SignatureCheck = { ok: true; keyId: string } | { ok: false; reason: string };

function header(request: SimRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

export function verifyOciSignature(model: CloudModel, request: SimRequest): SignatureCheck {
  const authorization = header(request, 'authorization');
  if (!authorization?.startsWith('Signature ')) return { ok: false, reason: 'no Signature authorization' };
  const params = new Map<string, string>();
  for (const match of authorization.slice('Signature '.length).matchAll(/(\w+)="([^"]*)"/g))
    params.set(match[1] as string, match[2] as string);
  const keyId = params.get('keyId');
  const signature = params.get('signature');
  const signed = (params.get('headers') ?? 'date').toLowerCase().split(/\s+/).filter(Boolean);
  if (params.get('version') !== '1' || params.get('algorithm') !== 'rsa-sha256')
    return { ok: false, reason: 'unsupported signature version or algorithm' };
  if (!keyId || !signature) return { ok: false, reason: 'keyId or signature missing' };
  const publicKey = apiKeys.get(model)?.get(keyId);
  if (!publicKey) return { ok: false, reason: 'unknown keyId' };
  const required = ['(request-target)', 'host'];
  if (BODY_METHODS.has(request.method)) required.push('content-length', 'x-content-sha256');
  if (required.some((name) => !signed.includes(name)) || !signed.some((n) => n === 'date' || n === 'x-date'))
    return { ok: false, reason: 'required headers are not signed' };
  const date = Date.parse(header(request, 'x-date') ?? header(request, 'date') ?? '');
  if (Number.isNaN(date) || Math.abs(Date.now() - date) > MAX_SKEW_MS)
    return { ok: false, reason: 'date missing or skewed' };
  if (signed.includes('x-content-sha256')) {
    const digest = createHash('sha256').update(request.body).digest('base64');
    if (header(request, 'x-content-sha256') !== digest) return { ok: false, reason: 'body digest mismatch' };
  }
  const lines: string[] = [];
  for (const name of signed) {
    if (name === '(request-target)') {
      lines.push(
        `(request-target): ${request.method.toLowerCase()} ${request.url.pathname}${request.url.search}`,
      );
      continue;
    }
    const value = header(request, name);
    if (value === undefined) return { ok: false, reason: `signed header ${name} is missing` };
    lines.push(`${name}: ${value}`);
  }
  const valid = verify('sha256', Buffer.from(lines.join('\n')), publicKey, Buffer.from(signature, 'base64'));
  return valid ? { ok: true, keyId } : { ok: false, reason: 'signature does not verify' };
}
