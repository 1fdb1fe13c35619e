import type { PoolSite } from '../../../shared/domain/clusterDocument';
import {
  InvalidPlanInputError,
  planPlacement,
  preferenceOrder,
  type PlacementPlan,
  type PlanInput,
  type SiteHeadroom,
} from '../../../shared/domain/spilloverPlan';

const NOW = Date.UTC(2030, 0, 1);

const site = (id: string, extra: Partial<PoolSite> = {}): PoolSite => ({
  id,
  cloud: 'azure',
  region: id,
  size: 'Standard_ND96asr_v4',
  group: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/${id}`,
  weight: 1,
  ...extra,
});

const room = (
  siteId: string,
  quotaNodes: number,
  capacityNodes: number | 'unknown' = 'unknown',
): SiteHeadroom => ({
  siteId,
  quotaNodes,
  capacityNodes,
  readAt: NOW - 1000,
});

const input = (partial: Partial<PlanInput> & Pick<PlanInput, 'pool'>): PlanInput => ({
  demand: 0,
  placements: [],
  headroom: [],
  coolDowns: [],
  now: NOW,
  ...partial,
});

const skippedOf = (plan: PlacementPlan, siteId: string) => plan.skipped.find((s) => s.siteId === siteId);

describe('planPlacement: scenarios', () => {
  it('primary has room for 4 of 10: 4 there, 6 in the next', () => {
    const plan = planPlacement(
      input({
        pool: { sites: [site('primary'), site('second'), site('third')] },
        demand: 10,
        headroom: [room('primary', 4, 'unknown'), room('second', 100, 50), room('third', 100)],
      }),
    );
    expect(plan.add).toEqual([
      { siteId: 'primary', count: 4 },
      { siteId: 'second', count: 6 },
    ]);
    expect(plan.remove).toEqual([]);
    expect(plan.shortfall).toBe(0);
    expect(plan.total).toBe(10);
    expect(skippedOf(plan, 'third')).toMatchObject({ reason: 'less-preferred' });
  });

  it('the binding limit of a site is the least of quota and capacity, and names which one is full', () => {
    const plan = planPlacement(
      input({
        pool: { sites: [site('a'), site('b'), site('c')] },
        demand: 10,
        headroom: [room('a', 10, 3), room('b', 0, 50), room('c', 20, 0)],
      }),
    );
    expect(plan.add).toEqual([{ siteId: 'a', count: 3 }]);
    expect(plan.shortfall).toBe(7);
    expect(skippedOf(plan, 'b')).toMatchObject({ reason: 'full-quota' });
    expect(skippedOf(plan, 'c')).toMatchObject({ reason: 'full-capacity' });
  });

  it('a cooling site is skipped with its end; an expired cool-down no longer counts', () => {
    const until = NOW + 15 * 60_000;
    const plan = planPlacement(
      input({
        pool: { sites: [site('a'), site('b'), site('c')] },
        demand: 5,
        headroom: [room('a', 10), room('b', 10), room('c', 10)],
        coolDowns: [
          { siteId: 'a', until, reason: 'AllocationFailed' },
          { siteId: 'a', until: NOW - 1, reason: 'quota' },
          { siteId: 'b', until: NOW, reason: 'AllocationFailed' },
        ],
      }),
    );
    expect(plan.add).toEqual([{ siteId: 'b', count: 5 }]);
    expect(skippedOf(plan, 'a')).toEqual({
      siteId: 'a',
      reason: 'cooling-down',
      until,
      detail: expect.stringContaining('AllocationFailed'),
    });
  });

  it('a capped site takes up to its cap, then counts as capped', () => {
    const sites = [site('a', { cap: 5 }), site('b', { cap: 2 })];
    const plan = planPlacement(
      input({
        pool: { sites },
        demand: 9,
        placements: [{ siteId: 'a', count: 3 }],
        headroom: [room('a', 100), room('b', 100)],
      }),
    );
    expect(plan.add).toEqual([
      { siteId: 'a', count: 2 },
      { siteId: 'b', count: 2 },
    ]);
    expect(plan.shortfall).toBe(2);
    const again = planPlacement(
      input({
        pool: { sites },
        demand: 9,
        placements: [
          { siteId: 'a', count: 5 },
          { siteId: 'b', count: 2 },
        ],
        headroom: [room('a', 98), room('b', 98)],
      }),
    );
    expect(again.add).toEqual([]);
    expect(again.skipped.map((s) => s.reason)).toEqual(['capped', 'capped']);
    expect(again.shortfall).toBe(2);
  });

  it('a restricted size or an unread site is never planned', () => {
    const plan = planPlacement(
      input({
        pool: { sites: [site('a'), site('b'), site('c')] },
        demand: 4,
        headroom: [
          { ...room('a', 100), restricted: 'NotAvailableForSubscription in zone 1' },
          room('c', 100),
        ],
      }),
    );
    expect(plan.add).toEqual([{ siteId: 'c', count: 4 }]);
    expect(skippedOf(plan, 'a')).toMatchObject({
      reason: 'restricted',
      detail: expect.stringContaining('zone 1'),
    });
    expect(skippedOf(plan, 'b')).toMatchObject({ reason: 'no-headroom-read' });
  });

  it('scale-in removes from the least preferred site first, higher weight first among a region, never below min first', () => {
    const sites = [
      site('home'),
      site('oci-ad1', { cloud: 'oci', region: 'eu-frankfurt-1', weight: 1, min: 2 }),
      site('oci-ad2', { cloud: 'oci', region: 'eu-frankfurt-1', weight: 3 }),
    ];
    const placements = [
      { siteId: 'home', count: 4 },
      { siteId: 'oci-ad1', count: 3 },
      { siteId: 'oci-ad2', count: 2 },
      { siteId: 'retired', count: 1 },
    ];
    const plan = planPlacement(
      input({ pool: { sites }, demand: 6, placements, headroom: [room('home', 10)] }),
    );
    // retired site (1) first, then the heavier AD (2), then the lighter AD down to its min (1).
    expect(plan.remove).toEqual([
      { siteId: 'oci-ad1', count: 1 },
      { siteId: 'oci-ad2', count: 2 },
      { siteId: 'retired', count: 1 },
    ]);
    expect(plan.add).toEqual([]);
    expect(plan.total).toBe(6);
    // Demand below what the minimums hold: every node above a minimum goes first (home has none), then the
    // minimum itself, the least preferred first.
    const deep = planPlacement(input({ pool: { sites }, demand: 1, placements }));
    expect(deep.remove).toEqual([
      { siteId: 'home', count: 4 },
      { siteId: 'oci-ad1', count: 2 },
      { siteId: 'oci-ad2', count: 2 },
      { siteId: 'retired', count: 1 },
    ]);
    expect(skippedOf(plan, 'home')).toMatchObject({
      reason: 'less-preferred',
      detail: expect.stringContaining('kept'),
    });
  });

  it('meets the minimums first, in site order, while the demand lasts', () => {
    const sites = [site('a'), site('b', { min: 2 }), site('c', { min: 3 })];
    const headroom = [room('a', 100), room('b', 100), room('c', 100)];
    expect(planPlacement(input({ pool: { sites }, demand: 10, headroom })).add).toEqual([
      { siteId: 'a', count: 5 },
      { siteId: 'b', count: 2 },
      { siteId: 'c', count: 3 },
    ]);
    // Σ min (5) above the demand (4): b's minimum, then what is left of c's.
    expect(planPlacement(input({ pool: { sites }, demand: 4, headroom })).add).toEqual([
      { siteId: 'b', count: 2 },
      { siteId: 'c', count: 2 },
    ]);
  });

  it('never moves running nodes: a demand met by less preferred sites plans nothing', () => {
    const plan = planPlacement(
      input({
        pool: { sites: [site('a'), site('b')] },
        demand: 5,
        placements: [{ siteId: 'b', count: 5 }],
        headroom: [room('a', 100), room('b', 100)],
      }),
    );
    expect(plan).toMatchObject({ add: [], remove: [], shortfall: 0, total: 5 });
    expect(plan.skipped.map((s) => s.reason)).toEqual(['less-preferred', 'less-preferred']);
  });

  it('weights order the zones of one region only, never across regions', () => {
    const sites = [
      site('weu-1', { region: 'westeurope', weight: 3 }),
      site('weu-2', { region: 'westeurope', weight: 1 }),
      site('neu', { region: 'northeurope', weight: 0.5 }),
      site('weu-3', { region: 'westeurope', weight: 0.1 }),
    ];
    expect(preferenceOrder(sites).map((s) => s.id)).toEqual(['weu-2', 'weu-1', 'neu', 'weu-3']);
    const plan = planPlacement(
      input({
        pool: { sites },
        demand: 3,
        headroom: sites.map((s) => room(s.id, 2)),
      }),
    );
    // Listed in preference order.
    expect(plan.add).toEqual([
      { siteId: 'weu-2', count: 2 },
      { siteId: 'weu-1', count: 1 },
    ]);
  });

  it('refuses a demand or a count that is not a non-negative integer', () => {
    const pool = { sites: [site('a')] };
    expect(() => planPlacement(input({ pool, demand: -1 }))).toThrow(InvalidPlanInputError);
    expect(() => planPlacement(input({ pool, demand: 1.5 }))).toThrow(/demand/);
    expect(() =>
      planPlacement(input({ pool, demand: 1, placements: [{ siteId: 'a', count: NaN }] })),
    ).toThrow(/placements/);
    expect(() => planPlacement(input({ pool, demand: 1, headroom: [room('a', NaN)] }))).toThrow(
      /headroom of a/,
    );
  });
});

// ---- property tests over generated inputs --------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so every failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(seed: number): PlanInput {
  const rnd = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const chance = (p: number) => rnd() < p;
  const regions = ['westeurope', 'northeurope', 'eu-frankfurt-1'];
  const sites: PoolSite[] = Array.from({ length: int(1, 8) }, (_, i) => {
    const cloud = chance(0.5) ? 'azure' : 'oci';
    return site(`s${i}`, {
      cloud,
      region: regions[int(0, regions.length - 1)] as string,
      weight: [0.5, 1, 1, 2, 3][int(0, 4)] as number,
      ...(chance(0.3) ? { cap: int(0, 15) } : {}),
      ...(chance(0.3) ? { min: int(0, 5) } : {}),
    });
  });
  const placements = sites.filter(() => chance(0.6)).map((s) => ({ siteId: s.id, count: int(0, 10) }));
  if (chance(0.1)) placements.push({ siteId: 'retired', count: int(1, 4) });
  if (chance(0.1) && placements[0]) placements.push({ ...placements[0] }); // two rows for one site
  const headroom: SiteHeadroom[] = sites
    .filter(() => chance(0.9))
    .map((s) => ({
      siteId: s.id,
      quotaNodes: chance(0.2) ? 0 : int(0, 20),
      capacityNodes: chance(0.4) ? 'unknown' : int(0, 20),
      ...(chance(0.1) ? { restricted: 'NotAvailableForSubscription' } : {}),
      readAt: NOW - int(0, 60_000),
    }));
  const coolDowns = sites
    .filter(() => chance(0.2))
    .map((s) => ({ siteId: s.id, until: NOW + int(-60_000, 3_600_000), reason: 'AllocationFailed' }));
  const placed = placements.reduce((a, p) => a + p.count, 0);
  const demand = chance(0.2) ? placed : int(0, 80);
  return { pool: { sites }, demand, placements, headroom, coolDowns, now: NOW };
}

const CASES = 1500;

/** Independent of the planner: what a site may take now (0 if cooling, unread, restricted, full or capped). */
function roomOf(p: PlanInput, s: PoolSite, placed: number): number {
  if (p.coolDowns.some((c) => c.siteId === s.id && c.until > p.now)) return 0;
  const reads = p.headroom.filter((h) => h.siteId === s.id);
  const h = reads.sort((a, b) => a.readAt - b.readAt)[reads.length - 1];
  if (!h || h.restricted !== undefined) return 0;
  const capacity = h.capacityNodes === 'unknown' ? Infinity : h.capacityNodes;
  const cap = s.cap === undefined ? Infinity : s.cap - placed;
  return Math.max(0, Math.min(h.quotaNodes, capacity, cap));
}

const placedAt = (p: PlanInput, siteId: string) =>
  p.placements.filter((x) => x.siteId === siteId).reduce((a, x) => a + x.count, 0);
const countIn = (list: { siteId: string; count: number }[], siteId: string) =>
  list.find((x) => x.siteId === siteId)?.count ?? 0;

function forEachCase(check: (p: PlanInput, plan: PlacementPlan) => void): void {
  for (let seed = 1; seed <= CASES; seed++) {
    const p = generate(seed);
    const plan = planPlacement(p);
    try {
      check(p, plan);
    } catch (error) {
      throw new Error(
        `seed ${seed}: ${(error as Error).message}\ninput ${JSON.stringify(p)}\nplan ${JSON.stringify(plan)}`,
      );
    }
  }
}

describe('planPlacement: properties over generated inputs', () => {
  it(`never exceeds headroom or caps, and never plans a full, cooling, restricted or unread site (${CASES} cases)`, () => {
    forEachCase((p, plan) => {
      for (const a of plan.add) {
        const s = p.pool.sites.find((x) => x.id === a.siteId);
        expect(s).toBeDefined();
        if (!s) return;
        expect(a.count).toBeGreaterThan(0);
        expect(a.count).toBeLessThanOrEqual(roomOf(p, s, placedAt(p, s.id)));
      }
    });
  });

  it(`respects the order: no site gets more than its minimum while a more preferred site has room (${CASES} cases)`, () => {
    forEachCase((p, plan) => {
      const order = preferenceOrder(p.pool.sites);
      order.forEach((s, j) => {
        const beyondMin = countIn(plan.add, s.id) - Math.max(0, (s.min ?? 0) - placedAt(p, s.id));
        if (beyondMin <= 0) return;
        for (const earlier of order.slice(0, j))
          expect(roomOf(p, earlier, placedAt(p, earlier.id)) - countIn(plan.add, earlier.id)).toBe(0);
      });
      // Preference order keeps the list order between sites of different regions.
      const index = new Map(p.pool.sites.map((s, i) => [s.id, i]));
      for (let i = 1; i < order.length; i++) {
        const a = order[i - 1] as PoolSite;
        const b = order[i] as PoolSite;
        if (a.cloud !== b.cloud || a.region !== b.region)
          expect(index.get(a.id) as number).toBeLessThan(index.get(b.id) as number);
      }
    });
  });

  it(`respects minimums when adding and when removing (${CASES} cases)`, () => {
    forEachCase((p, plan) => {
      const order = preferenceOrder(p.pool.sites);
      for (const s of order) {
        const placed = placedAt(p, s.id);
        const owed = Math.min(Math.max(0, (s.min ?? 0) - placed), roomOf(p, s, placed));
        // A minimum with room left unmet only when the demand ran out.
        // A minimum with room left unmet only when the demand ran out on the minimums: nothing beyond a minimum.
        if (plan.add.length > 0 && countIn(plan.add, s.id) < owed) {
          expect(plan.total).toBe(p.demand);
          for (const other of order) {
            const otherPlaced = placedAt(p, other.id);
            expect(countIn(plan.add, other.id)).toBeLessThanOrEqual(
              Math.max(0, (other.min ?? 0) - otherPlaced),
            );
          }
        }
        const after = placed - countIn(plan.remove, s.id);
        if (countIn(plan.remove, s.id) > 0 && after < (s.min ?? 0))
          for (const other of order)
            expect(placedAt(p, other.id) - countIn(plan.remove, other.id)).toBeLessThanOrEqual(
              other.min ?? 0,
            );
      }
    });
  });

  it(`scales in from the least preferred first: sites gone from the pool, then the reverse preference order (${CASES} cases)`, () => {
    forEachCase((p, plan) => {
      if (plan.remove.length === 0) return;
      const known = new Set(p.pool.sites.map((s) => s.id));
      const gone = [...new Set(p.placements.map((x) => x.siteId))].filter((id) => !known.has(id));
      // Least preferred first, with what a site keeps in the first pass (its minimum; 0 for a site gone).
      const order = [
        ...gone.map((id) => ({ id, min: 0 })),
        ...preferenceOrder(p.pool.sites)
          .reverse()
          .map((s) => ({ id: s.id, min: s.min ?? 0 })),
      ];
      const after = (id: string) => placedAt(p, id) - countIn(plan.remove, id);
      order.forEach((s, i) => {
        if (countIn(plan.remove, s.id) === 0) return;
        // Removed from s: every less preferred site is down to its minimum (or to 0 when s went below its own).
        const belowMin = after(s.id) < Math.min(s.min, placedAt(p, s.id));
        for (const less of order.slice(0, i))
          expect(after(less.id)).toBeLessThanOrEqual(belowMin ? 0 : Math.min(less.min, placedAt(p, less.id)));
      });
    });
  });

  it(`is stable: with the plan applied, planning again plans nothing (${CASES} cases)`, () => {
    forEachCase((p, plan) => {
      const ids = new Set([...p.placements.map((x) => x.siteId), ...p.pool.sites.map((s) => s.id)]);
      const placements = [...ids].map((siteId) => ({
        siteId,
        count: placedAt(p, siteId) + countIn(plan.add, siteId) - countIn(plan.remove, siteId),
      }));
      const headroom = p.headroom.map((h) => ({
        ...h,
        quotaNodes: h.quotaNodes - countIn(plan.add, h.siteId),
        capacityNodes:
          h.capacityNodes === 'unknown' ? h.capacityNodes : h.capacityNodes - countIn(plan.add, h.siteId),
      }));
      const again = planPlacement({ ...p, placements, headroom });
      expect(again.add).toEqual([]);
      expect(again.remove).toEqual([]);
      expect(again.total).toBe(plan.total);
      expect(again.shortfall).toBe(plan.shortfall);
    });
  });

  it(`gives every site not used exactly one reason, cooling sites with their end (${CASES} cases)`, () => {
    forEachCase((p, plan) => {
      for (const s of p.pool.sites) {
        const used = countIn(plan.add, s.id) > 0 || countIn(plan.remove, s.id) > 0;
        const reasons = plan.skipped.filter((x) => x.siteId === s.id);
        expect(reasons).toHaveLength(used ? 0 : 1);
        if (used) continue;
        expect(reasons[0]?.detail.length).toBeGreaterThan(0);
        const cooling = p.coolDowns.filter((c) => c.siteId === s.id && c.until > p.now);
        if (cooling.length > 0)
          expect(reasons[0]).toMatchObject({
            reason: 'cooling-down',
            until: Math.max(...cooling.map((c) => c.until)),
          });
      }
    });
  });

  it(`never adds and removes in one plan; total = placed + added − removed; the shortfall is what is missing (${CASES} cases)`, () => {
    forEachCase((p, plan) => {
      const placed = p.placements.reduce((a, x) => a + x.count, 0);
      const added = plan.add.reduce((a, x) => a + x.count, 0);
      const removed = plan.remove.reduce((a, x) => a + x.count, 0);
      expect(plan.add.length === 0 || plan.remove.length === 0).toBe(true);
      if (p.demand >= placed) expect(removed).toBe(0);
      if (p.demand <= placed) expect(added).toBe(0);
      expect(plan.total).toBe(placed + added - removed);
      expect(plan.shortfall).toBe(Math.max(0, p.demand - plan.total));
      if (p.demand < placed) expect(plan.total).toBe(p.demand);
      for (const r of plan.remove) expect(r.count).toBeLessThanOrEqual(placedAt(p, r.siteId));
      // The shortfall is real: every site is out of room once the plan is applied.
      if (plan.shortfall > 0)
        for (const s of p.pool.sites)
          expect(roomOf(p, s, placedAt(p, s.id)) - countIn(plan.add, s.id)).toBe(0);
    });
  });

  it(`is deterministic: the same input (copied, lists reversed) gives the same plan (${CASES} cases)`, () => {
    forEachCase((p, plan) => {
      const copy = JSON.parse(JSON.stringify(p)) as PlanInput;
      expect(planPlacement(copy)).toEqual(plan);
      const reversed = {
        ...copy,
        placements: [...copy.placements].reverse(),
        coolDowns: [...copy.coolDowns].reverse(),
      };
      expect(planPlacement(reversed)).toEqual(plan);
    });
  });
});
