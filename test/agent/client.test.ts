import { randomBytes } from 'node:crypto';
import { verifySignedRequest } from '../../shared/auth/signedRequest';
import { ControlPlaneClient } from '../../agent/client';
import { initialState, MemoryStateStore, SequenceAllocator, StateKeeper } from '../../agent/state';
import { TransportError, type HttpRequest, type HttpResponse } from '../../agent/transport';
import { ManualClock } from './helpers/manualClock';

const key = randomBytes(32);

function setup(base = 'https://cp.example.net/') {
  const clock = new ManualClock();
  const sent: HttpRequest[] = [];
  const answers: (HttpResponse | Error | Promise<HttpResponse>)[] = [];
  const transport = {
    request(request: HttpRequest): Promise<HttpResponse> {
      sent.push(request);
      clock.advance(250); // the network takes its time
      const answer = answers.shift() ?? { status: 200, headers: {}, body: Buffer.from('{"ok":true}') };
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  };
  const state = new StateKeeper(new MemoryStateStore(), initialState('bcm-head', 'head-a'));
  const sequence = new SequenceAllocator(state, 10);
  const client = new ControlPlaneClient({
    transport,
    base: new URL(base),
    clusterId: 'bcm-head',
    nodeId: 'head-a',
    keyVersion: 2,
    key,
    sequence,
    clock,
    requestTimeoutMs: 5000,
    arbitrateTimeoutMs: 15_000,
  });
  return { clock, sent, answers, client, sequence };
}

const verify = (request: HttpRequest, now: number) =>
  verifySignedRequest({
    method: request.method,
    path: request.path,
    headers: request.headers,
    body: request.body ?? Buffer.alloc(0),
    now,
    toleranceMs: 60_000,
    maxBodyBytes: 65_536,
    keyFor: (cluster, node, version) =>
      cluster === 'bcm-head' && node === 'head-a' && version === 2 ? key : undefined,
  });

describe('ControlPlaneClient', () => {
  it('signs requests the control plane verifies, with increasing sequence numbers', async () => {
    const t = setup();
    await t.client.heartbeat({ role: 'standby', epoch: 1, checks: [] });
    await t.client.arbitrate({ epoch: 1, checks: [] });
    await t.client.ack({ commandId: 'promote-1', type: 'promote', epoch: 1, outcome: 'ok', steps: [] });
    expect(t.sent.map((r) => [r.method, r.path, r.timeoutMs])).toEqual([
      ['POST', '/api/v1/agent/heartbeat', 5000],
      ['POST', '/api/v1/agent/arbitrate', 15_000],
      ['POST', '/api/v1/agent/ack', 5000],
    ]);
    const verified = t.sent.map((r) => verify(r, t.clock.wallNow()));
    expect(verified).toEqual([
      expect.objectContaining({ ok: true, clusterId: 'bcm-head', nodeId: 'head-a', keyVersion: 2, seq: 1 }),
      expect.objectContaining({ ok: true, seq: 2 }),
      expect.objectContaining({ ok: true, seq: 3 }),
    ]);
    expect(t.sent[0]?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(t.sent[0]?.body?.toString() ?? '')).toEqual({ role: 'standby', epoch: 1, checks: [] });
  });

  it('takes the send time before the request goes out (the start of any lease it grants)', async () => {
    const t = setup();
    const before = t.clock.now();
    const result = await t.client.heartbeat({ role: 'standby', epoch: 1, checks: [] });
    expect(result).toMatchObject({ ok: true, sentAt: before, answer: { status: 200, json: { ok: true } } });
    expect(t.clock.now()).toBe(before + 250);
  });

  it('sends one request at a time, in sequence order', async () => {
    const t = setup();
    let release: (r: HttpResponse) => void = () => undefined;
    t.answers.push(new Promise<HttpResponse>((resolve) => (release = resolve)));
    const first = t.client.heartbeat({ role: 'standby', epoch: 1, checks: [] });
    const second = t.client.arbitrate({ epoch: 1, checks: [] });
    await new Promise((resolve) => setImmediate(resolve));
    expect(t.sent).toHaveLength(1);
    release({ status: 200, headers: {}, body: Buffer.from('{}') });
    await Promise.all([first, second]);
    expect(t.sent.map((r) => r.headers['x-fp-seq'])).toEqual(['1', '2']);
  });

  const replayed = (error: Record<string, unknown>): HttpResponse => ({
    status: 409,
    headers: {},
    body: Buffer.from(JSON.stringify({ error: { code: 'ReplayedSequence', ...error } })),
  });

  it('goes on above the lastAcceptedSeq of a ReplayedSequence answer', async () => {
    const t = setup();
    t.answers.push(
      replayed({ message: 'sequence 1 is not above the last accepted 4711', lastAcceptedSeq: 4711 }),
    );
    const result = await t.client.heartbeat({ role: 'standby', epoch: 1, checks: [] });
    expect(result).toMatchObject({ ok: true, answer: { status: 409 } });
    await t.client.heartbeat({ role: 'standby', epoch: 1, checks: [] });
    expect(t.sent[1]?.headers['x-fp-seq']).toBe('4712');
  });

  it('reads the number from lastAcceptedSeq, never from the wording of the message', async () => {
    const t = setup();
    // The message is for people: reworded, or naming another number, it must not change what the agent does.
    t.answers.push(replayed({ message: 'replayed request; see lastAcceptedSeq', lastAcceptedSeq: 9000 }));
    t.answers.push(replayed({ message: 'sequence 9001 is not above the last accepted 123456' }));
    await t.client.heartbeat({ role: 'standby', epoch: 1, checks: [] });
    await t.client.heartbeat({ role: 'standby', epoch: 1, checks: [] });
    await t.client.heartbeat({ role: 'standby', epoch: 1, checks: [] });
    expect(t.sent.map((r) => r.headers['x-fp-seq'])).toEqual(['1', '9001', '9002']);
  });

  it('ignores a lastAcceptedSeq outside the contract, and one in an answer that is not a 409', async () => {
    const t = setup();
    t.answers.push(replayed({ message: 'm', lastAcceptedSeq: 2 ** 53 }));
    t.answers.push(replayed({ message: 'm', lastAcceptedSeq: '500' }));
    t.answers.push(replayed({ message: 'm', lastAcceptedSeq: 1.5 }));
    t.answers.push({
      status: 422,
      headers: {},
      body: Buffer.from(JSON.stringify({ error: { code: 'X', message: 'm', lastAcceptedSeq: 700 } })),
    });
    for (let i = 0; i < 5; i++) await t.client.heartbeat({ role: 'standby', epoch: 1, checks: [] });
    expect(t.sent.map((r) => r.headers['x-fp-seq'])).toEqual(['1', '2', '3', '4', '5']);
  });

  it('polls an arbitration on the configured control plane, whatever origin the statusUrl names', async () => {
    const t = setup('https://cp.example.net/prefix/');
    await t.client.arbitrationStatus('http://127.0.0.1:7071/api/v1/agent/arbitration/bcm-head/3');
    expect(t.sent[0]).toMatchObject({ method: 'GET', path: '/prefix/api/v1/agent/arbitration/bcm-head/3' });
    expect(verify(t.sent[0] as HttpRequest, t.clock.wallNow()).ok).toBe(true);
    expect(await t.client.arbitrationStatus('https://evil.example/steal')).toMatchObject({
      ok: false,
      kind: 'protocol',
    });
    expect(t.sent).toHaveLength(1);
  });

  it('returns transport failures as results, with their kind', async () => {
    const t = setup();
    t.answers.push(new TransportError('pin', 'the certificate does not match'));
    expect(await t.client.heartbeat({ role: 'standby', epoch: 1, checks: [] })).toEqual({
      ok: false,
      kind: 'pin',
      message: 'the certificate does not match',
    });
  });

  it('keeps the key out of anything that could be printed', () => {
    const t = setup();
    expect(JSON.stringify(t.client)).not.toContain(key.toString('base64'));
    expect(JSON.stringify(t.client)).not.toContain(JSON.stringify(key.toJSON().data).slice(1, 20));
  });
});
