import { initialClusterState } from '../../../shared/domain/clusterState';
import {
  orphanedEpochDue,
  orphanRetryDelayMs,
  agentHoldsLease,
  arbitrate,
  confirmFenced,
  detectFailure,
  failoverAllowed,
  grantLease,
  mayPromote,
  promote,
  reaffirm,
  revoke,
} from '../../../shared/domain/decisions';

const T = 1_000_000;
const LEASE = 4000;
const MARGIN = 500;

describe('lease grants (rule 2)', () => {
  it('grants the active node a lease recorded from the receive time', () => {
    const decision = grantLease(initialClusterState('c', 'a', T), 'a', 1, T + 10, LEASE);
    expect(decision).toMatchObject({
      granted: true,
      leaseMs: LEASE,
      state: { leaseExpiresAt: T + 10 + LEASE },
    });
  });

  it('never grants a standby, a revoked epoch, or a node claiming a newer epoch', () => {
    const state = initialClusterState('c', 'a', T);
    expect(grantLease(state, 'b', 1, T, LEASE)).toEqual({ granted: false, reason: 'not-active' });
    expect(grantLease(revoke(state, T, 'failover'), 'a', 1, T, LEASE)).toEqual({
      granted: false,
      reason: 'revoked',
    });
    expect(grantLease(state, 'a', 2, T, LEASE)).toEqual({ granted: false, reason: 'epoch-ahead' });
  });

  it('never shortens a recorded lease', () => {
    const first = grantLease(initialClusterState('c', 'a', T), 'a', 1, T + 1000, LEASE);
    if (!first.granted) throw new Error('expected a grant');
    const late = grantLease(first.state, 'a', 1, T, LEASE); // a delayed, older request
    expect(late.granted && late.state.leaseExpiresAt).toBe(T + 1000 + LEASE);
  });
});

describe('promotion (rule 3)', () => {
  const granted = () => {
    const d = grantLease(initialClusterState('c', 'a', T), 'a', 1, T, LEASE);
    if (!d.granted) throw new Error('expected a grant');
    return d.state;
  };

  it('refuses to promote before the epoch is revoked', () => {
    expect(mayPromote(granted(), T + 60_000, MARGIN)).toMatchObject({ allowed: false });
    expect(() => promote(granted(), 'b', T + 60_000, MARGIN, 'x')).toThrow(/not revoked/);
  });

  it("promotes the standby once the old active's lease plus the drift margin has passed", () => {
    const revoked = revoke(granted(), T + 100, 'active silent');
    expect(mayPromote(revoked, T + LEASE + MARGIN - 1, MARGIN)).toEqual(
      expect.objectContaining({ allowed: false, retryAt: T + LEASE + MARGIN }),
    );
    expect(mayPromote(revoked, T + LEASE + MARGIN, MARGIN)).toEqual({ allowed: true });
    const promoted = promote(revoked, 'b', T + LEASE + MARGIN, MARGIN, 'failover');
    expect(promoted).toMatchObject({ epoch: 2, activeNodeId: 'b', revoked: false, leaseExpiresAt: null });
  });

  it('promotes at once when the old active is confirmed fenced', () => {
    const fenced = confirmFenced(revoke(granted(), T + 100, 'x'), T + 200, 'VM deallocated');
    expect(mayPromote(fenced, T + 200, MARGIN)).toEqual({ allowed: true });
  });

  it('reaffirming the active raises the epoch and keeps its lease', () => {
    const next = reaffirm(granted(), T + 1, 'arbitration won by the active');
    expect(next).toMatchObject({ epoch: 2, activeNodeId: 'a', leaseExpiresAt: T + LEASE });
    expect(grantLease(next, 'a', 1, T + 2, LEASE).granted).toBe(true);
  });
});

describe('failure detection, arbitration and flapping', () => {
  const policy = { heartbeatIntervalMs: 1000, missedHeartbeats: 5 };

  it('declares the active failed after the configured number of missed heartbeats', () => {
    expect(detectFailure(T, T + 4999, policy)).toMatchObject({ failed: false, missed: 4 });
    expect(detectFailure(T, T + 5000, policy)).toMatchObject({ failed: true, missed: 5 });
    expect(detectFailure(undefined, T, policy).failed).toBe(true);
  });

  it('prefers a healthy current active, else the healthier, else the lower priority number', () => {
    const ok = [{ name: 'ping', status: 'ok' as const }];
    const failing = [{ name: 'database', status: 'fail' as const }];
    expect(
      arbitrate(
        [
          { nodeId: 'a', priority: 50, checks: ok },
          { nodeId: 'b', priority: 1, checks: ok },
        ],
        'a',
      ),
    ).toEqual({ winner: 'a', losers: ['b'] });
    expect(
      arbitrate(
        [
          { nodeId: 'a', priority: 1, checks: failing },
          { nodeId: 'b', priority: 50, checks: ok },
        ],
        'a',
      ).winner,
    ).toBe('b');
    expect(
      arbitrate(
        [
          { nodeId: 'a', priority: 50, checks: ok },
          { nodeId: 'b', priority: 1, checks: ok },
        ],
        null,
      ).winner,
    ).toBe('b');
    expect(
      arbitrate(
        [
          { nodeId: 'b', priority: 1, checks: ok },
          { nodeId: 'a', priority: 1, checks: ok },
        ],
        null,
      ).winner,
    ).toBe('a');
  });

  it('holds the agent lease only until send time plus the lease', () => {
    expect(agentHoldsLease(100, LEASE, 100 + LEASE - 1)).toBe(true);
    expect(agentHoldsLease(100, LEASE, 100 + LEASE)).toBe(false);
  });

  it('stops failovers during the cooldown and beyond the per-period maximum', () => {
    const p = { cooldownMs: 60_000, maxFailoversPerPeriod: 2, periodMs: 3_600_000 };
    expect(failoverAllowed([T], T + 59_999, p).allowed).toBe(false);
    expect(failoverAllowed([T - 120_000, T], T + 60_000, p).allowed).toBe(false);
    expect(failoverAllowed([T - 7_200_000, T], T + 60_000, p).allowed).toBe(true);
  });
});

describe('orphanedEpochDue', () => {
  const policy = { heartbeatIntervalMs: 1000, missedHeartbeats: 5 };
  it('is due only for a revoked epoch unchanged for twice the window, at least 15 s', () => {
    expect(orphanRetryDelayMs(policy)).toBe(15_000);
    expect(orphanRetryDelayMs({ heartbeatIntervalMs: 2000, missedHeartbeats: 6 })).toBe(24_000);
    expect(orphanedEpochDue({ revoked: true, updatedAt: 0 }, 14_999, policy)).toBe(false);
    expect(orphanedEpochDue({ revoked: true, updatedAt: 0 }, 15_000, policy)).toBe(true);
    expect(orphanedEpochDue({ revoked: false, updatedAt: 0 }, 60_000, policy)).toBe(false);
    expect(orphanedEpochDue({ revoked: true }, 60_000, policy)).toBe(false);
  });
});
