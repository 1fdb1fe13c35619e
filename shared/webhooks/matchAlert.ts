import type { ClusterDocument, ClusterNode } from '../domain/clusterDocument';
import { normaliseRegion, type NormalizedAlert } from './azureMonitor';

/**
 * Which clusters an alert concerns, and whether it should start a failover. Pure: the caller reads the cluster
 * documents and each cluster's current active node (from the cluster state, not the document's `role`, which is
 * only the initial one) and records every match; it starts an unplanned failover only for `triggers: true`.
 *
 * - A node is concerned by an alert on its VM when its `compute` is an Azure VM whose resource id is one of the
 *   alert's targets (ARM ids compare case-insensitively).
 * - A node is concerned by a Service Health alert when it is in Azure and its region is one of the impacted regions
 *   (names normalised: "West Europe" = "westeurope"). "Global" names no region a failover could leave: it concerns
 *   no node.
 * - OCI and on-premises nodes are never concerned by an Azure alert.
 * - Only an alert that says something is down (`alert.down`) about the cluster's ACTIVE node triggers. The same alert
 *   about a standby, or a Resolved / back-to-Available / maintenance alert about anyone, is returned with
 *   `triggers: false` so it can be recorded.
 */

export type AlertMatchReason =
  'active-vm-alert' | 'active-region-incident' | 'standby-vm-alert' | 'standby-region-incident';

export interface AlertMatch {
  clusterId: string;
  /** The strongest reason: the active's VM, then the active's region, then a standby's VM, then a standby's region. */
  reason: AlertMatchReason;
  /** Every node of the cluster the alert concerns, in document order. */
  nodeIds: string[];
  /** Whether this alert should start an unplanned failover of this cluster. */
  triggers: boolean;
}

export interface AlertMatchResult {
  /** One entry per concerned cluster, in the order the clusters were given. */
  matches: AlertMatch[];
  /**
   * Regions the failover should not choose a target in: the impacted regions of a Service Health alert that says
   * something is down ('global' excluded), else none. A VM alert names no region: only its node is to be avoided.
   */
  impactedRegions: string[];
}

export interface ClusterView {
  document: ClusterDocument;
  /** The cluster's current active node (from its state). An id not in the document makes no node the active. */
  activeNodeId: string;
}

const GLOBAL = 'global';

function concernsVm(node: ClusterNode, targets: ReadonlySet<string>): boolean {
  return node.compute.kind === 'azure-vm' && targets.has(node.compute.resourceId.trim().toLowerCase());
}

function concernsRegion(node: ClusterNode, regions: ReadonlySet<string>): boolean {
  return node.site.cloud === 'azure' && regions.has(normaliseRegion(node.site.region));
}

const RANK: Record<AlertMatchReason, number> = {
  'active-vm-alert': 0,
  'active-region-incident': 1,
  'standby-vm-alert': 2,
  'standby-region-incident': 3,
};

export function matchAlert(alert: NormalizedAlert, clusters: readonly ClusterView[]): AlertMatchResult {
  const targets = new Set(alert.targetResourceIds.map((id) => id.toLowerCase()));
  const regions =
    alert.kind === 'service-health'
      ? new Set(alert.regions.map(normaliseRegion).filter((r) => r !== GLOBAL))
      : new Set<string>();

  const matches: AlertMatch[] = [];
  for (const { document, activeNodeId } of clusters) {
    let reason: AlertMatchReason | undefined;
    const nodeIds: string[] = [];
    for (const node of document.nodes) {
      const active = node.id === activeNodeId;
      const candidates: AlertMatchReason[] = [];
      if (concernsVm(node, targets)) candidates.push(active ? 'active-vm-alert' : 'standby-vm-alert');
      if (concernsRegion(node, regions))
        candidates.push(active ? 'active-region-incident' : 'standby-region-incident');
      if (candidates.length === 0) continue;
      nodeIds.push(node.id);
      for (const candidate of candidates) {
        if (reason === undefined || RANK[candidate] < RANK[reason]) reason = candidate;
      }
    }
    if (reason === undefined) continue;
    matches.push({
      clusterId: document.id,
      reason,
      nodeIds,
      triggers: alert.down && (reason === 'active-vm-alert' || reason === 'active-region-incident'),
    });
  }
  return { matches, impactedRegions: alert.down ? [...regions] : [] };
}
