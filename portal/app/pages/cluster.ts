import { api, apiPaths, can } from '../api.js';
import { fill, h } from '../dom.js';
import { duration, peerConfirmedText, promiseText, time } from '../format.js';
import type { Page } from '../page.js';
import type { ClusterAnswer, GpuReport, NodeStatus } from '../types.js';
import { badge, clusterNav, links } from '../widgets.js';
import { clusterHealth } from './overview.js';

function gpus(node: NodeStatus): HTMLElement | string {
  if (!Array.isArray(node.gpu) || node.gpu.length === 0) return '—';
  return h(
    'ul',
    { class: 'plain' },
    (node.gpu as GpuReport[]).map((g) =>
      h(
        'li',
        {},
        `GPU${g.index}`,
        g.utilizationPercent !== undefined ? ` ${g.utilizationPercent}%` : '',
        g.memoryUsedMiB !== undefined && g.memoryTotalMiB !== undefined
          ? ` ${g.memoryUsedMiB}/${g.memoryTotalMiB} MiB`
          : '',
        (g.xidErrors ?? 0) > 0 ? [' ', badge(`XID ${g.xidErrors}`, 'bad')] : '',
        (g.eccErrors ?? 0) > 0 ? [' ', badge(`ECC ${g.eccErrors}`, 'bad')] : '',
      ),
    ),
  );
}

/** A cluster in the `cmha status` shape: active marked, per-node checks (GPUs too), witness, lease, lag vs RPO. */
export const clusterPage: Page = (context, [clusterId = '']) => {
  const summary = h('div', { class: 'summary', 'aria-live': 'polite' }, 'Loading…');
  const nodes = h('tbody', {});
  const running = h('div', {});
  const pools = h('div', {});
  const actions = h('div', { class: 'actions' });
  const root = h(
    'section',
    {},
    clusterNav(context.session, clusterId, 'status'),
    h('h1', {}, `Cluster ${clusterId}`),
    summary,
    actions,
    h('h2', {}, 'Nodes'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'nodes' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            [
              '',
              'Node',
              'Site',
              'Role (reported)',
              'Heartbeat',
              'Checks',
              'GPUs',
              'Replication lag',
              'Clock',
            ].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        nodes,
      ),
    ),
    h('h2', {}, 'Running'),
    running,
    pools,
  );

  if (can(context.session, 'operator'))
    fill(
      actions,
      h(
        'a',
        { class: 'button', href: links.makeActive(clusterId), 'data-action': 'make-active' },
        'Make a node active…',
      ),
      h('a', { class: 'button', href: links.failover(clusterId), 'data-action': 'failover' }, 'Fail over…'),
      h('a', { class: 'button', href: links.drills(clusterId), 'data-action': 'drill' }, 'Run a drill…'),
    );
  if (can(context.session, 'admin')) {
    const reason = h('input', {
      id: 'witness-reason',
      name: 'reason',
      required: true,
      maxlength: 200,
      placeholder: 'why',
    });
    const message = h('span', { role: 'status' });
    actions.append(
      h(
        'form',
        {
          class: 'inline',
          'data-action': 'witness-break',
          onsubmit: (event: Event) => {
            event.preventDefault();
            if (!window.confirm(`Break the witness lease of ${clusterId}?`)) return;
            api(apiPaths.witnessBreak(clusterId, reason.value), { method: 'POST' })
              .then(() => fill(message, 'witness lease broken (audited)'))
              .catch((error: unknown) => context.showError(error));
          },
        },
        h('label', { for: 'witness-reason' }, 'Break the witness (admin): '),
        reason,
        h('button', { type: 'submit' }, 'Break'),
        message,
      ),
    );
  }

  context.poll(async () => {
    const { cluster, status } = await api<ClusterAnswer>(apiPaths.cluster(clusterId));
    if (context.left()) return;
    const health = clusterHealth(cluster, status);
    const rpo = cluster.failover?.rpoObjectiveMs;
    fill(
      summary,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Health'),
        h('dd', {}, badge(health.word), ' ', health.why),
        h('dt', {}, 'Kind'),
        h('dd', {}, cluster.kind),
        h('dt', {}, 'Active'),
        h(
          'dd',
          { id: 'active-node' },
          status.activeNodeId ?? 'none',
          status.activePeerConfirmed ? ` ${peerConfirmedText(status.activePeerConfirmed)}` : '',
        ),
        h('dt', {}, 'Epoch'),
        h('dd', { id: 'epoch' }, String(status.epoch)),
        h('dt', {}, 'Lease'),
        h(
          'dd',
          {},
          status.leaseExpiresAt
            ? `${status.leaseExpired ? 'expired' : `expires in ${duration(status.leaseRemainingMs)}`} (${time(status.leaseExpiresAt)})`
            : 'none',
        ),
        h('dt', {}, 'Witness'),
        h(
          'dd',
          {},
          status.witness
            ? `holder ${status.witness.activeNodeId ?? 'none'}, epoch ${status.witness.epoch}, decided ${time(status.witness.decidedAt)} by ${status.witness.decidedBy}${status.witness.behindState ? ' (behind the state)' : ''}`
            : 'no record',
        ),
        h('dt', {}, 'Last drill'),
        h(
          'dd',
          {},
          status.lastDrill
            ? [badge(status.lastDrill.result), ` ${status.lastDrill.mode}, ${time(status.lastDrill.endedAt)}`]
            : 'never drilled',
        ),
      ),
    );
    fill(
      nodes,
      status.nodes.map((n) =>
        h(
          'tr',
          { 'data-node': n.nodeId, class: n.active ? 'active-row' : '' },
          h('td', { class: 'marker', 'aria-label': n.active ? 'active' : '' }, n.active ? '*' : ''),
          h('th', { scope: 'row' }, n.nodeId),
          h('td', {}, n.site),
          h(
            'td',
            {},
            badge(n.role, n.role === 'active' ? 'good' : 'neutral'),
            ` (${n.reportedRole ?? 'not heard'}${n.reportedEpoch !== null ? ` @${n.reportedEpoch}` : ''})`,
          ),
          h(
            'td',
            {},
            n.lastHeartbeatAgeMs === null ? 'never' : `${duration(n.lastHeartbeatAgeMs)} ago`,
            n.promise ? h('div', { class: 'muted small' }, promiseText(n.promise)) : '',
          ),
          h(
            'td',
            {},
            n.checks.length === 0
              ? '—'
              : h(
                  'ul',
                  { class: 'plain' },
                  n.checks.map((c) =>
                    h(
                      'li',
                      { title: c.detail ?? '' },
                      badge(c.status),
                      ` ${c.name}`,
                      c.detail ? h('span', { class: 'muted small' }, ` ${c.detail}`) : '',
                    ),
                  ),
                ),
          ),
          h('td', {}, gpus(n)),
          h(
            'td',
            {},
            n.replicationLagMs === null
              ? '—'
              : [
                  duration(n.replicationLagMs),
                  rpo !== undefined
                    ? [
                        ' ',
                        badge(
                          n.replicationLagMs <= rpo
                            ? `within RPO ${duration(rpo)}`
                            : `over RPO ${duration(rpo)}`,
                          n.replicationLagMs <= rpo ? 'good' : 'bad',
                        ),
                      ]
                    : '',
                ],
          ),
          h('td', {}, n.clockSkewMs === null ? '—' : `${n.clockSkewMs} ms`),
        ),
      ),
    );
    fill(
      running,
      status.runningOperations.length === 0
        ? h('p', { class: 'muted' }, 'No operation running.')
        : h(
            'ul',
            {},
            status.runningOperations.map((op) =>
              h(
                'li',
                {},
                h('a', { href: links.operation(clusterId, op.operationId) }, `${op.kind} ${op.operationId}`),
                ` ${op.status}`,
                op.step ? ` — ${op.step}` : '',
              ),
            ),
          ),
    );
    const poolIds = (cluster.pools ?? []).map((p) => p.id);
    fill(
      pools,
      poolIds.length === 0
        ? null
        : [
            h('h2', {}, 'Pools'),
            h(
              'ul',
              {},
              poolIds.map((id) => h('li', {}, h('a', { href: links.pool(clusterId, id) }, id))),
            ),
          ],
    );
  }, 2000);
  return root;
};
