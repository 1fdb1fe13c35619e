import { can, type Session } from './api.js';
import { h, s } from './dom.js';
import { duration, time } from './format.js';
import type { DrillSummary, OperationStep } from './types.js';

const e = encodeURIComponent;
export const links = {
  overview: () => '#/',
  cluster: (id: string) => `#/c/${e(id)}`,
  makeActive: (id: string) => `#/c/${e(id)}/make-active`,
  failover: (id: string) => `#/c/${e(id)}/failover`,
  operations: (id: string) => `#/c/${e(id)}/operations`,
  operation: (id: string, op: string) => `#/c/${e(id)}/operations/${e(op)}`,
  audit: (id: string) => `#/c/${e(id)}/audit`,
  drills: (id: string) => `#/c/${e(id)}/drills`,
  pool: (id: string, pool: string) => `#/c/${e(id)}/pools/${e(pool)}`,
};

/** A coloured word for an outcome or status (the word carries the meaning; the colour only helps). */
export function badge(text: string, tone?: string): HTMLElement {
  const t =
    tone ??
    (/^(ok|succeeded|passed|healthy|active)$/.test(text)
      ? 'good'
      : /^(warn|warning|degraded|skipped|aborted|running|pending)$/.test(text)
        ? 'warn'
        : /^(fail|failed|no active|refused|down)$/.test(text)
          ? 'bad'
          : 'neutral');
  return h('span', { class: `badge ${t}` }, text);
}

/** The cluster's tabs; the make-active tab only for operators. */
export function clusterNav(session: Session | null, clusterId: string, current: string): HTMLElement {
  const tabs: [string, string, string][] = [
    ['status', 'Status', links.cluster(clusterId)],
    ...(can(session, 'operator')
      ? ([
          ['make-active', 'Make active', links.makeActive(clusterId)],
          ['failover', 'Failover', links.failover(clusterId)],
        ] as [string, string, string][])
      : []),
    ['operations', 'Operations', links.operations(clusterId)],
    ['audit', 'Audit log', links.audit(clusterId)],
    ['drills', 'Drills', links.drills(clusterId)],
  ];
  return h(
    'nav',
    { class: 'tabs', 'aria-label': `${clusterId} pages` },
    h('a', { href: links.overview(), class: 'crumb' }, 'Clusters'),
    h('span', { class: 'crumb-sep', 'aria-hidden': 'true' }, '/'),
    h('strong', { class: 'crumb' }, clusterId),
    h(
      'ul',
      {},
      tabs.map(([key, label, href]) =>
        h('li', {}, h('a', { href, ...(key === current ? { 'aria-current': 'page' } : {}) }, label)),
      ),
    ),
  );
}

/** An operation's steps: a list with outcome and duration, and a timeline bar per step (inline SVG). */
export function stepTimeline(
  steps: OperationStep[],
  createdAt: number,
  endedAt: number | undefined,
  now: number,
) {
  const end = Math.max(endedAt ?? now, ...steps.map((st) => st.endedAt ?? now), createdAt + 1);
  const span = end - createdAt;
  const WIDTH = 1000;
  const rows = steps.map((step) => {
    const stepEnd = step.endedAt ?? now;
    const took = Math.max(0, stepEnd - step.startedAt);
    const x = ((step.startedAt - createdAt) / span) * WIDTH;
    const w = Math.max(3, (took / span) * WIDTH);
    return h(
      'li',
      { class: `step ${step.outcome}`, 'data-step-id': step.id, 'data-outcome': step.outcome },
      h('span', { class: 'step-outcome' }, badge(step.outcome)),
      h('span', { class: 'step-name' }, step.name),
      h(
        'span',
        { class: 'step-duration' },
        step.endedAt === undefined ? `${duration(took)} so far` : duration(took),
      ),
      s(
        'svg',
        {
          class: 'step-bar',
          viewBox: `0 0 ${WIDTH} 10`,
          preserveAspectRatio: 'none',
          role: 'img',
          'aria-label': `started ${duration(step.startedAt - createdAt)} in, took ${duration(took)}`,
        },
        s('rect', { x: 0, y: 4, width: WIDTH, height: 2, class: 'track' }),
        s('rect', { x: x.toFixed(1), y: 0, width: w.toFixed(1), height: 10, class: `bar ${step.outcome}` }),
      ),
      step.detail && typeof step.detail.reason === 'string'
        ? h('span', { class: 'step-detail' }, step.detail.reason)
        : null,
    );
  });
  return h('ol', { class: 'steps' }, rows);
}

/**
 * The RTO trend: each drill's measured RTO (filled) or, for a validate drill, its predicted RTO (hollow), oldest
 * left, against the objective (a dashed line). Inline SVG with a title per point; no script needed to read it.
 */
export function rtoTrendChart(drills: DrillSummary[], objectiveMs: number | undefined): SVGElement {
  const points = drills
    .filter((d) => d.rtoMs !== undefined || d.predictedRtoMs !== undefined)
    .sort((a, b) => a.startedAt - b.startedAt);
  const W = 640;
  const H = 240;
  const pad = { left: 56, right: 16, top: 16, bottom: 36 };
  const values = points.map((p) => (p.rtoMs ?? p.predictedRtoMs) as number);
  const max = Math.max(1000, objectiveMs ?? 0, ...values) * 1.15;
  const x = (i: number) =>
    pad.left +
    (points.length <= 1
      ? (W - pad.left - pad.right) / 2
      : (i / (points.length - 1)) * (W - pad.left - pad.right));
  const y = (ms: number) => pad.top + (1 - ms / max) * (H - pad.top - pad.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * max);
  const children = [
    s('title', {}, 'RTO of each drill against the objective'),
    ...ticks.map((t) =>
      s(
        'g',
        { class: 'tick' },
        s('line', { x1: pad.left, x2: W - pad.right, y1: y(t).toFixed(1), y2: y(t).toFixed(1) }),
        s('text', { x: pad.left - 6, y: (y(t) + 4).toFixed(1), 'text-anchor': 'end' }, duration(t)),
      ),
    ),
    objectiveMs !== undefined
      ? s(
          'g',
          { class: 'objective' },
          s('line', {
            x1: pad.left,
            x2: W - pad.right,
            y1: y(objectiveMs).toFixed(1),
            y2: y(objectiveMs).toFixed(1),
          }),
          s(
            'text',
            { x: W - pad.right, y: (y(objectiveMs) - 5).toFixed(1), 'text-anchor': 'end' },
            `objective ${duration(objectiveMs)}`,
          ),
        )
      : null,
    points.length > 1
      ? s('polyline', {
          class: 'trend-line',
          points: points.map((p, i) => `${x(i).toFixed(1)},${y(values[i] as number).toFixed(1)}`).join(' '),
        })
      : null,
    ...points.map((p, i) =>
      s(
        'circle',
        {
          class: `trend-point ${p.result} ${p.rtoMs !== undefined ? 'measured' : 'predicted'}`,
          'data-drill-id': p.drillId,
          cx: x(i).toFixed(1),
          cy: y(values[i] as number).toFixed(1),
          r: 6,
        },
        s(
          'title',
          {},
          `${p.drillId} (${p.mode}, ${p.result}) ${p.rtoMs !== undefined ? 'RTO' : 'predicted RTO'} ${duration(values[i])} — ${time(p.startedAt)}`,
        ),
      ),
    ),
    s(
      'text',
      { x: pad.left, y: H - 10, class: 'axis-label' },
      points.length ? time(points[0]?.startedAt).slice(0, 10) : 'no drill with an RTO yet',
    ),
    points.length > 1
      ? s(
          'text',
          { x: W - pad.right, y: H - 10, 'text-anchor': 'end', class: 'axis-label' },
          time(points[points.length - 1]?.startedAt).slice(0, 10),
        )
      : null,
  ];
  return s(
    'svg',
    {
      class: 'trend-chart',
      viewBox: `0 0 ${W} ${H}`,
      role: 'img',
      'aria-label': 'RTO trend against the objective',
    },
    ...children,
  );
}
