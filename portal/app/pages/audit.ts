import { api, apiPaths } from '../api.js';
import { fill, h } from '../dom.js';
import { compact, time } from '../format.js';
import type { Page } from '../page.js';
import type { AuditEntry } from '../types.js';
import { clusterNav } from '../widgets.js';

/** The audit log: every state change with its actor, newest first. */
export const auditPage: Page = (context, [clusterId = '']) => {
  const body = h('tbody', {});
  const more = h('p', {});
  let continuation: string | undefined;
  // Once older pages are shown, the live refresh stops (it would drop them).
  let extended = false;
  const row = (entry: AuditEntry) =>
    h(
      'tr',
      { 'data-action-name': entry.action },
      h('td', {}, time(entry.at)),
      h('td', {}, entry.actor),
      h('th', { scope: 'row' }, entry.action),
      h('td', { class: 'small mono' }, compact(entry.detail, 300)),
    );
  type AuditPage = { entries: AuditEntry[]; continuation?: string };
  const loadMore = async () => {
    extended = true;
    const page = await api<AuditPage>(
      `${apiPaths.audit(clusterId)}?limit=50&continuation=${encodeURIComponent(continuation ?? '')}`,
    );
    body.append(...page.entries.map(row));
    continuation = page.continuation;
    if (!continuation) fill(more);
  };
  context.poll(async () => {
    if (extended) return;
    const page = await api<AuditPage>(`${apiPaths.audit(clusterId)}?limit=50`);
    if (context.left()) return;
    fill(
      body,
      page.entries.length === 0
        ? h('tr', {}, h('td', { colspan: 4 }, 'Nothing audited yet.'))
        : page.entries.map(row),
    );
    continuation = page.continuation;
    fill(
      more,
      continuation
        ? h(
            'button',
            {
              type: 'button',
              onclick: () => void loadMore().catch((error: unknown) => context.showError(error)),
            },
            'Older entries',
          )
        : null,
    );
  }, 5000);
  return h(
    'section',
    {},
    clusterNav(context.session, clusterId, 'audit'),
    h('h1', {}, 'Audit log'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'audit' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['At', 'Actor', 'Action', 'Detail'].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        body,
      ),
    ),
    more,
  );
};
