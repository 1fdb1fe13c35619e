import { api, apiPaths, can } from '../api.js';
import { fill, h } from '../dom.js';
import { compact, duration, time } from '../format.js';
import type { Page } from '../page.js';
import type { ClusterAnswer, DrillSummary } from '../types.js';
import { badge, clusterNav, links, rtoTrendChart } from '../widgets.js';
import { refusalView } from './makeActive.js';

/** Drills: the reports, the RTO trend against the objective, and (operators) starting one. */
export const drillsPage: Page = (context, [clusterId = '']) => {
  const chart = h('figure', { class: 'chart' }, 'Loading…');
  const body = h('tbody', {});
  const started = h('div', { id: 'drill-started', 'aria-live': 'polite' });
  const start = h('div', {});
  let objective: number | undefined;

  if (can(context.session, 'operator')) {
    const mode = h(
      'select',
      { id: 'drill-mode', name: 'mode' },
      ['validate', 'switchover', 'failover'].map((m) => h('option', { value: m }, m)),
    );
    const confirm = h('input', { type: 'checkbox', id: 'drill-confirm' });
    fill(
      start,
      h(
        'form',
        {
          id: 'drill-form',
          class: 'inline',
          'data-action': 'start-drill',
          onsubmit: (event: Event) => {
            event.preventDefault();
            const body = { mode: mode.value, ...(confirm.checked ? { confirm: true } : {}) };
            api<{ drillId: string; started: boolean; operationUrl: string }>(apiPaths.drills(clusterId), {
              method: 'POST',
              body,
            })
              .then((answer) =>
                fill(
                  started,
                  h(
                    'p',
                    {},
                    `Drill ${answer.drillId} ${answer.started ? 'started' : 'already running'}: `,
                    h(
                      'a',
                      {
                        href: links.operation(
                          clusterId,
                          decodeURIComponent(answer.operationUrl.split('/').pop() ?? ''),
                        ),
                      },
                      'follow its steps',
                    ),
                  ),
                ),
              )
              .catch((error: unknown) => fill(started, refusalView(error)));
          },
        },
        h('label', { for: 'drill-mode' }, 'Mode: '),
        mode,
        ' ',
        h('label', {}, confirm, ' confirm a disruptive failover drill'),
        ' ',
        h('button', { type: 'submit', class: 'primary' }, 'Start a drill'),
      ),
    );
  }

  context.poll(async () => {
    if (objective === undefined) {
      const { cluster } = await api<ClusterAnswer>(apiPaths.cluster(clusterId));
      objective = cluster.failover?.rtoObjectiveMs ?? 60_000;
    }
    const { drills } = await api<{ drills: DrillSummary[] }>(`${apiPaths.drills(clusterId)}?limit=50`);
    if (context.left()) return;
    fill(
      chart,
      rtoTrendChart(drills, objective),
      h(
        'figcaption',
        {},
        `RTO per drill (filled: measured; hollow: predicted by a validate drill) against the ${duration(objective)} objective (dashed).`,
      ),
    );
    fill(
      body,
      drills.length === 0
        ? h('tr', {}, h('td', { colspan: 7 }, 'No drill yet.'))
        : drills.map((d) =>
            h(
              'tr',
              { 'data-drill': d.drillId },
              h('td', {}, time(d.startedAt)),
              h('td', {}, d.mode),
              h('td', {}, badge(d.result)),
              h(
                'td',
                {},
                d.rtoMs !== undefined
                  ? duration(d.rtoMs)
                  : d.predictedRtoMs !== undefined
                    ? `${duration(d.predictedRtoMs)} (predicted)`
                    : '—',
              ),
              h('td', {}, d.rpoMs !== undefined ? duration(d.rpoMs) : '—'),
              h('td', { class: 'small' }, compact(d.reasons.join('; '), 200) || '—'),
              // The report page itself: the API answers HTML to a browser (Accept: text/html).
              h('td', {}, h('a', { href: apiPaths.drill(clusterId, d.drillId) }, 'report')),
            ),
          ),
    );
  }, 3000);

  return h(
    'section',
    {},
    clusterNav(context.session, clusterId, 'drills'),
    h('h1', {}, 'Drills'),
    start,
    started,
    h('h2', {}, 'RTO trend'),
    chart,
    h('h2', {}, 'Reports'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'drills' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Started', 'Mode', 'Result', 'RTO', 'RPO', 'Reasons', ''].map((t) =>
              h('th', { scope: 'col' }, t),
            ),
          ),
        ),
        body,
      ),
    ),
  );
};
