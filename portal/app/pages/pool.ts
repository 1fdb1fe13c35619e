import { api, apiPaths, can } from '../api.js';
import { fill, h } from '../dom.js';
import { time } from '../format.js';
import type { Page } from '../page.js';
import type { PoolNode, PoolView } from '../types.js';
import { badge, clusterNav, links } from '../widgets.js';
import { refusalView } from './makeActive.js';

/** A pool: placements per site as a grid, headroom, cool-downs, shortfall, and (operators) its demand. */
export const poolPage: Page = (context, [clusterId = '', poolId = '']) => {
  const summary = h('div', { class: 'summary', 'aria-live': 'polite' }, 'Loading…');
  const grid = h('div', { class: 'site-grid' });
  const demandArea = h('div', {});
  const message = h('div', { id: 'demand-result', 'aria-live': 'polite' });
  if (can(context.session, 'operator')) {
    const desired = h('input', {
      type: 'number',
      id: 'desired',
      name: 'desired',
      min: 0,
      max: 10000,
      required: true,
    });
    fill(
      demandArea,
      h(
        'form',
        {
          id: 'demand-form',
          class: 'inline',
          'data-action': 'set-demand',
          onsubmit: (event: Event) => {
            event.preventDefault();
            api<{ pool: PoolView; previous: number; spillover: { operationId: string } }>(
              apiPaths.poolDemand(clusterId, poolId),
              {
                method: 'PUT',
                body: { desired: Number(desired.value) },
              },
            )
              .then((answer) =>
                fill(
                  message,
                  h(
                    'p',
                    {},
                    `Demand ${answer.previous} → ${answer.pool.demand}; `,
                    h(
                      'a',
                      { href: links.operation(clusterId, answer.spillover.operationId) },
                      'the spillover run',
                    ),
                  ),
                ),
              )
              .catch((error: unknown) => fill(message, refusalView(error)));
          },
        },
        h('label', { for: 'desired' }, 'Set demand (nodes): '),
        desired,
        ' ',
        h('button', { type: 'submit', class: 'primary' }, 'Set'),
      ),
    );
  }
  context.poll(async () => {
    const [{ pool }, { nodes }] = await Promise.all([
      api<{ pool: PoolView }>(apiPaths.pool(clusterId, poolId)),
      api<{ nodes: PoolNode[] }>(apiPaths.poolNodes(clusterId, poolId)),
    ]);
    if (context.left()) return;
    fill(
      summary,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Demand'),
        h(
          'dd',
          { id: 'demand' },
          `${pool.demand} (${pool.demandSource === 'api' ? `set ${time(pool.demandSetAt)} by ${pool.demandSetBy ?? '?'}` : 'from the document'})`,
        ),
        h('dt', {}, 'Placed'),
        h('dd', {}, String(pool.placed)),
        h('dt', {}, 'Shortfall'),
        h(
          'dd',
          { id: 'shortfall' },
          pool.shortfall > 0 ? badge(`${pool.shortfall} short`, 'bad') : badge('met', 'good'),
        ),
        h('dt', {}, 'Spillover'),
        h(
          'dd',
          {},
          pool.runningOperation
            ? h('a', { href: links.operation(clusterId, pool.runningOperation) }, 'running')
            : pool.lastRun
              ? [`last run ${time(pool.lastRun.endedAt)}: `, pool.lastRun.reason]
              : 'never run',
        ),
      ),
    );
    fill(
      grid,
      pool.sites.map((site, i) => {
        const here = nodes.filter((n) => n.siteId === site.siteId);
        return h(
          'article',
          { class: `site ${site.cloud}`, 'data-site': site.siteId },
          h('h3', {}, `${i + 1}. ${site.siteId}`),
          h(
            'p',
            { class: 'muted small' },
            `${site.cloud} ${site.region}${site.zone ? ` / ${site.zone}` : ''} · ${site.size}`,
          ),
          h(
            'ul',
            { class: 'cells', 'aria-label': `${site.placed} nodes placed` },
            here.slice(0, 200).map((n) =>
              h('li', {
                class: `cell ${n.status}${n.idleSince ? ' idle' : ''}`,
                title: `${n.nodeId} ${n.status}${n.idleSince ? ' (idle)' : ''}`,
              }),
            ),
          ),
          h('p', {}, h('strong', {}, String(site.placed)), ' placed'),
          h(
            'p',
            { class: 'small' },
            site.headroom
              ? site.headroom.error
                ? ['headroom unreadable: ', site.headroom.error]
                : `headroom: quota ${site.headroom.quotaNodes}, capacity ${site.headroom.capacityNodes}${site.headroom.restricted ? `, restricted (${site.headroom.restricted})` : ''} (read ${time(site.headroom.readAt)})`
              : 'headroom not read yet',
          ),
          site.coolingDown
            ? h(
                'p',
                { class: 'small' },
                badge('cooling down', 'warn'),
                ` ${site.coolingDown.kind} until ${time(site.coolingDown.until)}: ${site.coolingDown.reason}`,
              )
            : null,
        );
      }),
    );
  }, 3000);
  return h(
    'section',
    {},
    clusterNav(context.session, clusterId, 'pools'),
    h('h1', {}, `Pool ${poolId}`),
    summary,
    demandArea,
    message,
    h('h2', {}, 'Sites, in order of preference'),
    grid,
  );
};
