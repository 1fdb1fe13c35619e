import { createHmac } from 'node:crypto';
import {
  STANDARD_WEBHOOK_TOLERANCE_MS,
  rememberWebhookId,
  signStandardWebhook,
  verifyStandardWebhook,
  webhookIdExpiry,
  webhookKey,
  type VerifyStandardWebhookInput,
} from '../../../shared/auth/standardWebhooks';

// The Standard Webhooks specification's published test vector (its libraries all test against it): matching it is
// what shows a sender using any of those libraries can call us, not only our own signer.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const OLD_SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const TS = NOW / 1000;
const BODY = '{"cluster":"hpc-1","reason":"datacenter fire"}';

const headers = (overrides: Record<string, string | undefined> = {}) => ({
  'webhook-id': 'msg_1',
  'webhook-timestamp': String(TS),
  'webhook-signature': signStandardWebhook(SECRET, 'msg_1', TS, BODY),
  ...overrides,
});

const verify = (overrides: Partial<VerifyStandardWebhookInput> = {}) =>
  verifyStandardWebhook({ headers: headers(), body: BODY, secrets: [SECRET], now: NOW, ...overrides });

describe('signing', () => {
  test("reproduces the specification's test vector", () => {
    expect(signStandardWebhook(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(
      VECTOR.signature,
    );
  });

  test('signs "{id}.{timestamp}.{body}" with the base64-decoded secret, not the secret text', () => {
    const key = Buffer.alloc(32, 7);
    const expected = createHmac('sha256', key).update(`msg_1.${TS}.${BODY}`).digest('base64');
    expect(signStandardWebhook(SECRET, 'msg_1', TS, BODY)).toBe(`v1,${expected}`);
    expect(signStandardWebhook(SECRET, 'msg_1', TS, Buffer.from(BODY))).toBe(`v1,${expected}`);
  });

  test.each([
    ['an id with a dot', 'msg.1', TS],
    ['an empty id', '', TS],
    ['a fractional timestamp', 'msg_1', 1.5],
    ['a negative timestamp', 'msg_1', -1],
  ])('refuses to sign %s', (_what, id, timestamp) => {
    expect(() => signStandardWebhook(SECRET, id, timestamp, BODY)).toThrow(RangeError);
  });
});

describe('secrets', () => {
  test('whsec_ is stripped; a secret pasted without it is the same key', () => {
    expect(webhookKey(VECTOR.secret)).toEqual(webhookKey(VECTOR.secret.slice('whsec_'.length)));
    expect(webhookKey(VECTOR.secret)).toHaveLength(24);
  });

  test.each([
    ['not base64', 'whsec_not base64!'],
    ['shorter than 24 bytes', `whsec_${Buffer.alloc(16).toString('base64')}`],
    ['empty', 'whsec_'],
  ])('a secret that is %s is a configuration error, thrown without the secret in it', (_what, secret) => {
    expect(() => webhookKey(secret)).toThrow(RangeError);
    try {
      webhookKey(secret);
    } catch (error) {
      if (secret.length > 'whsec_'.length) expect((error as Error).message).not.toContain(secret.slice(6));
    }
  });
});

describe('verification', () => {
  test("accepts the specification's test vector at its own time", () => {
    expect(
      verifyStandardWebhook({
        headers: {
          'webhook-id': VECTOR.id,
          'webhook-timestamp': String(VECTOR.timestamp),
          'webhook-signature': VECTOR.signature,
        },
        body: VECTOR.body,
        secrets: [VECTOR.secret],
        now: VECTOR.timestamp * 1000,
      }),
    ).toEqual({ ok: true, id: VECTOR.id, timestampSeconds: VECTOR.timestamp });
  });

  test('accepts a webhook it signed, with headers in any letter case and the body as bytes', () => {
    const h = headers();
    expect(
      verify({
        headers: {
          'Webhook-Id': h['webhook-id'],
          'WEBHOOK-TIMESTAMP': h['webhook-timestamp'],
          'Webhook-Signature': h['webhook-signature'],
        },
        body: Buffer.from(BODY),
      }),
    ).toEqual({ ok: true, id: 'msg_1', timestampSeconds: TS });
  });

  test.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])(
    'without %s: MissingWebhookHeaders',
    (name) => {
      for (const value of [undefined, '', '  ']) {
        const outcome = verify({ headers: headers({ [name]: value }) });
        expect(outcome).toMatchObject({ ok: false, kind: 'unauthenticated', code: 'MissingWebhookHeaders' });
        if (!outcome.ok) expect(outcome.message).toContain(name);
      }
    },
  );

  test.each([
    ['an id with a dot (it would shift the signed string)', { 'webhook-id': 'msg.1' }],
    ['an id with a space', { 'webhook-id': 'msg 1' }],
    ['an id too long', { 'webhook-id': 'm'.repeat(257) }],
    ['a timestamp in milliseconds', { 'webhook-timestamp': String(NOW) }],
    ['a fractional timestamp', { 'webhook-timestamp': `${TS}.5` }],
    ['a timestamp that is a date', { 'webhook-timestamp': new Date(NOW).toISOString() }],
  ])('%s: MalformedWebhookHeaders', (_what, override) => {
    expect(verify({ headers: headers(override) })).toMatchObject({
      ok: false,
      code: 'MalformedWebhookHeaders',
    });
  });

  test('a header given twice in different letter cases: MalformedWebhookHeaders', () => {
    expect(verify({ headers: { ...headers(), 'Webhook-Id': 'msg_2' } })).toMatchObject({
      ok: false,
      code: 'MalformedWebhookHeaders',
    });
  });

  test.each([
    ['5 minutes old', -STANDARD_WEBHOOK_TOLERANCE_MS, true],
    ['5 minutes ahead', STANDARD_WEBHOOK_TOLERANCE_MS, true],
    ['5 minutes and 1 second old', -STANDARD_WEBHOOK_TOLERANCE_MS - 1000, false],
    ['5 minutes and 1 second ahead', STANDARD_WEBHOOK_TOLERANCE_MS + 1000, false],
  ])('a timestamp %s is accepted: %s', (_what, offsetMs, accepted) => {
    const ts = (NOW + offsetMs) / 1000;
    const outcome = verify({
      headers: headers({
        'webhook-timestamp': String(ts),
        'webhook-signature': signStandardWebhook(SECRET, 'msg_1', ts, BODY),
      }),
    });
    if (accepted) expect(outcome.ok).toBe(true);
    else expect(outcome).toMatchObject({ ok: false, kind: 'unauthenticated', code: 'StaleWebhookTimestamp' });
  });

  test('the tolerance is an input', () => {
    const ts = TS - 60;
    const h = headers({
      'webhook-timestamp': String(ts),
      'webhook-signature': signStandardWebhook(SECRET, 'msg_1', ts, BODY),
    });
    expect(verify({ headers: h, toleranceMs: 30_000 })).toMatchObject({ code: 'StaleWebhookTimestamp' });
    expect(verify({ headers: h, toleranceMs: 60_000 }).ok).toBe(true);
  });

  test.each([
    ['the body changed', { body: BODY.replace('fire', 'drill') }],
    ['the body re-serialised (one space more)', { body: BODY.replace(',', ', ') }],
    ['another id', { headers: headers({ 'webhook-id': 'msg_2' }) }],
    ['another timestamp', { headers: headers({ 'webhook-timestamp': String(TS + 1) }) }],
    ['another secret', { secrets: [OLD_SECRET] }],
  ])('%s: BadWebhookSignature', (_what, overrides) => {
    expect(verify(overrides)).toMatchObject({
      ok: false,
      kind: 'unauthenticated',
      code: 'BadWebhookSignature',
    });
  });

  test.each([
    ['a signature of another scheme only (v1a)', `v1a,${Buffer.alloc(64, 1).toString('base64')}`],
    ['a v1 signature of the wrong length', `v1,${Buffer.alloc(31, 1).toString('base64')}`],
    ['a bare signature without "v1,"', signStandardWebhook(SECRET, 'msg_1', TS, BODY).slice(3)],
    ['the right HMAC labelled v1a', `v1a,${signStandardWebhook(SECRET, 'msg_1', TS, BODY).slice(3)}`],
    ['the right HMAC labelled V1', `V1,${signStandardWebhook(SECRET, 'msg_1', TS, BODY).slice(3)}`],
    ['the right HMAC labelled v2', `v2,${signStandardWebhook(SECRET, 'msg_1', TS, BODY).slice(3)}`],
    ['garbage', 'v1,!!!!'],
  ])('%s: BadWebhookSignature, and says there is no v1 signature', (_what, signature) => {
    const outcome = verify({ headers: headers({ 'webhook-signature': signature }) });
    expect(outcome).toMatchObject({ ok: false, code: 'BadWebhookSignature' });
    if (!outcome.ok) expect(outcome.message).toContain('no v1 signature');
  });

  test('during the sender’s key rotation, any listed v1 signature that matches is enough, in any position', () => {
    const current = signStandardWebhook(SECRET, 'msg_1', TS, BODY);
    const old = signStandardWebhook(OLD_SECRET, 'msg_1', TS, BODY);
    const v1a = `v1a,${Buffer.alloc(64, 1).toString('base64')}`;
    for (const header of [`${old} ${current}`, `${current} ${old}`, `${v1a} ${old}  ${current}`]) {
      expect(verify({ headers: headers({ 'webhook-signature': header }) }).ok).toBe(true);
    }
    expect(verify({ headers: headers({ 'webhook-signature': `${old} ${v1a}` }) })).toMatchObject({
      code: 'BadWebhookSignature',
    });
  });

  test('during the receiver’s key rotation, a signature under any configured secret is accepted', () => {
    const signedWithOld = headers({
      'webhook-signature': signStandardWebhook(OLD_SECRET, 'msg_1', TS, BODY),
    });
    expect(verify({ headers: signedWithOld, secrets: [SECRET, OLD_SECRET] }).ok).toBe(true);
    expect(verify({ headers: signedWithOld, secrets: [SECRET] }).ok).toBe(false);
  });

  test('a refusal never echoes a signature or the secret', () => {
    const forged = `v1,${Buffer.alloc(32, 1).toString('base64')}`;
    const outcome = verify({ headers: headers({ 'webhook-signature': forged }) });
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) {
      const text = JSON.stringify(outcome);
      expect(text).not.toContain(forged.slice(3));
      expect(text).not.toContain(SECRET.slice(6));
    }
  });

  test('no secrets configured is a programming error, not a refusal', () => {
    expect(() => verify({ secrets: [] })).toThrow(RangeError);
  });
});

describe('replay memory', () => {
  test('an id is remembered until its timestamp plus the tolerance, after which the timestamp check refuses it', () => {
    expect(webhookIdExpiry(TS)).toBe(NOW + STANDARD_WEBHOOK_TOLERANCE_MS);
    const ts = TS;
    const h = headers();
    const justAfter = webhookIdExpiry(ts) + 1000;
    expect(verify({ headers: h, now: justAfter })).toMatchObject({ code: 'StaleWebhookTimestamp' });
  });

  test('a new id is fresh, the same id again is not, and an expired one is forgotten', () => {
    const empty = new Map<string, number>();
    const first = rememberWebhookId(empty, 'msg_1', NOW + 300_000, NOW);
    expect(first.fresh).toBe(true);
    expect(empty.size).toBe(0); // pure: the input map is not changed

    const again = rememberWebhookId(first.seen, 'msg_1', NOW + 400_000, NOW + 1000);
    expect(again.fresh).toBe(false);
    expect(again.seen.get('msg_1')).toBe(NOW + 300_000);

    const other = rememberWebhookId(again.seen, 'msg_2', NOW + 400_000, NOW + 1000);
    expect(other.fresh).toBe(true);
    expect([...other.seen.keys()]).toEqual(['msg_1', 'msg_2']);

    const later = rememberWebhookId(other.seen, 'msg_1', NOW + 700_000, NOW + 300_000);
    expect(later.fresh).toBe(true);
    expect([...later.seen.keys()]).toEqual(['msg_2', 'msg_1']);
  });
});
