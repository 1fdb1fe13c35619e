import type { ClusterDocument } from '../../domain/clusterDocument';
import type { NodeRef, SiteRef } from '../../providers/computeProvider';

/** A node's cloud compute and site, for its provider; undefined for a node on premises or without compute. */
export function nodeRef(
  document: ClusterDocument,
  nodeId: string,
): { site: SiteRef; ref: NodeRef } | undefined {
  const node = document.nodes.find((n) => n.id === nodeId);
  if (!node || node.compute.kind === 'none' || node.site.cloud === 'on-prem') return undefined;
  return { site: { ...node.site, cloud: node.site.cloud }, ref: node.compute };
}
