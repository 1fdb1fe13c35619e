import { ApiError, api, apiPaths, errorFields } from '../api.js';
import { fill, h } from '../dom.js';
import { duration } from '../format.js';
import type { Page, PageContext } from '../page.js';
import type { ClusterAnswer, MakeActivePlan, Precondition } from '../types.js';
import { badge, clusterNav, links } from '../widgets.js';
import { operationView } from './operation.js';

function preconditionValue(p: Precondition): string {
  if (p.value === null || p.value === undefined) return '—';
  if (typeof p.value === 'number' && /lag|heartbeat|age/.test(p.name))
    return `${duration(p.value)}${p.limit !== undefined ? ` (limit ${duration(p.limit)})` : ''}`;
  return `${typeof p.value === 'string' ? p.value : JSON.stringify(p.value)}${p.limit !== undefined ? ` (limit ${p.limit})` : ''}`;
}

/** A refusal as the operator reads it: the message, and the blockers with each precondition's detail. */
export function refusalView(error: unknown): HTMLElement {
  const fields = error instanceof ApiError ? errorFields(error.body) : {};
  const blockers = Array.isArray(fields.blockers) ? (fields.blockers as string[]) : [];
  const plan = fields.plan as MakeActivePlan | undefined;
  return h(
    'div',
    {
      id: 'refusal',
      class: 'refusal',
      role: 'alert',
      'data-code': error instanceof ApiError ? error.code : 'Error',
    },
    h('h2', {}, 'Refused'),
    h('p', {}, error instanceof ApiError ? `${error.code}: ${error.message}` : String(error)),
    blockers.length > 0
      ? h(
          'ul',
          {},
          blockers.map((b) => {
            const p = plan?.preconditions.find((q) => q.name === b);
            return h('li', { 'data-blocker': b }, h('strong', {}, b), p ? ` — ${p.detail}` : '');
          }),
        )
      : null,
  );
}

/** The confirmation screen: who becomes active and passive, the preconditions, the hook steps, the blockers. */
function planView(
  context: PageContext,
  clusterId: string,
  plan: MakeActivePlan,
  onConfirm: (options: { force: boolean; reason: string }) => void,
  onCancel: () => void,
): HTMLElement {
  const rpoOnly = plan.blockers.length === 1 && plan.blockers[0] === 'replication-lag-within-rpo';
  const force = h('input', { type: 'checkbox', id: 'force', name: 'force' });
  const reason = h('input', {
    id: 'reason',
    name: 'reason',
    maxlength: 500,
    placeholder: 'maintenance of the active',
  });
  const confirm = h(
    'button',
    {
      type: 'submit',
      id: 'confirm',
      class: 'primary',
      'data-action': 'confirm-make-active',
      ...(plan.canRun ? {} : { disabled: true }),
    },
    `Make ${plan.becomesActive} active`,
  );
  if (rpoOnly)
    force.addEventListener('change', () => {
      confirm.disabled = !force.checked;
    });
  return h(
    'form',
    {
      id: 'plan',
      class: 'plan',
      'data-can-run': String(plan.canRun),
      onsubmit: (event: Event) => {
        event.preventDefault();
        onConfirm({ force: force.checked, reason: reason.value.trim() });
      },
    },
    h('h2', {}, 'Confirm the switchover'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Becomes active'),
      h('dd', { id: 'becomes-active' }, h('strong', {}, plan.becomesActive)),
      h('dt', {}, 'Becomes passive'),
      h('dd', { id: 'becomes-passive' }, plan.becomesPassive.join(', ') || '—'),
      h('dt', {}, 'Now active'),
      h('dd', {}, plan.currentActive ?? 'none'),
      h('dt', {}, 'Epoch'),
      h('dd', {}, `${plan.epoch} → ${plan.epoch + 1}`),
    ),
    h('h3', {}, 'Preconditions'),
    h(
      'ul',
      { class: 'preconditions plain' },
      plan.preconditions.map((p) =>
        h(
          'li',
          { 'data-precondition': p.name, 'data-ok': String(p.ok) },
          badge(p.ok ? 'ok' : 'fail'),
          ` ${p.name}: `,
          preconditionValue(p),
          h('div', { class: 'muted small' }, p.detail),
        ),
      ),
    ),
    h('h3', {}, 'Steps that will run'),
    h(
      'ol',
      { class: 'hooks' },
      plan.hooks.map((hook) =>
        h(
          'li',
          {},
          h('strong', {}, hook.node),
          `: ${hook.command}`,
          hook.runs ? h('span', { class: 'muted small' }, ` — ${hook.runs}`) : '',
        ),
      ),
      h(
        'li',
        {},
        `the control plane verifies ${plan.becomesActive} as the active under epoch ${plan.epoch + 1}`,
      ),
    ),
    plan.blockers.length > 0
      ? h(
          'div',
          { class: 'blockers', role: 'alert' },
          h('strong', {}, 'Blocked by: '),
          h('span', { id: 'blockers' }, plan.blockers.join(', ')),
          rpoOnly
            ? h(
                'p',
                {},
                h('label', {}, force, ' Force: accept the replication lag (lifts only the RPO bound)'),
              )
            : null,
        )
      : null,
    h('p', {}, h('label', { for: 'reason' }, 'Reason (audited): '), reason),
    h(
      'p',
      { class: 'actions' },
      confirm,
      ' ',
      h('button', { type: 'button', onclick: onCancel }, 'Cancel'),
      ' ',
      h('a', { href: links.cluster(clusterId) }, 'Back to the cluster'),
    ),
  );
}

/** Make-active: pick a node → the plan to confirm → confirm → the steps live until done or rolled back. */
export const makeActivePage: Page = (context, [clusterId = '']) => {
  const picker = h('div', { id: 'picker' }, 'Loading…');
  const stage = h('div', { id: 'stage' });
  const root = h(
    'section',
    {},
    clusterNav(context.session, clusterId, 'make-active'),
    h('h1', {}, `Make a node of ${clusterId} active`),
    picker,
    stage,
  );

  /** Shows `plan` to confirm (after `notice`, a refusal, if any); confirming follows the operation live. */
  const renderPlan = (nodeId: string, plan: MakeActivePlan, notice?: HTMLElement) => {
    const confirmed = ({ force, reason }: { force: boolean; reason: string }) => {
      const body = {
        nodeId,
        confirm: true,
        ...(force ? { force: true } : {}),
        ...(reason ? { reason } : {}),
      };
      api<{ operationId: string; started: boolean }>(apiPaths.makeActive(clusterId), {
        method: 'POST',
        body,
      })
        .then((started) => {
          if (context.left()) return;
          fill(
            stage,
            h('h2', {}, started.started ? 'Switching over' : 'Joined the running operation'),
            operationView(context, clusterId, started.operationId),
          );
          picker.hidden = true;
        })
        .catch((error: unknown) => {
          if (context.left()) return;
          // A refusal carries the plan as it is now (what changed since it was shown): show it instead.
          const fresh =
            error instanceof ApiError
              ? (errorFields(error.body).plan as MakeActivePlan | undefined)
              : undefined;
          if (fresh) renderPlan(nodeId, fresh, refusalView(error));
          else stage.prepend(refusalView(error));
        });
    };
    fill(
      stage,
      notice ?? null,
      planView(context, clusterId, plan, confirmed, () => fill(stage)),
    );
    if (!notice) stage.querySelector<HTMLButtonElement>('#confirm')?.focus();
  };

  const showPlan = async (nodeId: string) => {
    fill(stage, h('p', {}, 'Reading the plan…'));
    const { plan } = await api<{ plan: MakeActivePlan }>(apiPaths.makeActive(clusterId), {
      method: 'POST',
      body: { nodeId },
    });
    if (context.left()) return;
    renderPlan(nodeId, plan);
  };

  void api<ClusterAnswer>(apiPaths.cluster(clusterId))
    .then(({ status }) => {
      if (context.left()) return;
      const candidates = status.nodes.filter((n) => !n.active);
      fill(
        picker,
        h(
          'p',
          {},
          `Active now: ${status.activeNodeId ?? 'none'} (epoch ${status.epoch}). Choose the node to make active:`,
        ),
        h(
          'ul',
          { class: 'plain choices' },
          candidates.map((n) =>
            h(
              'li',
              {},
              h(
                'button',
                {
                  type: 'button',
                  'data-node': n.nodeId,
                  'data-action': 'plan-make-active',
                  onclick: () =>
                    void showPlan(n.nodeId).catch((error: unknown) => fill(stage, refusalView(error))),
                },
                n.nodeId,
              ),
              ` ${n.site} · heartbeat ${n.lastHeartbeatAgeMs === null ? 'never' : `${duration(n.lastHeartbeatAgeMs)} ago`}`,
              n.replicationLagMs !== null ? ` · lag ${duration(n.replicationLagMs)}` : '',
            ),
          ),
        ),
      );
    })
    .catch((error: unknown) => context.showError(error));
  return root;
};

/** Manual failover with a reason (an unplanned failover started by an operator). */
export const failoverPage: Page = (context, [clusterId = '']) => {
  const stage = h('div', { id: 'stage' });
  const reason = h('input', {
    id: 'failover-reason',
    name: 'reason',
    required: true,
    minlength: 1,
    maxlength: 500,
  });
  const target = h(
    'select',
    { id: 'failover-target', name: 'target' },
    h('option', { value: '' }, 'the control plane chooses'),
  );
  const force = h('input', { type: 'checkbox', id: 'failover-force' });
  const form = h(
    'form',
    {
      id: 'failover-form',
      'data-action': 'failover',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const body = {
          reason: reason.value.trim(),
          ...(target.value ? { targetNodeId: target.value } : {}),
          ...(force.checked ? { force: true } : {}),
        };
        api<{ operationId: string; started: boolean }>(apiPaths.failover(clusterId), { method: 'POST', body })
          .then((started) => {
            if (context.left()) return;
            form.hidden = true;
            fill(
              stage,
              h('h2', {}, started.started ? 'Failing over' : 'Joined the running operation'),
              operationView(context, clusterId, started.operationId),
            );
          })
          .catch((error: unknown) => fill(stage, refusalView(error)));
      },
    },
    h('p', {}, h('label', { for: 'failover-reason' }, 'Reason (required, audited): '), reason),
    h('p', {}, h('label', { for: 'failover-target' }, 'Target: '), target),
    h('p', {}, h('label', {}, force, ' Force (override the failover mode and the anti-flapping policy)')),
    h('p', {}, h('button', { type: 'submit', class: 'primary danger' }, 'Start the failover')),
  );
  void api<ClusterAnswer>(apiPaths.cluster(clusterId))
    .then(({ status }) => {
      for (const n of status.nodes.filter((node) => !node.active))
        target.append(h('option', { value: n.nodeId }, n.nodeId));
    })
    .catch((error: unknown) => context.showError(error));
  return h(
    'section',
    {},
    clusterNav(context.session, clusterId, 'failover'),
    h('h1', {}, `Fail ${clusterId} over`),
    h(
      'p',
      { class: 'muted' },
      'An unplanned failover: the active is fenced (or its lease waited out) and a standby promoted.',
    ),
    form,
    stage,
  );
};
