import { nextActiveStreak } from '../../../shared/domain/clusterState';

describe('the active streak (what a failover verifies its new active by)', () => {
  const ok = [{ name: 'ping', status: 'ok' as const }];
  it('counts healthy heartbeats in a row as the active under one epoch', () => {
    let streak = nextActiveStreak(undefined, { nodeId: 'b', role: 'active', checks: ok }, 2);
    expect(streak).toEqual({ nodeId: 'b', epoch: 2, count: 1 });
    streak = nextActiveStreak(streak, { nodeId: 'b', role: 'active', checks: ok }, 2);
    expect(streak).toEqual({ nodeId: 'b', epoch: 2, count: 2 });
  });

  it('starts again for another node or epoch, and drops to zero on a failing check or a standby report', () => {
    const two = { nodeId: 'b', epoch: 2, count: 2 };
    expect(nextActiveStreak(two, { nodeId: 'c', role: 'active', checks: ok }, 2)).toEqual({
      nodeId: 'c',
      epoch: 2,
      count: 1,
    });
    expect(nextActiveStreak(two, { nodeId: 'b', role: 'active', checks: ok }, 3)?.count).toBe(1);
    expect(
      nextActiveStreak(two, { nodeId: 'b', role: 'active', checks: [{ name: 'gpu', status: 'fail' }] }, 2)
        ?.count,
    ).toBe(0);
    // promoting (its hook still running) reports standby: not yet the active
    expect(nextActiveStreak(two, { nodeId: 'b', role: 'standby', checks: ok }, 2)?.count).toBe(0);
  });
});
