import type { Pool, PoolSite } from './clusterDocument';

/**
 * The capacity spillover planner (issue 11): pure and deterministic. Demand, the nodes placed, the headroom as last
 * read and the cool-downs in; how many nodes to add or remove where out, and for every site not used, why.
 *
 * Rules (ARCHITECTURE.md, Decisions: "Spillover planner"):
 * - Preference: the pool's site order. Consecutive sites of the same cloud and region (zones or availability domains
 *   of one region) form a tier; within a tier the lower weight comes first, then the list order. Weight never moves a
 *   site ahead of a site of another region listed before it.
 * - Adding (demand > placed): first each site's `min` in preference order, then fill in preference order. A site takes
 *   at most its room: the least of its quota headroom, its capacity headroom when known, and `cap` − placed. A site
 *   cooling down, restricted, without a headroom read, full or capped is never planned. What cannot be placed is the
 *   shortfall.
 * - Removing (demand < placed): from the least preferred first — nodes in sites no longer in the pool, then the
 *   reverse preference order (last tier first; within a tier the higher weight first, then the later listed) — never
 *   below a site's `min` while nodes above the minimums remain; then below the minimums in the same order.
 * - Running nodes are never moved: a plan either adds or removes, never both.
 * - Stable: with the plan applied (placements updated, headroom reduced by what was added) the next plan is empty.
 */

export type SkipReason =
  | 'full-quota'
  | 'full-capacity'
  | 'restricted'
  | 'cooling-down'
  | 'capped'
  | 'less-preferred'
  | 'no-headroom-read';

export interface SiteCount {
  siteId: string;
  count: number;
}

export interface SiteHeadroom {
  siteId: string;
  /** How many more nodes of the site's size the quota allows. */
  quotaNodes: number;
  /** How many more nodes the cloud's capacity report allows, when it has one. */
  capacityNodes: number | 'unknown';
  /** Why the size cannot be launched there at all (e.g. a zonal restriction or a size not offered). */
  restricted?: string;
  readAt: number;
}

export interface SiteCoolDown {
  siteId: string;
  until: number;
  reason: string;
}

export interface PlanInput {
  /** The pool as declared (only `sites` is read: demand is its own input). */
  pool: Pick<Pool, 'sites'>;
  demand: number;
  /** Nodes placed and not being removed. */
  placements: readonly SiteCount[];
  headroom: readonly SiteHeadroom[];
  coolDowns: readonly SiteCoolDown[];
  now: number;
}

export interface SkippedSite {
  siteId: string;
  reason: SkipReason;
  detail: string;
  until?: number;
}

export interface PlacementPlan {
  add: SiteCount[];
  remove: SiteCount[];
  skipped: SkippedSite[];
  /** Nodes of the demand that could not be placed. */
  shortfall: number;
  /** Nodes placed once the plan is applied. */
  total: number;
}

export class InvalidPlanInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidPlanInputError';
  }
}

const count = (value: number, what: string): number => {
  if (!Number.isInteger(value) || value < 0)
    throw new InvalidPlanInputError(`${what} must be a non-negative integer (got ${value})`);
  return value;
};

/** The sites in preference order (see the rules above). */
export function preferenceOrder<S extends Pick<PoolSite, 'cloud' | 'region' | 'weight'>>(
  sites: readonly S[],
): S[] {
  const tiers: { site: S; index: number }[][] = [];
  sites.forEach((site, index) => {
    const last = tiers[tiers.length - 1];
    const head = last?.[0]?.site;
    if (last && head && head.cloud === site.cloud && head.region === site.region) last.push({ site, index });
    else tiers.push([{ site, index }]);
  });
  return tiers.flatMap((tier) =>
    [...tier]
      .sort((a, b) => (a.site.weight ?? 1) - (b.site.weight ?? 1) || a.index - b.index)
      .map((e) => e.site),
  );
}

export interface SiteView {
  site: PoolSite;
  placed: number;
  /** Nodes that may be added here now (0 when blocked). */
  room: number;
  /** Why nothing may be added here, if so. */
  blocked?: Omit<SkippedSite, 'siteId'>;
}

/** What a site could take now: its room (0 when blocked) and, when blocked, why. */
export function viewSite(
  site: PoolSite,
  placed: number,
  input: Pick<PlanInput, 'headroom' | 'coolDowns' | 'now'>,
): SiteView {
  const cooling = input.coolDowns
    .filter((c) => c.siteId === site.id && c.until > input.now)
    .reduce<SiteCoolDown | undefined>(
      (a, c) =>
        a === undefined || c.until > a.until || (c.until === a.until && c.reason < a.reason) ? c : a,
      undefined,
    );
  if (cooling)
    return {
      site,
      placed,
      room: 0,
      blocked: {
        reason: 'cooling-down',
        detail: `cooling down after ${cooling.reason} until ${new Date(cooling.until).toISOString()}`,
        until: cooling.until,
      },
    };
  const read = input.headroom
    .filter((h) => h.siteId === site.id)
    .reduce<SiteHeadroom | undefined>((a, h) => (a === undefined || h.readAt >= a.readAt ? h : a), undefined);
  if (!read)
    return {
      site,
      placed,
      room: 0,
      blocked: { reason: 'no-headroom-read', detail: 'headroom not read yet' },
    };
  if (read.restricted !== undefined)
    return {
      site,
      placed,
      room: 0,
      blocked: { reason: 'restricted', detail: `${site.size} restricted: ${read.restricted}` },
    };
  if (Number.isNaN(read.quotaNodes) || Number.isNaN(read.capacityNodes))
    throw new InvalidPlanInputError(`headroom of ${site.id} is not a number`);
  const quota = Math.max(0, Math.floor(read.quotaNodes));
  const capacity = read.capacityNodes === 'unknown' ? Infinity : Math.max(0, Math.floor(read.capacityNodes));
  const capRoom = site.cap === undefined ? Infinity : Math.max(0, site.cap - placed);
  const room = Math.min(quota, capacity, capRoom);
  if (room > 0) return { site, placed, room };
  if (capRoom === 0)
    return {
      site,
      placed,
      room: 0,
      blocked: { reason: 'capped', detail: `${placed} placed, cap ${site.cap ?? 0}` },
    };
  if (quota === 0)
    return {
      site,
      placed,
      room: 0,
      blocked: { reason: 'full-quota', detail: `no quota left for ${site.size}` },
    };
  return {
    site,
    placed,
    room: 0,
    blocked: { reason: 'full-capacity', detail: `capacity report: no room for ${site.size}` },
  };
}

export function planPlacement(input: PlanInput): PlacementPlan {
  const demand = count(input.demand, 'demand');
  const placedBySite = new Map<string, number>();
  for (const p of input.placements)
    placedBySite.set(
      p.siteId,
      (placedBySite.get(p.siteId) ?? 0) + count(p.count, `placements[${p.siteId}].count`),
    );
  const placedTotal = [...placedBySite.values()].reduce((a, b) => a + b, 0);
  const ordered = preferenceOrder(input.pool.sites).map((site) =>
    viewSite(site, placedBySite.get(site.id) ?? 0, input),
  );

  const add = new Map<string, number>();
  const remove = new Map<string, number>();
  if (demand > placedTotal) {
    let remaining = demand - placedTotal;
    const give = (view: SiteView, want: number) => {
      const already = add.get(view.site.id) ?? 0;
      const n = Math.min(want, view.room - already, remaining);
      if (n <= 0) return;
      add.set(view.site.id, already + n);
      remaining -= n;
    };
    for (const view of ordered) give(view, Math.max(0, (view.site.min ?? 0) - view.placed));
    for (const view of ordered) give(view, Infinity);
  } else if (demand < placedTotal) {
    let remaining = placedTotal - demand;
    const known = new Set(input.pool.sites.map((s) => s.id));
    // Sites no longer in the pool first (sorted for determinism), then the reverse preference order.
    const gone = [...placedBySite.keys()]
      .filter((id) => !known.has(id))
      .sort()
      .map((id) => ({ id, placed: placedBySite.get(id) ?? 0, min: 0 }));
    const order = [
      ...gone,
      ...[...ordered].reverse().map((v) => ({ id: v.site.id, placed: v.placed, min: v.site.min ?? 0 })),
    ];
    const take = (id: string, keep: number, placed: number) => {
      const already = remove.get(id) ?? 0;
      const n = Math.min(placed - keep - already, remaining);
      if (n <= 0) return;
      remove.set(id, already + n);
      remaining -= n;
    };
    for (const s of order) take(s.id, Math.min(s.min, s.placed), s.placed);
    for (const s of order) take(s.id, 0, s.placed);
  }

  const added = [...add.values()].reduce((a, b) => a + b, 0);
  const removed = [...remove.values()].reduce((a, b) => a + b, 0);
  const total = placedTotal + added - removed;
  const shortfall = Math.max(0, demand - total);
  const skipped: SkippedSite[] = [];
  for (const view of ordered) {
    if (add.has(view.site.id) || remove.has(view.site.id)) continue;
    if (view.blocked) {
      skipped.push({ siteId: view.site.id, ...view.blocked });
      continue;
    }
    const detail =
      demand > placedTotal
        ? `room for ${view.room}, not needed: the demand is met by more preferred sites`
        : demand < placedTotal
          ? `room for ${view.room}; kept: scale-in removes from less preferred sites first`
          : `room for ${view.room}, not needed: the ${demand} demanded are placed`;
    skipped.push({ siteId: view.site.id, reason: 'less-preferred', detail });
  }
  const inOrder = (m: Map<string, number>) =>
    [
      ...ordered.map((v) => v.site.id),
      ...[...placedBySite.keys()].filter((id) => !ordered.some((v) => v.site.id === id)).sort(),
    ]
      .filter((id) => m.has(id))
      .map((siteId) => ({ siteId, count: m.get(siteId) ?? 0 }));
  return { add: inOrder(add), remove: inOrder(remove), skipped, shortfall, total };
}
