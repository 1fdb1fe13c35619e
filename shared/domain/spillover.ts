import type { Pool, PoolSite } from './clusterDocument';
import { preferenceOrder, viewSite, type SiteCoolDown, type SiteHeadroom } from './spilloverPlan';

/**
 * The spillover's decisions besides the plan itself (pure): which cool-down a failed provisioning earns, and which
 * idle nodes a spill-back moves where. Called by the spillover's activities; the figures are the pool's.
 */

export type CoolDownKind = keyof Pool['cooldownMs'];

/** What the provider said, reduced to what a cool-down depends on. */
export interface ProvisioningFailure {
  /** The provider error kind: capacity, quota, sku-not-available, throttled, fatal, not-found, … */
  kind: string;
  message: string;
}

/**
 * The cool-down a failed provisioning of `site` earns: capacity → allocationFailed, quota → quota, a size not
 * available → zonalRestriction in a zone, sizeNotOffered in a region; anything else that is not worth retrying
 * soon (a missing scale set, a refused request) → allocationFailed, so the plan moves on. Throttling earns none:
 * the spillover waits out Retry-After and tries the same site again.
 */
export function coolDownFor(
  pool: Pick<Pool, 'cooldownMs'>,
  site: Pick<PoolSite, 'zone'>,
  failure: ProvisioningFailure,
  now: number,
): { kind: CoolDownKind; until: number; reason: string } | null {
  if (failure.kind === 'throttled') return null;
  const kind: CoolDownKind =
    failure.kind === 'quota'
      ? 'quota'
      : failure.kind === 'sku-not-available'
        ? site.zone
          ? 'zonalRestriction'
          : 'sizeNotOffered'
        : 'allocationFailed';
  return { kind, until: now + pool.cooldownMs[kind], reason: `${kind}: ${failure.message}` };
}

/** A running pool node as a spill-back sees it. */
export interface SpillBackNode {
  nodeId: string;
  siteId: string;
  /** Reported idle since (undefined: busy, never moved). */
  idleSince?: number;
}

export interface SpillBackMove {
  from: string;
  to: string;
  nodeIds: string[];
}

/**
 * Spill-back: idle nodes in less preferred sites move to the most preferred site with room now, at most `batch`
 * nodes per call — the least preferred site's nodes first, the longest idle first. A node only ever moves to a site
 * more preferred than its own; a site's room is counted as for the plan (headroom, cap, cool-down, restriction).
 * The caller starts each replacement, verifies it and only then removes the node, so the pool never drops below
 * its demand.
 */
export function spillBackMoves(input: {
  pool: Pick<Pool, 'sites'>;
  nodes: readonly SpillBackNode[];
  headroom: readonly SiteHeadroom[];
  coolDowns: readonly SiteCoolDown[];
  now: number;
  batch: number;
}): SpillBackMove[] {
  const ordered = preferenceOrder(input.pool.sites);
  const rank = new Map(ordered.map((site, i) => [site.id, i]));
  const placed = new Map<string, number>();
  for (const node of input.nodes) placed.set(node.siteId, (placed.get(node.siteId) ?? 0) + 1);
  const room = new Map(
    ordered.map((site) => [site.id, viewSite(site, placed.get(site.id) ?? 0, input).room]),
  );
  const candidates = input.nodes
    .filter((n) => n.idleSince !== undefined && rank.has(n.siteId))
    .sort(
      (a, b) =>
        (rank.get(b.siteId) ?? 0) - (rank.get(a.siteId) ?? 0) ||
        (a.idleSince ?? 0) - (b.idleSince ?? 0) ||
        a.nodeId.localeCompare(b.nodeId),
    );
  const moves = new Map<string, SpillBackMove>();
  let moved = 0;
  for (const node of candidates) {
    if (moved >= input.batch) break;
    const from = rank.get(node.siteId) ?? 0;
    const to = ordered.slice(0, from).find((site) => (room.get(site.id) ?? 0) > 0);
    if (!to) continue;
    room.set(to.id, (room.get(to.id) ?? 0) - 1);
    const key = `${node.siteId}>${to.id}`;
    const move = moves.get(key) ?? { from: node.siteId, to: to.id, nodeIds: [] };
    move.nodeIds.push(node.nodeId);
    moves.set(key, move);
    moved++;
  }
  return [...moves.values()];
}
