import { api, apiPaths } from '../api.js';
import { fill, h } from '../dom.js';
import { duration, peerConfirmedText } from '../format.js';
import type { Page } from '../page.js';
import type { ClusterAnswer, ClusterListItem, ClusterStatus, ClusterDocument, PoolView } from '../types.js';
import { badge, links } from '../widgets.js';

/** The detection window of a cluster: how old a heartbeat may be before the node counts as failed. */
export function detectionWindowMs(document: ClusterDocument): number {
  const interval = document.detection?.heartbeatIntervalMs ?? 1000;
  return interval * (document.detection?.missedHeartbeats ?? 5);
}

/** A cluster's health in one word, and why. */
export function clusterHealth(
  document: ClusterDocument,
  status: ClusterStatus,
): { word: string; why: string } {
  if (!status.activeNodeId || status.revoked)
    return { word: 'no active', why: status.noActiveReason ?? 'no node holds the active role' };
  const window = detectionWindowMs(document);
  const silent = status.nodes.filter((n) => n.lastHeartbeatAgeMs === null || n.lastHeartbeatAgeMs > window);
  const failing = status.nodes.filter((n) => n.checks.some((c) => c.status === 'fail'));
  // Silent to the control plane but confirmed alive by its peer: not failed over, but not heard either.
  if (status.activePeerConfirmed)
    return {
      word: 'degraded',
      why: `${status.activeNodeId} ${peerConfirmedText(status.activePeerConfirmed)}`,
    };
  if (status.leaseExpired) return { word: 'degraded', why: 'the active lease is over' };
  if (silent.length > 0)
    return { word: 'degraded', why: `not heard from: ${silent.map((n) => n.nodeId).join(', ')}` };
  if (failing.length > 0)
    return { word: 'degraded', why: `failing checks on ${failing.map((n) => n.nodeId).join(', ')}` };
  const warning = status.nodes.filter((n) => n.checks.some((c) => c.status === 'warn'));
  if (warning.length > 0)
    return { word: 'warning', why: `warnings on ${warning.map((n) => n.nodeId).join(', ')}` };
  return { word: 'healthy', why: 'every node heartbeating with passing checks' };
}

/** Clusters at a glance: active node, epoch, health, heartbeat ages, running operation, last drill, short pools. */
export const overviewPage: Page = (context) => {
  const body = h('tbody', {}, h('tr', {}, h('td', { colspan: 8 }, 'Loading…')));
  const root = h(
    'section',
    { 'aria-labelledby': 'overview-title' },
    h('h1', { id: 'overview-title' }, 'Clusters'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'overview' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            [
              'Cluster',
              'Active',
              'Epoch',
              'Health',
              'Heartbeats',
              'Running',
              'Last drill',
              'Pools short',
            ].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        body,
      ),
    ),
  );
  context.poll(async () => {
    const { clusters } = await api<{ clusters: ClusterListItem[] }>(apiPaths.clusters());
    const rows = await Promise.all(
      clusters.map(async (item) => {
        const { cluster, status } = await api<ClusterAnswer>(apiPaths.cluster(item.id));
        const pools = await Promise.all(
          (cluster.pools ?? []).map(
            async (p) => (await api<{ pool: PoolView }>(apiPaths.pool(item.id, p.id))).pool,
          ),
        );
        return { cluster, status, pools };
      }),
    );
    if (context.left()) return;
    if (rows.length === 0) {
      fill(
        body,
        h('tr', {}, h('td', { colspan: 8 }, 'No cluster is declared yet (PUT /api/v1/clusters/{id}).')),
      );
      return;
    }
    fill(
      body,
      rows.map(({ cluster, status, pools }) => {
        const health = clusterHealth(cluster, status);
        const running = status.runningOperations[0];
        const short = pools.filter((p) => p.shortfall > 0);
        return h(
          'tr',
          { 'data-cluster': cluster.id },
          h(
            'th',
            { scope: 'row' },
            h('a', { href: links.cluster(cluster.id) }, cluster.id),
            h('div', { class: 'muted' }, cluster.kind),
          ),
          h('td', {}, status.activeNodeId ?? '—'),
          h('td', { class: 'num' }, String(status.epoch)),
          h('td', {}, badge(health.word), h('div', { class: 'muted small' }, health.why)),
          h(
            'td',
            {},
            h(
              'ul',
              { class: 'plain' },
              status.nodes.map((n) =>
                h(
                  'li',
                  {},
                  `${n.nodeId}${n.active ? ' *' : ''}: `,
                  n.lastHeartbeatAgeMs === null ? 'never' : `${duration(n.lastHeartbeatAgeMs)} ago`,
                ),
              ),
            ),
          ),
          h(
            'td',
            {},
            running
              ? h(
                  'a',
                  { href: links.operation(cluster.id, running.operationId) },
                  `${running.kind}`,
                  running.step ? `: ${running.step}` : '',
                )
              : '—',
          ),
          h(
            'td',
            {},
            status.lastDrill
              ? [
                  badge(status.lastDrill.result),
                  ' ',
                  h('span', { class: 'muted small' }, status.lastDrill.mode),
                ]
              : '—',
          ),
          h(
            'td',
            {},
            short.length === 0
              ? (cluster.pools?.length ?? 0) > 0
                ? 'none'
                : '—'
              : h(
                  'ul',
                  { class: 'plain' },
                  short.map((p) =>
                    h(
                      'li',
                      {},
                      h('a', { href: links.pool(cluster.id, p.poolId) }, p.poolId),
                      `: ${p.shortfall} short of ${p.demand}`,
                    ),
                  ),
                ),
          ),
        );
      }),
    );
  }, 2000);
  return root;
};
