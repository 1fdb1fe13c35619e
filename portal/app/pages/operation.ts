import { api, apiPaths } from '../api.js';
import { fill, h } from '../dom.js';
import { compact, duration, time } from '../format.js';
import type { Page, PageContext } from '../page.js';
import type { Operation } from '../types.js';
import { badge, clusterNav, stepTimeline } from '../widgets.js';

const ended = (op: Operation) => op.status !== 'pending' && op.status !== 'running';

/**
 * An operation live: its status, each step with its outcome and duration on a timeline, until it ends (succeeded,
 * or failed — a roll-back says so in its reason and its roll-back step).
 */
export function operationView(context: PageContext, clusterId: string, operationId: string): HTMLElement {
  const head = h('div', { id: 'operation-status', 'aria-live': 'polite' }, 'Loading…');
  const steps = h('div', { id: 'operation-steps' });
  const root = h('div', { class: 'operation' }, head, steps);
  let done = false;
  // Just after a 202 the operation may not be recorded yet: look for it in the history first (no 404 to show).
  let recorded = false;
  context.poll(async () => {
    if (done) return;
    let op: Operation | undefined;
    if (!recorded) {
      const { operations } = await api<{ operations: Operation[] }>(
        `${apiPaths.operations(clusterId)}?limit=10`,
      );
      op = operations.find((o) => o.operationId === operationId);
      if (!op) {
        head.setAttribute('data-status', 'pending');
        fill(head, h('p', { class: 'op-line' }, badge('pending'), ` ${operationId}: starting…`));
        return;
      }
      recorded = true;
    }
    op = (await api<{ operation: Operation }>(apiPaths.operation(clusterId, operationId))).operation;
    if (context.left()) return;
    const now = Date.now();
    head.setAttribute('data-status', op.status);
    fill(
      head,
      h(
        'p',
        { class: 'op-line' },
        badge(op.status),
        ' ',
        h('strong', {}, op.kind),
        ` ${op.operationId}`,
        op.targetNodeId ? ` → ${op.targetNodeId}` : '',
        ` · epoch ${op.epoch}${op.toEpoch !== undefined ? ` → ${op.toEpoch}` : ''}`,
        ` · ${ended(op) ? `took ${duration((op.endedAt ?? op.updatedAt) - op.createdAt)}` : `running for ${duration(now - op.createdAt)}`}`,
        op.rtoMs !== undefined ? ` · RTO ${duration(op.rtoMs)}` : '',
      ),
      h(
        'p',
        { class: 'muted small' },
        `started ${time(op.createdAt)}`,
        op.actor ? ` by ${op.actor}` : '',
        op.trigger ? ` (${op.trigger.kind}${op.trigger.reference ? `: ${op.trigger.reference}` : ''})` : '',
      ),
      op.reason ? h('p', { class: op.status === 'failed' ? 'reason bad-text' : 'reason' }, op.reason) : null,
    );
    fill(
      steps,
      op.steps && op.steps.length > 0
        ? stepTimeline(op.steps, op.createdAt, op.endedAt, now)
        : h('p', { class: 'muted' }, 'No step yet.'),
    );
    if (ended(op)) done = true;
  }, 500);
  return root;
}

/** One operation with its step timeline (live while it runs). */
export const operationPage: Page = (context, [clusterId = '', operationId = '']) =>
  h(
    'section',
    {},
    clusterNav(context.session, clusterId, 'operations'),
    h('h1', {}, 'Operation'),
    operationView(context, clusterId, operationId),
  );

/** The operations history, newest first, each linking to its timeline. */
export const operationsPage: Page = (context, [clusterId = '']) => {
  const body = h('tbody', {});
  const more = h('p', {});
  let continuation: string | undefined;
  // Once older pages are shown, the live refresh stops (it would drop them).
  let extended = false;
  const row = (op: Operation) =>
    h(
      'tr',
      { 'data-operation': op.operationId },
      h('td', {}, time(op.createdAt)),
      h(
        'th',
        { scope: 'row' },
        h(
          'a',
          { href: `#/c/${encodeURIComponent(clusterId)}/operations/${encodeURIComponent(op.operationId)}` },
          op.kind,
        ),
      ),
      h('td', {}, badge(op.status)),
      h('td', {}, op.targetNodeId ?? '—'),
      h('td', {}, op.actor ?? '—'),
      h('td', {}, op.endedAt ? duration(op.endedAt - op.createdAt) : '…'),
      h('td', {}, op.rtoMs !== undefined ? duration(op.rtoMs) : '—'),
      h('td', { class: 'small' }, compact(op.reason ?? '', 160)),
    );
  const loadMore = async () => {
    extended = true;
    const page = await api<{ operations: Operation[]; continuation?: string }>(
      `${apiPaths.operations(clusterId)}?limit=20&continuation=${encodeURIComponent(continuation ?? '')}`,
    );
    body.append(...page.operations.map(row));
    continuation = page.continuation;
    if (!continuation) fill(more);
  };
  context.poll(async () => {
    if (extended) return;
    const page = await api<{ operations: Operation[]; continuation?: string }>(
      `${apiPaths.operations(clusterId)}?limit=20`,
    );
    if (context.left()) return;
    fill(
      body,
      page.operations.length === 0
        ? h('tr', {}, h('td', { colspan: 8 }, 'No operation yet.'))
        : page.operations.map(row),
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
            'Older operations',
          )
        : null,
    );
  }, 3000);
  return h(
    'section',
    {},
    clusterNav(context.session, clusterId, 'operations'),
    h('h1', {}, 'Operations'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Started', 'Kind', 'Status', 'Target', 'Actor', 'Took', 'RTO', 'Reason'].map((t) =>
              h('th', { scope: 'col' }, t),
            ),
          ),
        ),
        body,
      ),
    ),
    more,
  );
};
