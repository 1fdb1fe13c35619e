import { coolDownFor, spillBackMoves, type SpillBackNode } from '../../../shared/domain/spillover';

const cooldownMs = {
  allocationFailed: 900_000,
  quota: 3_600_000,
  zonalRestriction: 21_600_000,
  sizeNotOffered: 82_800_000,
  throttled: 60_000,
};
const T = 1_000_000;

describe('coolDownFor', () => {
  it('cools a site down for the time its error kind earns, from the pool', () => {
    const at = (kind: string, zone?: string) =>
      coolDownFor({ cooldownMs }, zone ? { zone } : {}, { kind, message: 'm' }, T);
    expect(at('capacity')).toEqual({
      kind: 'allocationFailed',
      until: T + 900_000,
      reason: 'allocationFailed: m',
    });
    expect(at('quota')?.kind).toBe('quota');
    expect(at('quota')?.until).toBe(T + 3_600_000);
    expect(at('sku-not-available', '2')?.kind).toBe('zonalRestriction');
    expect(at('sku-not-available')?.kind).toBe('sizeNotOffered');
    expect(at('sku-not-available')?.until).toBe(T + 82_800_000);
    // Anything final that is not about capacity (a missing scale set, a refused request) moves the plan on too.
    expect(at('fatal')?.kind).toBe('allocationFailed');
    expect(at('not-found')?.kind).toBe('allocationFailed');
  });

  it('earns no cool-down for throttling: that is waited out and the same site tried again', () => {
    expect(coolDownFor({ cooldownMs }, {}, { kind: 'throttled', message: '429' }, T)).toBeNull();
  });
});

describe('spillBackMoves', () => {
  const site = (id: string, region: string, cloud: 'azure' | 'oci' = 'azure') => ({
    id,
    cloud,
    region,
    size: 's',
    group: 'g',
    weight: 1,
  });
  const pool = { sites: [site('a', 'r1'), site('b', 'r2'), site('c', 'r3', 'oci')] };
  const read = (siteId: string, quotaNodes: number) => ({
    siteId,
    quotaNodes,
    capacityNodes: 'unknown' as const,
    readAt: T - 1,
  });
  const nodes = (siteId: string, n: number, idleSince?: number): SpillBackNode[] =>
    Array.from({ length: n }, (_, i) => ({
      nodeId: `${siteId}-${i}`,
      siteId,
      ...(idleSince !== undefined ? { idleSince: idleSince + i } : {}),
    }));
  const base = { pool, coolDowns: [], now: T, batch: 10 };

  it('moves idle nodes of the least preferred site first to the most preferred site with room', () => {
    const moves = spillBackMoves({
      ...base,
      nodes: [...nodes('a', 2), ...nodes('b', 2, 10), ...nodes('c', 3, 20)],
      headroom: [read('a', 2), read('b', 5)],
    });
    // c's idle nodes go first (c is the least preferred); a fills, then b; b's own idle nodes find a full.
    expect(moves).toEqual([
      { from: 'c', to: 'a', nodeIds: ['c-0', 'c-1'] },
      { from: 'c', to: 'b', nodeIds: ['c-2'] },
    ]);
  });

  it('never moves a busy node, never to a less or equally preferred site, never more than the batch', () => {
    const busy = spillBackMoves({ ...base, nodes: nodes('c', 3), headroom: [read('a', 9), read('b', 9)] });
    expect(busy).toEqual([]);
    const top = spillBackMoves({ ...base, nodes: nodes('a', 3, 0), headroom: [read('a', 9), read('b', 9)] });
    expect(top).toEqual([]);
    const batch = spillBackMoves({
      ...base,
      batch: 2,
      nodes: nodes('c', 5, 0),
      headroom: [read('a', 9), read('b', 9)],
    });
    expect(batch).toEqual([{ from: 'c', to: 'a', nodeIds: ['c-0', 'c-1'] }]);
  });

  it('leaves a site that is cooling down, restricted or unread out, as the planner does', () => {
    const moves = spillBackMoves({
      ...base,
      nodes: nodes('c', 2, 0),
      headroom: [{ ...read('b', 9), restricted: 'zone 1' }],
      coolDowns: [{ siteId: 'a', until: T + 1, reason: 'allocationFailed' }],
    });
    expect(moves).toEqual([]);
  });
});
