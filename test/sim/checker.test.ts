import type { ClusterState } from '../../shared/domain/clusterState';
import { checkInvariants, traceExcerpt, type ViolationKind } from '../../sim/checker';
import type { Commit, CommitKind } from '../../sim/store';
import type { ActionRecord, LeaseSegment } from '../../sim/trace';

const base: ClusterState = {
  clusterId: 'c',
  epoch: 1,
  activeNodeId: 'a',
  leaseExpiresAt: null,
  revoked: false,
  fenced: false,
  updatedAt: 0,
  reason: '',
};

/** A store history from successive patches of the state. */
function history(...steps: [number, CommitKind, string, Partial<ClusterState>][]): Commit[] {
  const commits: Commit[] = [{ t: 0, version: 1, kind: 'declare', by: 'admin', state: base, prev: base }];
  for (const [t, kind, by, patch] of steps) {
    const prev = (commits[commits.length - 1] as Commit).state;
    commits.push({ t, version: commits.length + 1, kind, by, state: { ...prev, ...patch }, prev });
  }
  return commits;
}

const segment = (node: string, epoch: number, grantId: number, start: number, end: number): LeaseSegment => ({
  node,
  grantId,
  epoch,
  start,
  end,
  endedBy: 'lease end',
});

/** An action at real time t by a node whose clock reads real time, under a lease sent at `sent`. */
const action = (node: string, epoch: number, grantId: number, t: number, sent = t - 100, leaseMs = 1000) =>
  ({ t, node, epoch, grantId, local: t, grantSentLocal: sent, leaseMs }) satisfies ActionRecord;

/** a holds e1 (grant v2) until 1000; revoked at 1100; b promoted to e2 at 1500 and granted (v5) at 1600. */
const safeHistory = () =>
  history(
    [0, 'grant', 'a', { leaseExpiresAt: 1000 }],
    [1100, 'revoke', 'cp0', { revoked: true }],
    [1500, 'promote', 'cp0', { epoch: 2, activeNodeId: 'b', revoked: false, leaseExpiresAt: null }],
    [1501, 'grant', 'b', { leaseExpiresAt: 2600 }],
  );

const kinds = (r: ReturnType<typeof checkInvariants>): ViolationKind[] => r.violations.map((v) => v.kind);

describe('checkInvariants', () => {
  it('accepts a clean handover and reports how close it came', () => {
    const result = checkInvariants({
      commits: safeHistory(),
      segments: [segment('a', 1, 2, 10, 1000), segment('b', 2, 5, 1600, 2600)],
      actions: [action('a', 1, 2, 500), action('a', 1, 2, 999), action('b', 2, 5, 1700, 1550)],
    });
    expect(result.violations).toEqual([]);
    expect(result.minHandoverGapMs).toBe(600);
    expect(result.minPromotionSlackMs).toBe(500);
  });

  it("treats leases as half-open: one may start at the very instant the other's ends", () => {
    const result = checkInvariants({
      commits: safeHistory(),
      segments: [segment('a', 1, 2, 10, 1000), segment('b', 2, 5, 1000, 2000)],
      actions: [],
    });
    expect(kinds(result)).not.toContain('overlapping-leases');
  });

  it('flags two nodes holding leases at the same time, by how much', () => {
    const result = checkInvariants({
      commits: safeHistory(),
      segments: [segment('a', 1, 2, 10, 1000), segment('b', 2, 5, 999.5, 2000)],
      actions: [],
    });
    expect(result.violations[0]).toMatchObject({
      invariant: 1,
      kind: 'overlapping-leases',
      nodes: ['a', 'b'],
    });
    expect(result.violations[0]?.message).toMatch(/overlaps .* by 0\.500 ms/);
  });

  it('flags an action after the lease it acts under ran out, on the true send time', () => {
    const result = checkInvariants({
      commits: safeHistory(),
      segments: [segment('a', 1, 2, 10, 1000)],
      actions: [action('a', 1, 2, 1010, 10)],
    });
    expect(kinds(result)).toContain('action-outside-lease');
  });

  it("flags an action inside another node's lease", () => {
    const result = checkInvariants({
      commits: safeHistory(),
      segments: [segment('b', 2, 5, 1600, 2600)],
      actions: [action('a', 1, 2, 1700, 1650)],
    });
    expect(kinds(result)).toContain('concurrent-action');
  });

  it('flags a lease under an older epoch still running when a promotion commits', () => {
    const result = checkInvariants({
      commits: safeHistory(),
      segments: [segment('a', 1, 2, 10, 1500.25)],
      actions: [],
    });
    expect(result.violations).toEqual([
      expect.objectContaining({ invariant: 3, kind: 'lease-outlives-promotion', t: 1500 }),
    ]);
    expect(result.minPromotionSlackMs).toBe(Number.POSITIVE_INFINITY);
  });

  it('flags an action under an epoch a promotion has superseded', () => {
    const result = checkInvariants({
      commits: safeHistory(),
      segments: [],
      actions: [action('a', 1, 2, 1500)],
    });
    expect(kinds(result)).toContain('superseded-epoch-action');
  });

  it('flags an action whose epoch is not the one its grant committed under, or a grant that never committed', () => {
    const result = checkInvariants({
      commits: safeHistory(),
      segments: [],
      actions: [action('a', 2, 2, 500), action('a', 1, 99, 600)],
    });
    expect(kinds(result).filter((k) => k === 'action-epoch-mismatch')).toHaveLength(2);
  });

  it("flags a node whose actions' epochs go backwards", () => {
    const commits = history(
      [0, 'grant', 'a', { leaseExpiresAt: 1000 }],
      [10, 'reaffirm', 'cp0', { epoch: 2 }],
      [20, 'grant', 'a', { leaseExpiresAt: 1020 }],
    );
    const result = checkInvariants({
      commits,
      segments: [],
      actions: [action('a', 2, 4, 30), action('a', 1, 2, 40)],
    });
    expect(kinds(result)).toEqual(['epoch-regressed']);
  });

  describe('store history', () => {
    const check = (...steps: Parameters<typeof history>) =>
      checkInvariants({ commits: history(...steps), segments: [], actions: [] }).violations.map(
        (v) => v.message,
      );

    it('accepts grants, revocation, fencing, promotion and reaffirmation in order', () => {
      expect(
        check(
          [0, 'grant', 'a', { leaseExpiresAt: 1000 }],
          [5, 'reaffirm', 'cp0', { epoch: 2 }],
          [10, 'revoke', 'cp0', { revoked: true }],
          [20, 'fence', 'cp0', { fenced: true }],
          [
            30,
            'promote',
            'cp0',
            { epoch: 3, activeNodeId: 'b', revoked: false, fenced: false, leaseExpiresAt: null },
          ],
        ),
      ).toEqual([]);
    });

    it("takes the heartbeat handler's reaffirm + grant as a grant, and holds it to the reaffirmation rule", () => {
      const commits = history(
        [0, 'grant', 'a', { leaseExpiresAt: 1000 }],
        [900, 'reaffirm-grant', 'a', { epoch: 2, leaseExpiresAt: 1900 }],
      );
      const ok = checkInvariants({
        commits,
        segments: [segment('a', 1, 2, 10, 950), segment('a', 2, 3, 1000, 1850)],
        actions: [action('a', 1, 2, 500), action('a', 2, 3, 1100, 850)],
      });
      expect(ok.violations).toEqual([]);
      expect(
        check(
          [0, 'grant', 'a', { leaseExpiresAt: 1000 }],
          [10, 'reaffirm-grant', 'b', { epoch: 2, activeNodeId: 'b' }],
          [20, 'reaffirm-grant', 'b', { leaseExpiresAt: 2000 }],
        ),
      ).toEqual([
        expect.stringMatching(/reaffirmation must keep the active and raise the epoch/),
        expect.stringMatching(/reaffirmation must keep the active and raise the epoch/),
      ]);
    });

    it('refuses a grant after the revocation of its epoch', () => {
      expect(
        check(
          [0, 'grant', 'a', { leaseExpiresAt: 1000 }],
          [10, 'revoke', 'cp0', { revoked: true }],
          [20, 'grant', 'a', { leaseExpiresAt: 1020 }],
        ),
      ).toEqual([expect.stringMatching(/lease changed after the revocation/)]);
    });

    it('refuses an epoch going down, a change of active without a new epoch, and a promotion without revocation', () => {
      const messages = check(
        [10, 'promote', 'cp0', { epoch: 2, activeNodeId: 'b' }],
        [20, 'grant', 'a', { epoch: 1, activeNodeId: 'a' }],
        [30, 'grant', 'b', { activeNodeId: 'b' }],
      );
      expect(messages).toEqual([
        expect.stringMatching(/promotion must follow a committed revocation/),
        expect.stringMatching(/epoch went down/),
        expect.stringMatching(/without a higher epoch/),
        expect.stringMatching(/active changed a→b without a higher epoch/),
      ]);
    });

    it('refuses a shortened lease and an un-revoked epoch', () => {
      expect(
        check(
          [0, 'grant', 'a', { leaseExpiresAt: 1000 }],
          [10, 'grant', 'a', { leaseExpiresAt: 900 }],
          [20, 'revoke', 'cp0', { revoked: true }],
          [30, 'grant', 'a', { revoked: false }],
        ),
      ).toEqual([expect.stringMatching(/shortened/), expect.stringMatching(/un-revoked/)]);
    });
  });
});

describe('traceExcerpt', () => {
  it('shows the log and the leases of the nodes involved before the violation', () => {
    const log = [
      { t: 100, who: 'cp0', what: 'too early' },
      { t: 900, who: 'store', what: 'v3 revoke' },
      { t: 1000, who: 'n1', what: 'drops lease' },
      { t: 5000, who: 'n2', what: 'too late' },
    ];
    const lines = traceExcerpt(
      log,
      [segment('n1', 1, 2, 500, 1000)],
      { invariant: 1, kind: 'overlapping-leases', t: 1000, nodes: ['n1', 'n2'], message: '' },
      600,
    );
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/500\.000 {2}lease n1 e1/);
    expect(lines.join('\n')).not.toMatch(/too (early|late)/);
  });
});

describe('checkInvariants: peer leases (4)', () => {
  /** a on its control-plane lease until 1000, then on its peer lease (b's promises) until 2000; revoked at 1100. */
  const commits = () =>
    history(
      [0, 'grant', 'a', { leaseExpiresAt: 1000 }],
      [1100, 'revoke', 'cp0', { revoked: true }],
      [1500, 'promote', 'cp0', { epoch: 2, activeNodeId: 'b', revoked: false, leaseExpiresAt: null }],
    );
  const peerSegment = { ...segment('a', 1, 2, 10, 2000), cpEnd: 1000 };
  const promise = (end: number, endedBy = 'its end') => ({
    node: 'b',
    to: 'a',
    epoch: 1,
    start: 900,
    end,
    endedBy,
  });
  /** An action under the peer lease alone: b's promise asked for at `sentAt`, for 1000 ms. */
  const peerAction = (t: number, sentAt = 950) => ({
    ...action('a', 1, 2, t, 0, 1000),
    peer: { promotable: ['b'], held: [{ from: 'b', epoch: 1, sentAt, durationMs: 1000 }] },
  });

  it('accepts acting on a peer lease past a promotion whose node waits out its promise', () => {
    const result = checkInvariants({
      commits: commits(),
      segments: [peerSegment, segment('b', 2, 5, 2100, 3000)],
      actions: [peerAction(1600), peerAction(1900)],
      promises: [promise(2050)],
    });
    expect(result.violations).toEqual([]);
  });

  it('flags an action on a peer lease past its end from the true send time (4a)', () => {
    const r = checkInvariants({
      commits: commits(),
      segments: [peerSegment],
      actions: [peerAction(1960, 950)],
      promises: [promise(2050)],
    });
    expect(kinds(r)).toEqual(['action-outside-lease']);
    expect(r.violations[0]?.invariant).toBe(4);
  });

  it('flags an action on a peer lease while a node of the set holds no promise (4b)', () => {
    const r = checkInvariants({
      commits: commits(),
      segments: [peerSegment],
      actions: [peerAction(1600)],
      promises: [promise(1200, 'forgotten in a crash')],
    });
    expect(kinds(r)).toEqual(['action-without-promise']);
  });

  it('flags a node that starts a lease while bound by a promise to another (4c)', () => {
    const r = checkInvariants({
      commits: commits(),
      segments: [peerSegment, segment('b', 2, 5, 1900, 3000)],
      actions: [],
      promises: [promise(2050)],
    });
    expect(kinds(r)).toEqual(expect.arrayContaining(['bound-node-promoted', 'overlapping-leases']));
  });

  it('flags an action on an old epoch’s peer lease after a newer epoch’s lease began (4d)', () => {
    const r = checkInvariants({
      commits: commits(),
      segments: [{ ...peerSegment, end: 1700 }, segment('b', 2, 5, 1750, 3000)],
      actions: [peerAction(1800)],
      promises: [promise(2050)],
    });
    expect(kinds(r)).toContain('superseded-epoch-action');
  });

  it('still holds the control-plane part of a segment to 3(b)', () => {
    const r = checkInvariants({
      commits: commits(),
      segments: [{ ...peerSegment, cpEnd: 1600 }],
      actions: [],
      promises: [promise(2050)],
    });
    expect(kinds(r)).toEqual(['lease-outlives-promotion']);
  });
});
