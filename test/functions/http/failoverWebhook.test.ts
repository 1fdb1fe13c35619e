import { randomBytes } from 'node:crypto';
import { ManualClock } from '../../../devhost';
import { signStandardWebhook } from '../../../shared/auth/standardWebhooks';
import { failoverWebhookAnswerSchema } from '../../../shared/contracts/failoverWebhook';
import { operationPageSchema } from '../../../shared/contracts/operationsApi';
import { paths } from '../../../shared/contracts/routes';
import { request } from '../../helpers/durableHttp';
import { startControlPlane, twoNodeCluster, type ControlPlane } from '../../helpers/controlPlane';
import { waitFor } from '../../helpers/waitFor';

const T0 = Date.UTC(2030, 0, 1);
const TS = T0 / 1000;
const secret = () => `whsec_${randomBytes(32).toString('base64')}`;
/** The control plane accepts both (a rotation in progress); OTHER is a secret it does not know. */
const OLD = secret();
const NEW = secret();
const OTHER = secret();
const CLUSTERS = ['wh', 'race', 'rot1', 'rot2', 'rot3'];

let cp: ControlPlane;
let clock: ManualClock;
/** Every answer's text, to show no secret ever appears in one. */
const answers: string[] = [];

beforeAll(async () => {
  clock = new ManualClock(T0);
  cp = await startControlPlane({ FAILOVER_WEBHOOK_SECRETS: `${OLD}, ${NEW}` }, { clock });
  for (const id of CLUSTERS) {
    const declared = await request(`${cp.host.url}${paths.cluster(id)}`, {
      method: 'PUT',
      key: cp.adminKey,
      body: twoNodeCluster(id),
    });
    expect(declared.status).toBe(201);
  }
});
afterAll(async () => {
  await cp.stop();
});

interface Delivery {
  id?: string;
  timestamp?: number;
  /** Defaults to one signature under NEW; several are sent space-separated. */
  secrets?: string[];
  /** The body sent, when it is not the one signed (a tampered body). */
  sent?: string;
  headers?: Record<string, string>;
  omit?: string[];
}

let sequence = 0;
const newId = () => `msg_${(sequence++).toString().padStart(4, '0')}${randomBytes(6).toString('hex')}`;

/** Posts a signed delivery of `body` (an object is sent as JSON) without any function key. */
async function deliver(body: unknown, d: Delivery = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const id = d.id ?? newId();
  const timestamp = d.timestamp ?? TS;
  const headers: Record<string, string> = {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': (d.secrets ?? [NEW])
      .map((s) => signStandardWebhook(s, id, timestamp, text))
      .join(' '),
    ...d.headers,
  };
  for (const name of d.omit ?? []) delete headers[name];
  const r = await request(`${cp.host.url}${paths.webhookFailover()}`, {
    method: 'POST',
    body: d.sent ?? text,
    raw: true,
    headers,
  });
  answers.push(r.text, JSON.stringify([...r.headers]));
  return { ...r, id };
}

const operations = async (clusterId: string) =>
  operationPageSchema.parse(
    (await request(`${cp.host.url}${paths.operations(clusterId)}`, { key: cp.functionKey })).json,
  ).operations;

/** The cluster's operations once `operationId` is recorded (its first activity runs just after the answer). */
const operationsOnceRecorded = (clusterId: string, operationId: string) =>
  waitFor(
    async () => {
      const ops = await operations(clusterId);
      return ops.some((o) => o.operationId === operationId) && ops;
    },
    { timeoutMs: 20_000, description: `operation ${operationId} of ${clusterId} recorded` },
  );

describe('POST /api/v1/webhooks/failover', () => {
  it('refuses bad signatures, stale timestamps and bad bodies with a clear 4xx, starting nothing', async () => {
    const valid = { clusterId: 'wh', reason: 'the datacenter is on fire' };
    const expectError = async (
      answer: Promise<{ status: number; json: any }>,
      status: number,
      code: string,
    ) => {
      const r = await answer;
      expect({ status: r.status, code: r.json?.error?.code }).toEqual({ status, code });
      expect(typeof r.json.error.message).toBe('string');
    };
    for (const header of ['webhook-id', 'webhook-timestamp', 'webhook-signature'])
      await expectError(deliver(valid, { omit: [header] }), 401, 'MissingWebhookHeaders');
    await expectError(deliver(valid, { secrets: [OTHER] }), 401, 'BadWebhookSignature');
    await expectError(
      deliver(valid, { sent: JSON.stringify({ ...valid, clusterId: 'race' }) }),
      401,
      'BadWebhookSignature',
    );
    await expectError(
      deliver(valid, { headers: { 'webhook-signature': 'v1,bm90IGEgc2lnbmF0dXJl' } }),
      401,
      'BadWebhookSignature',
    );
    // The tolerance is 5 minutes either way of the host's clock (here the devhost's manual clock, in 2030).
    await expectError(deliver(valid, { timestamp: TS - 301 }), 401, 'StaleWebhookTimestamp');
    await expectError(deliver(valid, { timestamp: TS + 301 }), 401, 'StaleWebhookTimestamp');
    await expectError(
      deliver(valid, { timestamp: Math.floor(Date.now() / 1000) }),
      401,
      'StaleWebhookTimestamp',
    );
    await expectError(
      deliver(valid, { headers: { 'webhook-id': 'msg.with.dots' } }),
      401,
      'MalformedWebhookHeaders',
    );
    await expectError(
      deliver(valid, { headers: { 'webhook-timestamp': '17e8' } }),
      401,
      'MalformedWebhookHeaders',
    );
    await expectError(deliver('{"clusterId": "wh", '), 400, 'InvalidJson');
    await expectError(deliver('{"clusterId":"wh","clusterId":"race","reason":"r"}'), 400, 'InvalidJson');
    await expectError(deliver({ ...valid, force: true }), 422, 'InvalidRequest');
    await expectError(deliver({ clusterId: 'wh', reason: 'x'.repeat(501) }), 422, 'InvalidRequest');
    await expectError(deliver({ clusterId: 'WH!', reason: 'r' }), 422, 'InvalidRequest');
    await expectError(deliver({ ...valid, targetNodeId: 'Head_B' }), 422, 'InvalidRequest');
    await expectError(deliver({ ...valid, reason: 'x'.repeat(17 * 1024) }), 413, 'PayloadTooLarge');
    await expectError(deliver({ ...valid, clusterId: 'nowhere' }), 404, 'ClusterNotFound');
    await expectError(deliver({ ...valid, targetNodeId: 'head-z' }), 422, 'TargetNotInCluster');

    // Nothing started: a valid delivery now starts the cluster's failover itself (nothing running to join), and
    // once it is recorded it is the cluster's only operation (nothing refused ran before it either).
    const ok = await deliver({ ...valid, targetNodeId: 'head-b' });
    expect(ok.status).toBe(202);
    const body = failoverWebhookAnswerSchema.parse(ok.json);
    expect(body).toMatchObject({ clusterId: 'wh', started: true, duplicate: false });
    const recorded = await operationsOnceRecorded('wh', body.operationId);
    expect(recorded.map((o) => o.operationId)).toEqual([body.operationId]);
  });

  it('starts a failover visible in the operations, and a redelivery of its webhook-id starts nothing again', async () => {
    const id = newId();
    const requestBody = { clusterId: 'rot1', reason: 'storage array lost', targetNodeId: 'head-b' };
    const first = await deliver(requestBody, { id });
    expect(first.status).toBe(202);
    const started = failoverWebhookAnswerSchema.parse(first.json);
    expect(started).toEqual({
      operationId: expect.stringMatching(/^failover-wh-[0-9a-f]{24}$/),
      clusterId: 'rot1',
      statusUrl: paths.operation('rot1', started.operationId),
      started: true,
      duplicate: false,
    });
    expect(first.headers.get('location')).toBe(started.statusUrl);
    const recorded = await operationsOnceRecorded('rot1', started.operationId);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({
      operationId: started.operationId,
      kind: 'failover',
      trigger: { kind: 'webhook', reference: id },
      actor: `webhook:${id.slice(0, 8)}`,
      targetNodeId: 'head-b',
    });
    const one = await request(`${cp.host.url}${started.statusUrl}`, { key: cp.functionKey });
    expect(one.status).toBe(200);

    // The sender retries (same id and body, signed again at a later time, under the other secret): the same
    // operation, 200, nothing new.
    clock.advance(30_000);
    const again = await deliver(requestBody, { id, timestamp: TS + 30, secrets: [OLD] });
    expect(again.status).toBe(200);
    expect(failoverWebhookAnswerSchema.parse(again.json)).toEqual({
      ...started,
      started: false,
      duplicate: true,
    });
    // The same id for another body is not a redelivery: refused, nothing started.
    const reused = await deliver({ ...requestBody, reason: 'something else' }, { id, timestamp: TS + 30 });
    expect(reused).toMatchObject({ status: 409, json: { error: { code: 'WebhookIdReused' } } });
    expect((await operations('rot1')).map((o) => o.operationId)).toEqual([started.operationId]);
    // The accepted request is in the cluster's audit log with its webhook id.
    const audit = (await request(`${cp.host.url}${paths.audit('rot1')}`, { key: cp.functionKey })).json
      .entries;
    expect(audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          action: 'failover-requested',
          detail: expect.objectContaining({ webhookId: id, operationId: started.operationId }),
        }),
      ]),
    );
  });

  it('joins one operation when copies of one delivery race', async () => {
    const id = newId();
    const copies = await Promise.all(
      Array.from({ length: 4 }, () => deliver({ clusterId: 'race', reason: 'five copies' }, { id })),
    );
    for (const copy of copies) expect([200, 202]).toContain(copy.status);
    const ids = new Set(copies.map((c) => failoverWebhookAnswerSchema.parse(c.json).operationId));
    expect(ids.size).toBe(1);
    const [operationId] = [...ids] as [string];
    expect(copies.filter((c) => c.json.started)).toHaveLength(1);
    const recorded = await operationsOnceRecorded('race', operationId);
    expect(recorded.map((o) => o.operationId)).toEqual([operationId]);
  });

  it('accepts a signature under either configured secret, and any matching one of several signatures', async () => {
    const underOld = await deliver({ clusterId: 'rot2', reason: 'old secret' }, { secrets: [OLD] });
    expect(underOld.status).toBe(202);
    const severalSent = await deliver(
      { clusterId: 'rot3', reason: 'sender rotating' },
      { secrets: [OTHER, NEW] },
    );
    expect(severalSent.status).toBe(202);
  });

  it('never shows a secret in an answer or in the host log', async () => {
    // Everything above plus a few more refusals, all logged by the host.
    await deliver({ clusterId: 'wh', reason: 'r' }, { secrets: [OTHER] });
    const keys = [OLD, NEW, OTHER].flatMap((s) => [s, s.slice('whsec_'.length)]);
    expect(answers.length).toBeGreaterThan(20);
    expect(cp.logs.join('\n')).toContain('failover webhook');
    for (const text of [...answers, cp.logs.join('\n')])
      for (const key of keys) expect(text).not.toContain(key);
  });
});
