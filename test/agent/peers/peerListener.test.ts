import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { signRequest } from '../../../shared/auth/signedRequest';
import { PEER_KEY_VERSION, PEER_ROUTES } from '../../../shared/contracts/peerApi';
import type { PromiseRequest } from '../../../shared/domain/peerPromises';
import { PeerClient } from '../../../agent/peers/peerClient';
import { PeerListener, type Promiser } from '../../../agent/peers/peerListener';
import { memoryLogger } from '../helpers/fakes';
import { ManualClock } from '../helpers/manualClock';

const key = randomBytes(32);

interface Setup {
  clock: ManualClock;
  listener: PeerListener;
  url: string;
  asked: PromiseRequest[];
  records: Record<string, unknown>[];
  /** What the promiser answers; default: granted, persisted at once. */
  answer: (request: PromiseRequest) => ReturnType<Promiser['promise']>;
}

let t: Setup;
beforeEach(async () => {
  const clock = new ManualClock();
  const { log, records } = memoryLogger();
  const asked: PromiseRequest[] = [];
  const setup: Partial<Setup> = { clock, asked, records };
  setup.answer = (request) => ({
    decision: {
      granted: true,
      durationMs: request.durationMs,
      promise: { to: request.from, epoch: request.epoch, until: clock.now() + request.durationMs + 10 },
    },
    persisted: Promise.resolve(),
  });
  const listener = new PeerListener({
    clusterId: 'c1',
    nodeId: 'n2',
    key,
    address: '127.0.0.1',
    port: 0,
    clock,
    log,
    promiser: {
      promise: (request) => {
        asked.push(request);
        return t.answer(request);
      },
    },
  });
  const port = await listener.listen();
  t = { ...(setup as Setup), listener, url: `http://127.0.0.1:${port}` };
});
afterEach(() => t.listener.close());

let seq = 0;
interface PostOptions {
  body?: unknown;
  raw?: string;
  from?: string;
  cluster?: string;
  signKey?: Buffer;
  keyVersion?: number;
  seq?: number;
  timestamp?: number;
  method?: 'POST' | 'GET' | 'PUT';
  path?: string;
  unsigned?: boolean;
}

async function post(
  o: PostOptions = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const text = o.raw ?? JSON.stringify(o.body ?? { clusterId: 'c1', to: 'n2', epoch: 3, durationMs: 4000 });
  const path = o.path ?? PEER_ROUTES.promise;
  const method = o.method ?? 'POST';
  const headers = o.unsigned
    ? {}
    : signRequest({
        method,
        path,
        body: Buffer.from(text),
        clusterId: o.cluster ?? 'c1',
        nodeId: o.from ?? 'n1',
        keyVersion: o.keyVersion ?? PEER_KEY_VERSION,
        timestamp: o.timestamp ?? t.clock.wallNow(),
        seq: o.seq ?? ++seq + 1000,
        key: o.signKey ?? key,
      });
  const response = await fetch(`${t.url}${path}`, {
    method,
    headers: { ...headers, 'content-type': 'application/json' },
    ...(method === 'GET' ? {} : { body: text }),
  });
  expect(response.headers.get('content-type')).toBe('application/json');
  return {
    status: response.status,
    json: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

describe('PeerListener', () => {
  it('grants a signed promise request: 200 {granted, epoch, durationMs}, after asking the promiser', async () => {
    const answer = await post();
    expect(answer).toMatchObject({ status: 200, json: { granted: true, epoch: 3, durationMs: 4000 } });
    expect(t.asked).toEqual([{ from: 'n1', epoch: 3, durationMs: 4000 }]);
    expect(t.records.some((r) => r.msg === 'promise given' && r.to === 'n1')).toBe(true);
    expect(JSON.stringify(t.records)).not.toContain(key.toString('base64'));
  });

  it('answers GET health with the cluster and node ids, unsigned', async () => {
    const response = await fetch(`${t.url}${PEER_ROUTES.health}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ clusterId: 'c1', nodeId: 'n2' });
  });

  it('refuses bad signatures, other keys, clusters, key versions, itself as sender, stale timestamps: 401 JSON', async () => {
    const cases: PostOptions[] = [
      { signKey: randomBytes(32) },
      { cluster: 'c2' },
      { keyVersion: 2 },
      { from: 'n2' },
      { timestamp: t.clock.wallNow() - 31_000 },
      { unsigned: true },
    ];
    for (const c of cases) {
      const answer = await post(c);
      expect(answer.status).toBe(401);
      expect(answer.json).toMatchObject({ error: { code: expect.any(String) as string } });
    }
    expect(t.asked).toEqual([]);
    // Within the 30 s tolerance: accepted.
    expect((await post({ timestamp: t.clock.wallNow() - 29_000 })).status).toBe(200);
  });

  it('refuses a replayed or reordered sequence number per sender (409), other senders are independent', async () => {
    expect((await post({ seq: 50 })).status).toBe(200);
    expect(await post({ seq: 50 })).toMatchObject({
      status: 409,
      json: { granted: false, code: 'replayed' },
    });
    expect((await post({ seq: 49 })).status).toBe(409);
    expect((await post({ seq: 10, from: 'n3' })).status).toBe(200);
    expect((await post({ seq: 51 })).status).toBe(200);
    expect(t.asked).toHaveLength(3);
  });

  it('answers bad bodies with 400/413/422 JSON and never asks the promiser', async () => {
    expect(await post({ raw: '{not json' })).toMatchObject({
      status: 400,
      json: { error: { code: 'InvalidJson' } },
    });
    expect(
      await post({ body: { clusterId: 'c1', to: 'n2', epoch: 3, durationMs: 4000, extra: true } }),
    ).toMatchObject({ status: 422, json: { error: { code: 'InvalidBody' } } });
    expect((await post({ body: { clusterId: 'c1', to: 'n2', epoch: 0, durationMs: 4000 } })).status).toBe(
      422,
    );
    expect((await post({ body: { clusterId: 'c1', to: 'n2', epoch: 3, durationMs: 1.5 } })).status).toBe(422);
    expect((await post({ body: [] })).status).toBe(422);
    expect(await post({ body: { clusterId: 'c1', to: 'n3', epoch: 3, durationMs: 4000 } })).toMatchObject({
      status: 422,
      json: { error: { code: 'WrongRecipient' } },
    });
    expect((await post({ body: { clusterId: 'c9', to: 'n2', epoch: 3, durationMs: 4000 } })).status).toBe(
      422,
    );
    expect(await post({ raw: JSON.stringify({ pad: 'x'.repeat(5000) }) })).toMatchObject({
      status: 413,
      json: { error: { code: 'PayloadTooLarge' } },
    });
    expect((await post({ path: '/peer/v1/other' })).status).toBe(404);
    expect((await post({ method: 'PUT' })).status).toBe(405);
    expect(t.asked).toEqual([]);
    // Still serving.
    expect((await post()).status).toBe(200);
  });

  it('answers a refusal with 409 and its code', async () => {
    t.answer = () => ({
      decision: { granted: false, code: 'bound-to-another', reason: 'this node promised n3 under epoch 3' },
    });
    expect(await post()).toMatchObject({
      status: 409,
      json: { granted: false, code: 'bound-to-another', reason: 'this node promised n3 under epoch 3' },
    });
    expect(t.records.some((r) => r.msg === 'promise refused' && r.code === 'bound-to-another')).toBe(true);
  });

  it('answers a grant only once it is persisted, and 503 with Retry-After when persisting fails', async () => {
    let persist: () => void = () => undefined;
    const persisted = new Promise<void>((resolve) => (persist = resolve));
    t.answer = (request) => ({
      decision: {
        granted: true,
        durationMs: request.durationMs,
        promise: { to: request.from, epoch: request.epoch, until: 1e9 },
      },
      persisted,
    });
    let answered = false;
    const pending = post().then((a) => {
      answered = true;
      return a;
    });
    const deadline = Date.now() + 5000;
    while (t.asked.length === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    expect(t.asked).toHaveLength(1);
    // Give the server every chance to answer early: it must not.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(answered).toBe(false);
    persist();
    expect((await pending).status).toBe(200);

    t.answer = (request) => ({
      decision: {
        granted: true,
        durationMs: request.durationMs,
        promise: { to: request.from, epoch: request.epoch, until: 1e9 },
      },
      persisted: Promise.reject(new Error('ENOSPC')),
    });
    const failed = await post();
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toBe('1');
    expect(failed.json).toMatchObject({ error: { code: 'NotPersisted' } });
  });

  it('is reached by the PeerClient: signed, parsed, unreachable peers are a result', async () => {
    const client = new PeerClient({
      clusterId: 'c1',
      nodeId: 'n1',
      key,
      nextSeq: (() => {
        let n = 5000;
        return () => Promise.resolve(++n);
      })(),
      clock: t.clock,
    });
    const result = await client.askPromise(
      { nodeId: 'n2', url: t.url },
      { epoch: 3, durationMs: 4000 },
      2000,
    );
    expect(result).toMatchObject({
      ok: true,
      status: 200,
      sentAt: t.clock.now(),
      answer: { granted: true, epoch: 3 },
    });
    t.answer = () => ({ decision: { granted: false, code: 'epoch-behind', reason: 'old' } });
    expect(
      await client.askPromise({ nodeId: 'n2', url: t.url }, { epoch: 3, durationMs: 4000 }, 2000),
    ).toMatchObject({
      ok: true,
      status: 409,
      answer: { granted: false, code: 'epoch-behind' },
    });
    // A wrong key: 401 is a failure, not a grant.
    const stranger = new PeerClient({
      clusterId: 'c1',
      nodeId: 'n1',
      key: randomBytes(32),
      nextSeq: () => Promise.resolve(9999),
      clock: t.clock,
    });
    expect(
      await stranger.askPromise({ nodeId: 'n2', url: t.url }, { epoch: 3, durationMs: 4000 }, 2000),
    ).toMatchObject({
      ok: false,
      error: expect.stringMatching(/HTTP 401/) as string,
    });
    await t.listener.close();
    expect(
      await client.askPromise({ nodeId: 'n2', url: t.url }, { epoch: 3, durationMs: 4000 }, 2000),
    ).toMatchObject({
      ok: false,
      nodeId: 'n2',
    });
  });
});

describe('PeerListener under generated input (fuzz)', () => {
  const RUNS = Number(process.env.FUZZ_PEER_RUNS ?? 150);
  const json = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        clusterId: fc.oneof(fc.constant('c1'), fc.string()),
        to: fc.oneof(fc.constant('n2'), fc.string()),
        epoch: fc.oneof(fc.integer(), fc.double(), fc.string()),
        durationMs: fc.oneof(fc.integer(), fc.double(), fc.constant(null)),
        extra: fc.anything(),
      },
      { requiredKeys: [] },
    ),
  );

  it(`${RUNS} generated requests (signed or not, any method, path and body): never 5xx, every 4xx a JSON error, no promise asked for a refused one`, async () => {
    await fc.assert(
      fc.asyncProperty(
        json,
        fc.boolean(),
        fc.constantFrom<'POST' | 'GET' | 'PUT'>('POST', 'GET', 'PUT'),
        fc.constantFrom(PEER_ROUTES.promise, PEER_ROUTES.health, '/peer/v1/other', '/'),
        fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
        async (body, unsigned, method, path, raw) => {
          const before = t.asked.length;
          const answer = await post({ body, unsigned, method, path, ...(raw !== undefined ? { raw } : {}) });
          expect(answer.status).toBeLessThan(500);
          if (answer.status >= 400) {
            expect(answer.json).toMatchObject({ error: { code: expect.any(String) as string } });
            expect(t.asked.length).toBe(before);
          }
        },
      ),
      { numRuns: RUNS, seed: 20261201 },
    );
  }, 60_000);
});
