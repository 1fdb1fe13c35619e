import { initialClusterState } from '../../shared/domain/clusterState';
import { StateStore } from '../../sim/store';

describe('StateStore', () => {
  const initial = initialClusterState('c', 'a', 0);

  it('writes only on the current version (If-Match), recording each commit', () => {
    const store = new StateStore(initial, true, 0);
    const { etag } = store.read();
    expect(store.compareAndSet(etag, { ...initial, revoked: true }, 'revoke', 'cp0', 5)).toBe(2);
    expect(store.compareAndSet(etag, { ...initial, leaseExpiresAt: 9 }, 'grant', 'a', 6)).toBeNull();
    expect(store.read()).toEqual({ state: { ...initial, revoked: true }, etag: 2 });
    expect(store.commits.map((c) => [c.version, c.kind, c.t])).toEqual([
      [1, 'declare', 0],
      [2, 'revoke', 5],
    ]);
  });

  it('lets the last writer win without If-Match (the broken store)', () => {
    const store = new StateStore(initial, false, 0);
    store.compareAndSet(1, { ...initial, revoked: true }, 'revoke', 'cp0', 5);
    expect(store.compareAndSet(1, initial, 'grant', 'a', 6)).toBe(3);
    expect(store.current.revoked).toBe(false);
  });
});
