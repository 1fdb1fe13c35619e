import { createHash, createHmac } from 'node:crypto';
import { deriveNodeKey } from '../../../shared/auth/nodeKeys';
import {
  BAD_SIGNATURE_MESSAGE,
  MAX_SEQUENCE,
  SIGNATURE_HEADERS as H,
  signRequest,
  verifySignedRequest,
  type SignRequestInput,
  type VerifyRequestInput,
} from '../../../shared/auth/signedRequest';

const master = Buffer.alloc(32, 3);
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const PATH = '/api/agent/heartbeat';
const BODY = Buffer.from('{"state":"healthy","epoch":4}');
const members: Record<string, string[]> = { c1: ['n1', 'n2'] };
const keyFor = (clusterId: string, nodeId: string, keyVersion: number): Buffer | undefined =>
  keyVersion === 1 && members[clusterId]?.includes(nodeId)
    ? deriveNodeKey(master, clusterId, nodeId, keyVersion)
    : undefined;
const n1Key = deriveNodeKey(master, 'c1', 'n1', 1);

const sign = (overrides: Partial<SignRequestInput> = {}) =>
  signRequest({
    method: 'POST',
    path: PATH,
    body: BODY,
    clusterId: 'c1',
    nodeId: 'n1',
    keyVersion: 1,
    timestamp: NOW,
    seq: 5,
    key: n1Key,
    ...overrides,
  });

const verify = (headers: Record<string, string | undefined>, overrides: Partial<VerifyRequestInput> = {}) =>
  verifySignedRequest({
    method: 'POST',
    path: PATH,
    headers,
    body: BODY,
    now: NOW,
    toleranceMs: 30_000,
    maxBodyBytes: 1024,
    keyFor,
    ...overrides,
  });

const without = (headers: Record<string, string>, name: string) =>
  Object.fromEntries(Object.entries(headers).filter(([k]) => k !== name));

describe('signRequest and verifySignedRequest', () => {
  it('accepts a request signed with the node key and reports who sent it', () => {
    expect(verify(sign())).toEqual({
      ok: true,
      clusterId: 'c1',
      nodeId: 'n1',
      keyVersion: 1,
      seq: 5,
      timestamp: NOW,
    });
  });

  it('signs the documented canonical string with HMAC-SHA256, base64', () => {
    const headers = sign();
    const canonical = [
      'v1',
      'POST',
      PATH,
      'c1',
      'n1',
      '1',
      String(NOW),
      '5',
      createHash('sha256').update(BODY).digest('hex'),
    ].join('\n');
    expect(headers).toEqual({
      'x-fp-cluster': 'c1',
      'x-fp-node': 'n1',
      'x-fp-key-version': '1',
      'x-fp-timestamp': String(NOW),
      'x-fp-seq': '5',
      'x-fp-signature': createHmac('sha256', n1Key).update(canonical).digest('base64'),
    });
  });

  it('accepts a string body signed as its UTF-8 bytes, header names in any case and a lowercase method', () => {
    const headers = sign({ body: BODY.toString('utf8'), method: 'post' });
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(verify(upper)).toMatchObject({ ok: true });
  });

  it('keeps no state: a replayed request verifies again, so the caller must check seq against the last one', () => {
    const headers = sign();
    expect(verify(headers)).toMatchObject({ ok: true, seq: 5 });
    expect(verify(headers)).toMatchObject({ ok: true, seq: 5 });
  });

  describe('body size', () => {
    it('rejects a body over the limit with 413 before looking at anything else', () => {
      const keyLookup = jest.fn(keyFor);
      const big = Buffer.alloc(1025, 0x20);
      for (const headers of [{}, sign({ body: big }), { [H.signature]: 'not base64' }]) {
        expect(verify(headers, { body: big, keyFor: keyLookup, now: 0 })).toEqual({
          ok: false,
          status: 413,
          code: 'PayloadTooLarge',
          message: 'the request body exceeds 1024 bytes',
        });
      }
      expect(keyLookup).not.toHaveBeenCalled();
    });

    it('accepts a body of exactly the limit', () => {
      const body = Buffer.alloc(1024, 0x20);
      expect(verify(sign({ body }), { body })).toMatchObject({ ok: true });
    });
  });

  describe('headers', () => {
    it.each(Object.values(H))('rejects a request without %s as MissingSignature (401)', (name) => {
      expect(verify(without(sign(), name))).toEqual({
        ok: false,
        status: 401,
        code: 'MissingSignature',
        message: `header ${name} is missing`,
      });
    });

    it('treats an empty header as missing, and no headers at all as MissingSignature', () => {
      expect(verify({ ...sign(), [H.seq]: '' })).toMatchObject({ status: 401, code: 'MissingSignature' });
      expect(verify({})).toMatchObject({ status: 401, code: 'MissingSignature' });
    });

    it.each([
      [H.cluster, 'C1'],
      [H.cluster, 'c1/x'],
      [H.node, 'n1\nx'],
      [H.keyVersion, 'v1'],
      [H.keyVersion, '0'],
      [H.timestamp, '1.5e12'],
      [H.timestamp, String(NOW) + '.5'],
      [H.seq, '0'],
      [H.seq, '-3'],
      [H.seq, '007'],
      [H.seq, '99999999999999999'],
      [H.seq, '5, 6'],
      [H.signature, 'AAAA'],
      [H.signature, '!'.repeat(43) + '='],
    ])('rejects %s: %j as MalformedSignatureHeaders (401)', (name, value) => {
      expect(verify({ ...sign(), [name]: value })).toMatchObject({
        ok: false,
        status: 401,
        code: 'MalformedSignatureHeaders',
      });
    });

    it('rejects a signature header sent twice in different letter cases', () => {
      const headers = sign();
      expect(verify({ ...headers, 'X-FP-Signature': headers[H.signature] })).toMatchObject({
        status: 401,
        code: 'MalformedSignatureHeaders',
        message: `header ${H.signature} is present twice`,
      });
    });
  });

  describe('membership', () => {
    it.each<[string, Pick<Partial<SignRequestInput>, 'clusterId' | 'nodeId' | 'keyVersion'>]>([
      ['a node outside the cluster', { nodeId: 'n9' }],
      ['an unknown cluster', { clusterId: 'c9' }],
      ['an unknown key version', { keyVersion: 2 }],
    ])(
      'answers %s with the one 401 of a bad signature, telling nothing about what exists',
      (_, overrides) => {
        const key = deriveNodeKey(
          master,
          overrides.clusterId ?? 'c1',
          overrides.nodeId ?? 'n1',
          overrides.keyVersion ?? 1,
        );
        const unknown = verify(sign({ ...overrides, key }));
        const wrongKey = verify(sign({ key: deriveNodeKey(master, 'c1', 'n1', 9) }));
        expect(unknown).toEqual({
          ok: false,
          status: 401,
          code: 'BadSignature',
          message: BAD_SIGNATURE_MESSAGE,
        });
        expect(unknown).toEqual(wrongKey);
      },
    );
  });

  describe('sequence bound', () => {
    it(`accepts a sequence up to 2^48 and refuses one above it before any key is looked up`, () => {
      expect(verify(sign({ seq: MAX_SEQUENCE }))).toMatchObject({ ok: true, seq: 2 ** 48 });
      expect(verify(sign({ seq: MAX_SEQUENCE + 1 }))).toMatchObject({
        status: 401,
        code: 'MalformedSignatureHeaders',
        message: expect.stringContaining('at most 281474976710656'),
      });
      expect(verify(sign({ seq: Number.MAX_SAFE_INTEGER }))).toMatchObject({
        code: 'MalformedSignatureHeaders',
      });
    });
  });

  describe('timestamp', () => {
    it.each([
      ['behind', NOW - 30_001],
      ['ahead of', NOW + 30_001],
    ])('rejects a timestamp just beyond the tolerance %s the server clock', (direction, timestamp) => {
      expect(verify(sign({ timestamp }))).toEqual({
        ok: false,
        status: 401,
        code: 'TimestampOutOfTolerance',
        message: `the request timestamp is 30001 ms ${direction} the server clock (tolerance 30000 ms)`,
      });
    });

    it('accepts a timestamp exactly at the tolerance either way', () => {
      expect(verify(sign({ timestamp: NOW - 30_000 }))).toMatchObject({ ok: true });
      expect(verify(sign({ timestamp: NOW + 30_000 }))).toMatchObject({ ok: true });
    });
  });

  describe('signature', () => {
    const badSignature = { ok: false, status: 401, code: 'BadSignature' };

    it('rejects a tampered body', () => {
      expect(verify(sign(), { body: Buffer.from('{"state":"healthy","epoch":5}') })).toMatchObject(
        badSignature,
      );
    });

    it('rejects a request replayed to another path or with another method', () => {
      expect(verify(sign(), { path: '/api/agent/demote' })).toMatchObject(badSignature);
      expect(verify(sign(), { path: PATH + '?x=1' })).toMatchObject(badSignature);
      expect(verify(sign(), { method: 'PUT' })).toMatchObject(badSignature);
    });

    it('rejects a changed sequence number or timestamp', () => {
      expect(verify({ ...sign(), [H.seq]: '6' })).toMatchObject(badSignature);
      expect(verify({ ...sign(), [H.timestamp]: String(NOW + 1) })).toMatchObject(badSignature);
    });

    it("rejects a request signed with another node's key, even of the same cluster", () => {
      const n2Key = deriveNodeKey(master, 'c1', 'n2', 1);
      expect(verify(sign({ key: n2Key }))).toMatchObject(badSignature);
      // ...and n2 cannot claim to be n1 by relabelling its own request either.
      expect(verify({ ...sign({ nodeId: 'n2', key: n2Key }), [H.node]: 'n1' })).toMatchObject(badSignature);
    });

    it('rejects a well-formed signature of the right length that is simply wrong', () => {
      expect(verify({ ...sign(), [H.signature]: Buffer.alloc(32).toString('base64') })).toMatchObject(
        badSignature,
      );
    });

    it('rejects a path that no signer could have signed', () => {
      expect(verify(sign(), { path: PATH + '\nc1' })).toMatchObject(badSignature);
    });
  });

  it('never puts a key or a signature into a rejection message', () => {
    const headers = sign();
    const rejections = [
      verify(headers, { body: Buffer.from('x') }),
      verify({ ...headers, [H.signature]: 'AAAA' + headers[H.signature] }),
      verify({ ...headers, [H.seq]: '7' }),
      verify(sign({ timestamp: NOW - 60_000 })),
      verify(sign({ nodeId: 'n9' })),
    ];
    const secrets = [
      headers[H.signature]!,
      n1Key.toString('base64'),
      n1Key.toString('hex'),
      master.toString('hex'),
    ];
    for (const result of rejections) {
      expect(result.ok).toBe(false);
      for (const secret of secrets) expect(JSON.stringify(result)).not.toContain(secret);
    }
  });

  describe('signRequest input checks', () => {
    it.each([
      ['a key shorter than 32 bytes', { key: Buffer.alloc(16) }, /node key/],
      ['a path with a newline', { path: '/api\nx' }, /path/],
      ['a path without a leading slash', { path: 'api/agent' }, /path/],
      ['a sequence number of 0', { seq: 0 }, /seq/],
      ['a fractional timestamp', { timestamp: NOW + 0.5 }, /timestamp/],
      ['a cluster id with a slash', { clusterId: 'c1/n1' }, /clusterId/],
    ])('refuses %s', (_, overrides, message) => {
      expect(() => sign(overrides)).toThrow(message);
    });
  });
});
