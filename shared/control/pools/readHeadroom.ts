import type { PoolSite } from '../../domain/clusterDocument';
import type { SiteRef } from '../../providers/computeProvider';
import type { Services } from '../../services/services';
import type { SiteHeadroom } from '../../stores/poolStore';
import { mapLimit } from '../../util/mapLimit';

/** The longest one site's headroom read may take: a site that does not answer is not planned. */
export const HEADROOM_READ_MS = 10_000;

/** A pool site as the providers address it. */
export const siteRef = (site: PoolSite): SiteRef => ({
  cloud: site.cloud,
  region: site.region,
  ...(site.zone ? { zone: site.zone } : {}),
});

/**
 * Reads the headroom of `sites` now: one provider call per site, 8 at a time, each bounded by `HEADROOM_READ_MS`. A
 * failed read is kept with its error (the planner then skips the site as `no-headroom-read`).
 */
export function readHeadroom(services: Services, sites: readonly PoolSite[]): Promise<SiteHeadroom[]> {
  return mapLimit(sites, 8, async (site): Promise<SiteHeadroom> => {
    const ref = siteRef(site);
    try {
      const read = await services.providers
        .forSite(ref)
        .headroom(ref, site.size, { abortSignal: AbortSignal.timeout(HEADROOM_READ_MS) });
      return {
        siteId: site.id,
        quotaNodes: read.quotaNodes,
        capacityNodes: read.capacityNodes,
        ...(read.restricted ? { restricted: read.restricted } : {}),
        readAt: services.now(),
      };
    } catch (error) {
      return {
        siteId: site.id,
        quotaNodes: 0,
        capacityNodes: 'unknown',
        readAt: services.now(),
        error: error instanceof Error ? error.message : String(error),
      };
    }
  });
}

/** `headroom` with the entries of `read` replacing those of the same sites. */
export const mergeHeadroom = (headroom: readonly SiteHeadroom[], read: readonly SiteHeadroom[]) => [
  ...headroom.filter((h) => !read.some((r) => r.siteId === h.siteId)),
  ...read,
];
