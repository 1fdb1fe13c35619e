import { MAX_CLOCK_DRIFT_RATE, minDriftMarginMs } from '../../../shared/domain/clusterDocument';
import {
  agentHoldsPeerLease,
  bindingPromise,
  decidePromise,
  livePromises,
  MAX_PROMISE_MS,
  mayAcceptPromotion,
  peerConfirmation,
  peerLeaseEndsAt,
  peerLeasesEndAt,
  promiseMarginMs,
  promotableSet,
  withPromise,
  type HeldPromise,
  type PeerPromise,
  type PromiserView,
  type PromiseReport,
} from '../../../shared/domain/peerPromises';

const T = 1_000_000;
const D = 3000;

const view = (patch: Partial<PromiserView> = {}): PromiserView => ({
  nodeId: 'p',
  role: 'standby',
  highestEpoch: 4,
  closedEpoch: 3,
  holdsLease: false,
  promises: [],
  ...patch,
});
const ask = (patch: Partial<{ from: string; epoch: number; durationMs: number }> = {}) => ({
  from: 'a',
  epoch: 4,
  durationMs: D,
  ...patch,
});

describe('promiseMarginMs', () => {
  it('is the drift margin of the control-plane lease, at least 1 ms', () => {
    expect(promiseMarginMs(D)).toBe(minDriftMarginMs(D));
    expect(promiseMarginMs(D)).toBeGreaterThan(0);
    expect(promiseMarginMs(1)).toBe(1);
  });

  it('makes a promise outlast the peer lease whatever the two clocks drift within the bound', () => {
    // the active's clock slow, the promising node's fast, the request received at once
    const rho = MAX_CLOCK_DRIFT_RATE;
    for (const d of [1, 1000, D, 12_345, MAX_PROMISE_MS]) {
      const activeEndsReal = d / (1 - rho);
      const promiseEndsReal = (d + promiseMarginMs(d)) / (1 + rho);
      expect(promiseEndsReal).toBeGreaterThanOrEqual(activeEndsReal);
    }
  });
});

describe('decidePromise', () => {
  it('grants a bare standby’s promise until receive time + duration + margin', () => {
    const d = decidePromise(view(), ask(), T);
    expect(d).toEqual({
      granted: true,
      durationMs: D,
      promise: { to: 'a', epoch: 4, until: T + D + promiseMarginMs(D) },
    });
  });

  it('accepts a newer epoch than it has seen (it learns it from the request)', () => {
    expect(decidePromise(view(), ask({ epoch: 9 }), T).granted).toBe(true);
  });

  it('refuses to promise itself', () => {
    expect(decidePromise(view(), ask({ from: 'p' }), T)).toMatchObject({ granted: false, code: 'self' });
  });

  it.each([0, -1, 1.5, MAX_PROMISE_MS + 1, Number.NaN])('refuses a duration of %p', (durationMs) => {
    expect(decidePromise(view(), ask({ durationMs }), T)).toMatchObject({
      granted: false,
      code: 'duration',
    });
  });

  it('accepts the edges of the duration range', () => {
    expect(decidePromise(view(), ask({ durationMs: 1 }), T).granted).toBe(true);
    expect(decidePromise(view(), ask({ durationMs: MAX_PROMISE_MS }), T).granted).toBe(true);
  });

  it('refuses an epoch below the highest it has seen (epoch-behind)', () => {
    expect(decidePromise(view({ highestEpoch: 5, closedEpoch: 0 }), ask(), T)).toMatchObject({
      granted: false,
      code: 'epoch-behind',
    });
  });

  it('refuses an epoch the control plane told it was revoked, and older ones (epoch-closed)', () => {
    expect(decidePromise(view({ closedEpoch: 4 }), ask(), T)).toMatchObject({
      granted: false,
      code: 'epoch-closed',
    });
    expect(decidePromise(view({ highestEpoch: 2, closedEpoch: 4 }), ask({ epoch: 3 }), T)).toMatchObject({
      granted: false,
      code: 'epoch-closed',
    });
    expect(decidePromise(view({ closedEpoch: 4 }), ask({ epoch: 5 }), T).granted).toBe(true);
  });

  it.each([
    ['active', false],
    ['promoting', false],
    ['demoting', false],
    ['standby', true],
  ] as const)('refuses when it is %s or holds a lease (not-standby)', (role, holdsLease) => {
    expect(decidePromise(view({ role, holdsLease }), ask(), T)).toMatchObject({
      granted: false,
      code: 'not-standby',
    });
  });

  it('refuses while a live promise binds it to another node under the same or a newer epoch', () => {
    const promises: PeerPromise[] = [{ to: 'b', epoch: 4, until: T + 10 }];
    expect(decidePromise(view({ promises }), ask(), T)).toMatchObject({
      granted: false,
      code: 'bound-to-another',
    });
    const newer: PeerPromise[] = [{ to: 'b', epoch: 6, until: T + 10 }];
    expect(decidePromise(view({ promises: newer }), ask(), T)).toMatchObject({ code: 'bound-to-another' });
  });

  it('promises again once the other promise ended, or when it was under an older epoch', () => {
    const ended: PeerPromise[] = [{ to: 'b', epoch: 4, until: T }];
    expect(decidePromise(view({ promises: ended }), ask(), T).granted).toBe(true);
    const older: PeerPromise[] = [{ to: 'b', epoch: 3, until: T + 10_000 }];
    expect(decidePromise(view({ promises: older, closedEpoch: 0 }), ask(), T).granted).toBe(true);
  });

  it('never shortens a promise it already gave the same node under the same epoch', () => {
    const long: PeerPromise[] = [{ to: 'a', epoch: 4, until: T + 10 * D }];
    const d = decidePromise(view({ promises: long }), ask(), T);
    expect(d).toMatchObject({ granted: true, promise: { until: T + 10 * D } });
  });
});

describe('the promising node’s list', () => {
  const promises: PeerPromise[] = [
    { to: 'a', epoch: 4, until: T + 100 },
    { to: 'b', epoch: 5, until: T + 300 },
    { to: 'c', epoch: 2, until: T },
  ];

  it('livePromises keeps those not yet at their end', () => {
    expect(livePromises(promises, T).map((p) => p.to)).toEqual(['a', 'b']);
    expect(livePromises(promises, T + 300)).toEqual([]);
  });

  it('withPromise keeps one promise per (to, epoch) and drops the dead', () => {
    const next = withPromise(promises, { to: 'a', epoch: 4, until: T + 900 }, T);
    expect(next).toEqual([
      { to: 'b', epoch: 5, until: T + 300 },
      { to: 'a', epoch: 4, until: T + 900 },
    ]);
    expect(withPromise(next, { to: 'a', epoch: 5, until: T + 50 }, T)).toHaveLength(3);
  });

  it('bindingPromise is the live one ending last', () => {
    expect(bindingPromise(promises, T)).toEqual(promises[1]);
    expect(bindingPromise(promises, T + 300)).toBeUndefined();
  });

  it('mayAcceptPromotion refuses while any promise binds, under any epoch, and allows at its end', () => {
    const no = mayAcceptPromotion(promises, T + 200);
    expect(no).toMatchObject({ allowed: false, promise: promises[1] });
    expect(no.allowed ? '' : no.reason).toMatch(/bound by a promise to b under epoch 5 for 100 ms/);
    expect(mayAcceptPromotion(promises, T + 300)).toEqual({ allowed: true });
    expect(mayAcceptPromotion([], T)).toEqual({ allowed: true });
  });
});

describe('the peer lease', () => {
  const held = (from: string, sentAt: number, epoch = 4, durationMs = D): HeldPromise => ({
    from,
    epoch,
    sentAt,
    durationMs,
  });

  it('is the earliest end over every promotable node, minus the fence margin', () => {
    const h = [held('b', T), held('c', T + 200)];
    expect(peerLeaseEndsAt(['b', 'c'], 4, h)).toBe(T + D);
    expect(peerLeaseEndsAt(['b', 'c'], 4, h, 50)).toBe(T + D - 50);
  });

  it('takes, per node, its latest-ending promise', () => {
    const h = [held('b', T), held('b', T + 500), held('b', T + 100)];
    expect(peerLeaseEndsAt(['b'], 4, h)).toBe(T + 500 + D);
  });

  it('is none when one promotable node has not promised', () => {
    expect(peerLeaseEndsAt(['b', 'c'], 4, [held('b', T)])).toBeNull();
  });

  it('is none with an empty promotable set (nobody to vouch for a one-node cluster)', () => {
    expect(peerLeaseEndsAt([], 4, [held('b', T)])).toBeNull();
    expect(agentHoldsPeerLease([], 4, [held('b', T)], T)).toBe(false);
  });

  it('counts only promises under its own epoch', () => {
    expect(peerLeaseEndsAt(['b'], 4, [held('b', T, 3), held('b', T, 5)])).toBeNull();
  });

  it('agentHoldsPeerLease holds strictly before the end', () => {
    const h = [held('b', T)];
    expect(agentHoldsPeerLease(['b'], 4, h, T + D - 1)).toBe(true);
    expect(agentHoldsPeerLease(['b'], 4, h, T + D)).toBe(false);
    expect(agentHoldsPeerLease(['b'], 4, h, T + D - 1, 1)).toBe(false);
  });
});

describe('promotableSet', () => {
  it('is every node of the document but the active, sorted and without duplicates', () => {
    expect(promotableSet(['n3', 'n1', 'n2', 'n3'], 'n2')).toEqual(['n1', 'n3']);
    expect(promotableSet(['n1'], 'n1')).toEqual([]);
  });
});

describe('peerConfirmation', () => {
  const state = { epoch: 4, activeNodeId: 'a', revoked: false };
  const report = (patch: Partial<PromiseReport> = {}): PromiseReport => ({
    nodeId: 'b',
    to: 'a',
    epoch: 4,
    remainingMs: 1000,
    receivedAt: T,
    ...patch,
  });

  it('confirms the active alive until receive time + what was left', () => {
    expect(peerConfirmation(state, [report()], T + 10)).toEqual({ by: 'b', until: T + 1000, epoch: 4 });
    expect(peerConfirmation(state, [report()], T + 1000)).toBeUndefined();
  });

  it('takes the report running longest', () => {
    const r = [report(), report({ nodeId: 'c', remainingMs: 2000 })];
    expect(peerConfirmation(state, r, T)).toMatchObject({ by: 'c', until: T + 2000 });
  });

  it('ignores a revoked epoch and a cluster without an active', () => {
    expect(peerConfirmation({ ...state, revoked: true }, [report()], T)).toBeUndefined();
    expect(peerConfirmation({ ...state, activeNodeId: null }, [report()], T)).toBeUndefined();
  });

  it('ignores promises under other epochs, to another node, or from the active itself', () => {
    const reports = [
      report({ epoch: 3 }),
      report({ epoch: 5 }),
      report({ to: 'c' }),
      report({ nodeId: 'a' }),
    ];
    expect(peerConfirmation(state, reports, T)).toBeUndefined();
  });
});

describe('peerLeasesEndAt', () => {
  const margin = 80;

  it('is at once over with an empty promotable set', () => {
    expect(peerLeasesEndAt(4, [], [], margin)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('is unknown until a node of the set is heard to have closed the epoch', () => {
    expect(peerLeasesEndAt(4, ['b', 'c'], [], margin)).toBeNull();
    expect(
      peerLeasesEndAt(4, ['b', 'c'], [{ nodeId: 'b', receivedAt: T, closedEpoch: 3 }], margin),
    ).toBeNull();
    // a node outside the set proves nothing
    expect(
      peerLeasesEndAt(4, ['b', 'c'], [{ nodeId: 'x', receivedAt: T, closedEpoch: 4 }], margin),
    ).toBeNull();
  });

  it('is a closed node’s report time + what is left of its promise under the epoch + the margin', () => {
    expect(peerLeasesEndAt(4, ['b'], [{ nodeId: 'b', receivedAt: T, closedEpoch: 4 }], margin)).toBe(
      T + margin,
    );
    expect(
      peerLeasesEndAt(
        4,
        ['b'],
        [{ nodeId: 'b', receivedAt: T, closedEpoch: 5, promise: { to: 'a', epoch: 4, remainingMs: 700 } }],
        margin,
      ),
    ).toBe(T + 700 + margin);
  });

  it('ignores a promise under another epoch', () => {
    expect(
      peerLeasesEndAt(
        4,
        ['b'],
        [{ nodeId: 'b', receivedAt: T, closedEpoch: 4, promise: { to: 'a', epoch: 3, remainingMs: 700 } }],
        margin,
      ),
    ).toBe(T + margin);
  });

  it('takes the earliest bound over the closed nodes (one is enough: the active needs them all)', () => {
    const evidence = [
      { nodeId: 'b', receivedAt: T, closedEpoch: 4, promise: { to: 'a', epoch: 4, remainingMs: 900 } },
      { nodeId: 'c', receivedAt: T + 100, closedEpoch: 4 },
    ];
    expect(peerLeasesEndAt(4, ['b', 'c'], evidence, margin)).toBe(T + 100 + margin);
  });
});
