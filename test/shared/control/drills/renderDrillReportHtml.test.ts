import { renderDrillReportHtml } from '../../../../shared/control/drills/renderDrillReportHtml';
import type { DrillHistoryPoint, DrillReport } from '../../../../shared/domain/drills';

const T = Date.UTC(2031, 5, 1, 2, 0, 0);
const EVIL = `<script>alert("x")</script>&'"`;

const history = (n: number): DrillHistoryPoint[] =>
  Array.from({ length: n }, (_, i) => ({
    drillId: `drill-h${i}`,
    startedAt: T - (n - i) * 86_400_000,
    mode: i % 2 === 0 ? ('switchover' as const) : ('validate' as const),
    result: i === 1 ? ('failed' as const) : ('passed' as const),
    ...(i % 2 === 0 ? { rtoMs: 20_000 + i * 1000 } : { predictedRtoMs: 30_000 + i * 1000 }),
  }));

const report = (overrides: Partial<DrillReport> = {}): DrillReport => ({
  drillId: 'drill-current',
  clusterId: 'hpc-1',
  mode: 'switchover',
  trigger: { kind: 'api', reference: 'req-1' },
  actor: 'alice',
  startedAt: T,
  endedAt: T + 95_000,
  result: 'failed',
  reasons: ['RTO 70000 ms is over the 60000 ms objective'],
  objectives: { rtoMs: 60_000, rpoMs: 5_000 },
  measured: { rtoMs: 70_000, rpoMs: 1200 },
  checks: [
    {
      name: 'standby-within-rpo',
      nodeId: 'head-b',
      outcome: 'ok',
      startedAt: T,
      durationMs: 40,
      detail: 'lag 1200 ms within the 5000 ms objective',
    },
    {
      name: 'agent-clock',
      nodeId: 'head-a',
      outcome: 'warn',
      startedAt: T + 40,
      durationMs: 3,
      detail: 'skew 800 ms',
    },
  ],
  legs: [
    {
      name: 'head-a → head-b',
      kind: 'make-active',
      operationId: 'make-active-1',
      from: 'head-a',
      to: 'head-b',
      status: 'succeeded',
      startedAt: T + 100,
      endedAt: T + 70_100,
      rtoMs: 70_000,
      rpoMs: 1200,
      steps: [
        { name: 'revoke epoch 3', outcome: 'ok', startedAt: T + 100, endedAt: T + 5_100, durationMs: 5000 },
        { name: 'promote head-b', outcome: 'ok', startedAt: T + 5_100, endedAt: T + 70_100 },
      ],
    },
  ],
  history: history(5),
  ...overrides,
});

const count = (html: string, pattern: RegExp) => (html.match(pattern) ?? []).length;

describe('renderDrillReportHtml', () => {
  it('is one complete HTML5 page with the facts, the result and its reasons', () => {
    const html = renderDrillReportHtml(report());
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('name="viewport"');
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    for (const text of [
      'hpc-1',
      'drill-current',
      'switchover',
      'api (req-1)',
      'alice',
      new Date(T).toISOString(),
    ])
      expect(html).toContain(text);
    expect(html).toContain('1 min 35 s'); // duration
    expect(html).toMatch(/class="big">FAILED</);
    expect(html).toContain('RTO 70000 ms is over the 60000 ms objective');
    expect(html).toContain('standby-within-rpo');
    expect(html).toContain('lag 1200 ms within the 5000 ms objective');
    expect(html).toContain('revoke epoch 3');
    expect(count(html, /class="bar /g)).toBe(2);
  });

  it.each(['passed', 'aborted', 'skipped'] as const)('shows %s big', (result) => {
    expect(renderDrillReportHtml(report({ result, reasons: [] }))).toContain(
      `class="big">${result.toUpperCase()}<`,
    );
  });

  it('escapes every text that comes from users', () => {
    const html = renderDrillReportHtml(
      report({
        actor: EVIL,
        trigger: { kind: 'api', reference: EVIL },
        reasons: [EVIL],
        checks: [{ ...report().checks[0]!, detail: EVIL }],
        legs: [{ ...report().legs[0]!, name: EVIL, steps: [{ ...report().legs[0]!.steps[0]!, name: EVIL }] }],
        history: [{ ...history(1)[0]!, drillId: `x" onload="alert(1)` }],
        measured: { predictedRtoMs: 1000, predictedRtoParts: [{ name: EVIL, ms: 1000 }] },
      }),
    );
    expect(html).not.toContain('<script');
    expect(html).not.toContain('onload="');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;&quot;');
    expect(html).toContain('data-drill-id="x&quot; onload=&quot;alert(1)"');
  });

  it('draws one trend point per earlier drill plus the current one, each with its drill id', () => {
    const html = renderDrillReportHtml(report());
    expect(count(html, /class="trend-point[ "]/g)).toBe(6);
    for (const p of history(5)) expect(html).toContain(`data-drill-id="${p.drillId}"`);
    expect(html).toMatch(/class="trend-point[^"]*current[^"]*" data-drill-id="drill-current"/);
    // Validate drills (predicted RTO) are drawn hollow.
    expect(count(html, /class="trend-point[^"]*predicted/g)).toBe(2);
    expect(count(renderDrillReportHtml(report({ history: [] })), /class="trend-point[ "]/g)).toBe(1);
    expect(count(renderDrillReportHtml(report({ history: history(50) })), /class="trend-point[ "]/g)).toBe(
      51,
    );
  });

  it('draws the current drill once even when the history holds it, and no NaN for odd figures', () => {
    const html = renderDrillReportHtml(
      report({
        history: [
          ...history(2),
          { drillId: 'drill-current', startedAt: T, mode: 'switchover', result: 'failed', rtoMs: 70_000 },
          {
            drillId: 'drill-odd',
            startedAt: T - 1000,
            mode: 'switchover',
            result: 'passed',
            rtoMs: Number.NaN,
          },
        ],
      }),
    );
    expect(count(html, /class="trend-point[ "]/g)).toBe(4);
    expect(count(html, /data-drill-id="drill-current"/g)).toBe(1);
    expect(html).not.toContain('NaN');
  });

  it('draws a point even for a drill without an RTO (aborted), on the axis', () => {
    const html = renderDrillReportHtml(
      report({ result: 'aborted', measured: {}, history: [{ ...history(1)[0]!, rtoMs: undefined }] }),
    );
    expect(count(html, /class="trend-point[^"]*none/g)).toBe(2);
  });

  it('draws the objective as a horizontal line with its label, and labels the axes', () => {
    const html = renderDrillReportHtml(report());
    const line = /<line class="objective-line" x1="([\d.]+)" x2="([\d.]+)" y1="([\d.]+)" y2="([\d.]+)"/.exec(
      html,
    );
    expect(line).not.toBeNull();
    expect(line![3]).toBe(line![4]);
    expect(Number(line![2])).toBeGreaterThan(Number(line![1]));
    expect(html).toContain('objective 1 min 00 s');
    expect(html).toContain('drill start (UTC)');
    expect(html).toMatch(/class="axis-label"[^>]*>RTO \(s\)</);
    // The objective sits at its height: above it a point over it, below one under it.
    const yOf = (id: string) =>
      Number(
        new RegExp(`data-drill-id="${id}"><title>[^<]*</title><circle cx="[\\d.]+" cy="([\\d.]+)"`).exec(
          html,
        )![1],
      );
    expect(yOf('drill-current')).toBeLessThan(Number(line![3])); // 70 s, over the objective (SVG y grows down)
    expect(yOf('drill-h0')).toBeGreaterThan(Number(line![3])); // 20 s
  });

  it('shows the predicted RTO and its parts for a validate drill', () => {
    const html = renderDrillReportHtml(
      report({
        mode: 'validate',
        legs: [],
        measured: {
          predictedRtoMs: 45_000,
          predictedRtoParts: [
            { name: 'detection window', ms: 30_000 },
            { name: 'fence (power-off)', ms: 15_000 },
          ],
        },
      }),
    );
    expect(html).toContain('Predicted RTO');
    expect(html).toContain('45.0 s');
    expect(html).toContain('detection window');
    expect(html).toContain('fence (power-off)');
    expect(html).toMatch(/class="trend-point[^"]*predicted[^"]*current/);
  });

  it('references nothing outside the page: no URLs, no external sources, no scripts', () => {
    const html = renderDrillReportHtml(report());
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/@import|url\(/i);
    for (const m of html.matchAll(/\s(?:src|href)="([^"]*)"/gi)) expect(m[1]).toMatch(/^data:/);
    expect(html).toMatch(/<style>/);
    expect(html).toMatch(/<svg class="trend-chart"/);
    expect(html).toMatch(/@media print/);
    expect(html).toMatch(/@media \(max-width/);
  });
});
