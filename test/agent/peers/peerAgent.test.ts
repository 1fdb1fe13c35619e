import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, type AgentSettings, type AgentStatus } from '../../../agent/agent';
import { PeerClient } from '../../../agent/peers/peerClient';
import { PromiseStore } from '../../../agent/peers/promiseStore';
import { initialState, MemoryStateStore, SequenceAllocator, StateKeeper } from '../../../agent/state';
import { promiseMarginMs } from '../../../shared/domain/peerPromises';
import {
  FakeChecks,
  FakeControlPlane,
  FakeHooks,
  grant,
  memoryLogger,
  promote,
  reply,
} from '../helpers/fakes';
import { ManualClock } from '../helpers/manualClock';

const peerKey = randomBytes(32);
const LEASE = 4000;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fp-peer-agent-'));
});
const open: Agent[] = [];
afterEach(async () => {
  for (const agent of open.splice(0)) await agent.stop('test over');
  rmSync(dir, { recursive: true, force: true });
});

/** One node: an Agent with a fake control plane, a real peer listener on 127.0.0.1 and promises in `dir/<node>`. */
async function node(
  nodeId: string,
  clock: ManualClock,
  options: { store?: MemoryStateStore; write?: (file: string, content: string) => Promise<void> } = {},
) {
  const settings: AgentSettings = {
    clusterId: 'c1',
    nodeId,
    initialIntervalMs: 1000,
    jitterRatio: 0,
    maxBackoffMs: 30_000,
    fenceMarginMs: 0,
    shutdownTimeoutMs: 5000,
    demoteOnShutdown: false,
  };
  const store = options.store ?? new MemoryStateStore();
  store.state ??= initialState('c1', nodeId);
  const state = await StateKeeper.open(store, 'c1', nodeId);
  const controlPlane = new FakeControlPlane(clock);
  const hooks = new FakeHooks();
  const { log, records } = memoryLogger();
  const statuses: AgentStatus[] = [];
  const sequence = new SequenceAllocator(state);
  const stateDir = path.join(dir, nodeId);
  mkdirSync(stateDir, { recursive: true });
  const promises = await PromiseStore.open({
    dir: stateDir,
    clusterId: 'c1',
    nodeId,
    clock,
    // One machine: CLOCK_MONOTONIC is the shared manual clock, shifted.
    monotonicMs: () => clock.now() + 1_000_000,
    bootId: () => 'boot-1',
    ...(options.write ? { write: options.write } : {}),
  });
  const agent = new Agent({
    settings,
    client: controlPlane,
    checks: new FakeChecks(),
    hooks,
    state,
    writeStatus: (status) => {
      statuses.push(structuredClone(status));
      return Promise.resolve();
    },
    clock,
    log,
    random: () => 0.5,
    peer: {
      store: promises,
      client: new PeerClient({
        clusterId: 'c1',
        nodeId,
        key: peerKey,
        nextSeq: () => sequence.next(),
        clock,
      }),
      listener: { address: '127.0.0.1', port: 0, key: peerKey },
    },
  });
  open.push(agent);
  const url = await agent.startPeerListener();
  if (!url) throw new Error('no peer listener');
  return { agent, controlPlane, hooks, records, statuses, store, promises, url, state };
}

type Node = Awaited<ReturnType<typeof node>>;

/** Makes `a` the active under `epoch` with the promotable set `peers` (the control plane's grant). */
async function makeActive(a: Node, epoch: number, peers: Node[]) {
  a.controlPlane.answer({
    ...grant(epoch, LEASE, [promote(epoch)]),
    peers: { epoch, nodes: peers.map((p) => ({ nodeId: idOf(p), url: p.url })) },
  });
  expect(await a.agent.heartbeatOnce()).toBe(true);
  await a.agent.idle();
  expect(a.agent.role).toBe('active');
}
const idOf = (n: Node) => n.state.current.nodeId;

/** One failed heartbeat of the active, then its peers asked (what the heartbeat loop does every interval). */
async function cpDownCycle(a: Node) {
  expect(await a.agent.heartbeatOnce()).toBe(false);
  await a.agent.askPeersOnce();
}

describe('peer promises between two agents', () => {
  it('an active whose control plane is unreachable stays active through a peer lease, and self-fences once the peer is unreachable too', async () => {
    const clock = new ManualClock();
    const a = await node('n1', clock);
    const b = await node('n2', clock);
    await makeActive(a, 1, [b]);
    a.controlPlane.defaultAnswer = { fail: 'connection refused' };

    // Well past the control-plane lease (4 s), asking every second: still active.
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      await cpDownCycle(a);
      expect(a.agent.mayActAsActive()).toBe(true);
    }
    expect(a.agent.holdsPeerLease()).toBe(true);
    expect(a.hooks.operations).toEqual(['promote:promote-1']);
    expect(
      a.records.some(
        (r) =>
          typeof r.msg === 'string' &&
          r.msg.startsWith('control plane unreachable: the peer lease from n2 carries the active role until'),
      ),
    ).toBe(true);
    expect(a.statuses.at(-1)?.peer?.peerLease).toMatchObject({ epoch: 1, from: ['n2'] });

    // The standby is bound, reports it, and says so in its status.
    expect(b.agent.heartbeatBody().peer).toMatchObject({
      url: b.url,
      promise: { to: 'n1', epoch: 1, remainingMs: expect.any(Number) as number },
    });
    expect(b.state.current.highestEpoch).toBe(1);

    // The peer goes away: the peer lease runs out (4 s after the last request was sent) and the node self-fences.
    await b.agent.stop('peer gone');
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await cpDownCycle(a);
      expect(a.agent.mayActAsActive()).toBe(true);
    }
    clock.advance(1000);
    await cpDownCycle(a);
    expect(a.agent.mayActAsActive()).toBe(false);
    await a.agent.idle();
    expect(a.hooks.operations.slice(1).map((o) => o.split(':')[0])).toEqual(['demote', 'fence']);
    expect(a.agent.role).toBe('standby');
  });

  it('the control plane coming back resumes its lease without a role change; standby demotes as today', async () => {
    const clock = new ManualClock();
    const a = await node('n1', clock);
    const b = await node('n2', clock);
    await makeActive(a, 1, [b]);
    a.controlPlane.defaultAnswer = { fail: 'timeout' };
    for (let i = 0; i < 6; i++) {
      clock.advance(1000);
      await cpDownCycle(a);
    }
    expect(a.agent.mayActAsActive()).toBe(true);
    a.controlPlane.answer({ ...grant(1, LEASE), peers: { epoch: 1, nodes: [{ nodeId: 'n2', url: b.url }] } });
    expect(await a.agent.heartbeatOnce()).toBe(true);
    expect(a.agent.role).toBe('active');
    expect(
      a.records.some((r) => r.msg === 'the control plane lease resumes: the peer lease is no longer needed'),
    ).toBe(true);
    a.controlPlane.answer(reply({ role: 'standby', epoch: 2 }));
    await a.agent.heartbeatOnce();
    await a.agent.idle();
    expect(a.agent.role).toBe('standby');
    expect(a.agent.holdsPeerLease()).toBe(false);
  });

  it('holds no peer lease without a promise from every node of the promotable set', async () => {
    const clock = new ManualClock();
    const a = await node('n1', clock);
    const b = await node('n2', clock);
    await makeActive(a, 1, [b]);
    // The set names a third node that never answers (no listener advertised).
    a.controlPlane.answer({
      ...grant(1, LEASE),
      peers: {
        epoch: 1,
        nodes: [
          { nodeId: 'n2', url: b.url },
          { nodeId: 'n3', url: null },
        ],
      },
    });
    await a.agent.heartbeatOnce();
    a.controlPlane.defaultAnswer = { fail: 'timeout' };
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await cpDownCycle(a);
    }
    expect(a.agent.holdsPeerLease()).toBe(false);
    clock.advance(1000);
    await cpDownCycle(a);
    expect(a.agent.mayActAsActive()).toBe(false);
    await a.agent.idle();
    expect(a.hooks.operations.map((o) => o.split(':')[0])).toEqual(['promote', 'demote', 'fence']);
  });

  it('a bound standby refuses a grant and a promote command, and takes them once the promise has lapsed', async () => {
    const clock = new ManualClock();
    const a = await node('n1', clock);
    const b = await node('n2', clock);
    await makeActive(a, 1, [b]);
    a.controlPlane.defaultAnswer = { fail: 'timeout' };
    clock.advance(1000);
    await cpDownCycle(a);
    expect(b.promises.promises).toHaveLength(1);
    const promisedAt = clock.now();

    // The control plane (it cannot hear n1) wants n2 active under epoch 2.
    const failover = grant(2, LEASE, [promote(2)]);
    b.controlPlane.answer(failover, failover);
    expect(await b.agent.heartbeatOnce()).toBe(true);
    await b.agent.idle();
    expect(b.agent.role).toBe('standby');
    expect(b.agent.holdsLease()).toBe(false);
    expect(b.hooks.runs).toEqual([]);
    // Not recorded: the control plane's next answers repeat it.
    expect(b.state.current.commands).toEqual([]);
    clock.advance(1000);
    expect(await b.agent.heartbeatOnce()).toBe(true);
    const refusals = b.records.filter(
      (r) =>
        typeof r.msg === 'string' && /^bound by a promise to n1 until .*: the grant is refused$/.test(r.msg),
    );
    expect(refusals).toHaveLength(1);
    expect(b.statuses.at(-1)?.peer?.promises).toEqual([
      expect.objectContaining({ to: 'n1', epoch: 1 }) as unknown,
    ]);

    // The active is gone (no more requests): once the promise ends (duration + margin from its receipt), n2 is promoted.
    clock.advance(promisedAt + LEASE + promiseMarginMs(LEASE) - clock.now() + 1);
    expect(b.agent.heartbeatBody().peer?.promise).toBeUndefined();
    b.controlPlane.answer(failover);
    expect(await b.agent.heartbeatOnce()).toBe(true);
    await b.agent.idle();
    expect(b.agent.role).toBe('active');
    expect(b.hooks.operations).toEqual(['promote:promote-2']);
  });

  it('a restarted standby (a new Agent over the same state) is still bound', async () => {
    const clock = new ManualClock();
    const a = await node('n1', clock);
    const b = await node('n2', clock);
    await makeActive(a, 1, [b]);
    a.controlPlane.defaultAnswer = { fail: 'timeout' };
    clock.advance(1000);
    await cpDownCycle(a);
    await b.agent.stop('restart');
    clock.advance(1000);

    const b2 = await node('n2', clock, { store: b.store });
    expect(b2.promises.promises).toEqual([expect.objectContaining({ to: 'n1', epoch: 1 }) as unknown]);
    expect(b2.agent.heartbeatBody().peer?.promise).toMatchObject({ to: 'n1', epoch: 1 });
    b2.controlPlane.answer(grant(2, LEASE, [promote(2)]));
    await b2.agent.heartbeatOnce();
    await b2.agent.idle();
    expect(b2.agent.role).toBe('standby');
    expect(b2.hooks.runs).toEqual([]);
    // The new listener keeps giving the promise to the same active (A asks the new URL).
    a.controlPlane.answer({
      ...grant(1, LEASE),
      peers: { epoch: 1, nodes: [{ nodeId: 'n2', url: b2.url }] },
    });
    expect(await a.agent.heartbeatOnce()).toBe(true);
    clock.advance(1000);
    await cpDownCycle(a);
    expect(a.agent.holdsPeerLease()).toBe(true);
  });

  it('a standby told the epoch is revoked refuses promises under it (epoch-closed), persisted', async () => {
    const clock = new ManualClock();
    const a = await node('n1', clock);
    const b = await node('n2', clock);
    await makeActive(a, 1, [b]);
    b.controlPlane.answer(reply({ role: 'standby', epoch: 1, revoked: true }));
    expect(await b.agent.heartbeatOnce()).toBe(true);
    expect(b.promises.closedEpoch).toBe(1);
    expect(b.agent.heartbeatBody().peer?.closedEpoch).toBe(1);
    a.controlPlane.defaultAnswer = { fail: 'timeout' };
    clock.advance(1000);
    await cpDownCycle(a);
    expect(a.agent.holdsPeerLease()).toBe(false);
    expect(
      a.records.some(
        (r) => r.msg === 'peer promise not obtained' && JSON.stringify(r.failed).includes('epoch-closed'),
      ),
    ).toBe(true);
    // On disk: a restart remembers it.
    await b.agent.stop('restart');
    const b2 = await node('n2', clock, { store: b.store });
    expect(b2.promises.closedEpoch).toBe(1);
  });

  it('a standby releases its promises under a revoked epoch once told its active is confirmed fenced', async () => {
    const clock = new ManualClock();
    const a = await node('n1', clock);
    const b = await node('n2', clock);
    await makeActive(a, 1, [b]);
    a.controlPlane.defaultAnswer = { fail: 'timeout' };
    clock.advance(1000);
    await cpDownCycle(a);
    expect(a.agent.holdsPeerLease()).toBe(true);
    expect(b.agent.heartbeatBody().peer?.promise).toMatchObject({ to: 'n1', epoch: 1 });
    // Revoked only: still bound (the old active may still act under its peer lease).
    b.controlPlane.answer(reply({ role: 'standby', epoch: 1, revoked: true }));
    expect(await b.agent.heartbeatOnce()).toBe(true);
    expect(b.agent.heartbeatBody().peer?.promise).toMatchObject({ to: 'n1' });
    // Revoked and fenced: released at once, on disk too.
    b.controlPlane.answer(reply({ role: 'standby', epoch: 1, revoked: true, fenced: true }));
    expect(await b.agent.heartbeatOnce()).toBe(true);
    expect(b.agent.heartbeatBody().peer?.promise).toBeUndefined();
    expect(b.records.some((r) => String(r.msg).includes('its promises are released'))).toBe(true);
    await b.agent.stop('restart');
    const b2 = await node('n2', clock, { store: b.store });
    expect(b2.promises.promises).toEqual([]);
  });

  it('an active silenced by a failover drill asks its peers for nothing: its lease lapses as the drill wants', async () => {
    const clock = new ManualClock();
    const a = await node('n1', clock);
    const b = await node('n2', clock);
    await makeActive(a, 1, [b]);
    a.controlPlane.answer({
      ...grant(1, LEASE, [
        {
          id: 'drill-silence-d1',
          type: 'drill-silence',
          epoch: 1,
          clusterId: 'c1',
          nodeId: 'n1',
          silenceMs: 20_000,
        },
      ]),
      peers: { epoch: 1, nodes: [{ nodeId: 'n2', url: b.url }] },
    });
    expect(await a.agent.heartbeatOnce()).toBe(true);
    await a.agent.idle();
    expect(a.agent.silentForMs).toBeGreaterThan(0);
    for (let i = 0; i < 6; i++) {
      clock.advance(1000);
      await a.agent.askPeersOnce();
    }
    expect(b.promises.promises).toEqual([]);
    expect(a.agent.holdsPeerLease()).toBe(false);
    expect(a.agent.mayActAsActive()).toBe(false);
  });

  it('an active never gives a promise, and a lapsed active is not revived by late promises', async () => {
    const clock = new ManualClock();
    const a = await node('n1', clock);
    const b = await node('n2', clock);
    await makeActive(a, 1, [b]);
    // n2 asking n1 (an active holding its lease) is refused.
    const askA = new PeerClient({
      clusterId: 'c1',
      nodeId: 'n2',
      key: peerKey,
      nextSeq: () => Promise.resolve(77),
      clock,
    });
    expect(
      await askA.askPromise({ nodeId: 'n1', url: a.url }, { epoch: 1, durationMs: LEASE }, 2000),
    ).toMatchObject({
      ok: true,
      answer: { granted: false, code: 'not-standby' },
    });
    // The lease lapses with no request made in time: asking afterwards does nothing.
    a.controlPlane.defaultAnswer = { fail: 'timeout' };
    clock.advance(LEASE + 1);
    await a.agent.idle();
    expect(a.agent.mayActAsActive()).toBe(false);
    await a.agent.askPeersOnce();
    expect(b.promises.promises).toEqual([]);
    expect(a.agent.mayActAsActive()).toBe(false);
  });

  it('a control plane that black-holes heartbeats (each held until a long timeout) does not slow the promise rounds', async () => {
    const clock = new ManualClock();
    const a = await node('n1', clock);
    const b = await node('n2', clock);
    a.controlPlane.answer({
      ...grant(1, LEASE, [promote(1)]),
      peers: { epoch: 1, nodes: [{ nodeId: 'n2', url: b.url }] },
    });
    const until = async (what: () => boolean) => {
      const deadline = Date.now() + 5000;
      while (!what() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(what()).toBe(true);
    };
    a.controlPlane.defaultAnswer = { fail: 'timeout' };
    await a.agent.start();
    await until(() => a.agent.role === 'active');
    // From now on every heartbeat hangs (answered only when the test ends): the loop waits on one forever.
    const held: (() => void)[] = [];
    const real = a.controlPlane.heartbeat.bind(a.controlPlane);
    a.controlPlane.heartbeat = (body) =>
      new Promise((resolve) => held.push(() => void real(body).then(resolve)));
    // One interval on, the heartbeat is merely in flight; from 1.5 intervals after the last grant it is overdue.
    clock.advance(1000);
    await new Promise((r) => setTimeout(r, 20)); // the peer loop sets its next timer
    for (let i = 0; i < 8; i++) {
      clock.advance(1000);
      // The peer loop asks every interval all the same, timed from this moment.
      await until(() => a.agent.peerLeaseEndsAt() === clock.now() + LEASE);
      expect(a.agent.mayActAsActive()).toBe(true);
      await new Promise((r) => setTimeout(r, 20)); // the peer loop sets its next timer
    }
    expect(held.length).toBeLessThanOrEqual(2); // the heartbeat loop is stuck on its one request
    a.controlPlane.heartbeat = real;
    for (const release of held) release();
  });

  it('the heartbeat loop asks the peers every interval while the control plane does not answer', async () => {
    const clock = new ManualClock();
    const a = await node('n1', clock);
    const b = await node('n2', clock);
    a.controlPlane.answer({
      ...grant(1, LEASE, [promote(1)]),
      peers: { epoch: 1, nodes: [{ nodeId: 'n2', url: b.url }] },
    });
    a.controlPlane.defaultAnswer = { fail: 'timeout' };
    const until = async (what: () => boolean) => {
      const deadline = Date.now() + 5000;
      while (!what() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(what()).toBe(true);
    };
    await a.agent.start();
    await until(() => a.agent.role === 'active');
    // Active, it reports at once (a kicked heartbeat): that one fails too, and the peer is asked.
    await until(() => a.agent.peerLeaseEndsAt() === clock.now() + LEASE);
    let asked = 0;
    for (let i = 0; i < 8; i++) {
      clock.advance(1000);
      // Each failed heartbeat is followed by a request to n2 (real HTTP: wait for its answer), sent at this time.
      await until(() => a.agent.peerLeaseEndsAt() === clock.now() + LEASE);
      asked++;
      expect(a.agent.mayActAsActive()).toBe(true);
    }
    expect(asked).toBe(8);
    expect(a.hooks.operations).toEqual(['promote:promote-1']);
  });

  it('a promise that cannot be saved is answered 503 and not counted, but binds the standby anyway', async () => {
    const clock = new ManualClock();
    const a = await node('n1', clock);
    const b = await node('n2', clock, { write: () => Promise.reject(new Error('ENOSPC')) });
    await makeActive(a, 1, [b]);
    a.controlPlane.defaultAnswer = { fail: 'timeout' };
    clock.advance(1000);
    await cpDownCycle(a);
    expect(a.agent.holdsPeerLease()).toBe(false);
    expect(
      a.records.some(
        (r) => r.msg === 'peer promise not obtained' && JSON.stringify(r.failed).includes('HTTP 503'),
      ),
    ).toBe(true);
    expect(b.records.some((r) => r.msg === 'promise granted in memory but not persisted: answered 503')).toBe(
      true,
    );
    // Bound all the same (the safe side): no grant, no promotion.
    b.controlPlane.answer(grant(2, LEASE, [promote(2)]));
    await b.agent.heartbeatOnce();
    await b.agent.idle();
    expect(b.agent.role).toBe('standby');
    expect(b.agent.heartbeatBody().peer?.promise).toMatchObject({ to: 'n1', epoch: 1 });
  });
});
