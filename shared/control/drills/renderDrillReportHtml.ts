import type { DrillHistoryPoint, DrillLeg, DrillReport, DrillResult } from '../../domain/drills';

/**
 * A drill report as one self-contained HTML5 page: inline CSS and inline SVG only (no scripts, no fonts, nothing
 * fetched), so it can be stored as a blob, mailed or opened from disk. Every text is escaped: ids, details and reasons
 * come from users and agents. Readable on a desktop and a phone, and prints.
 */
export function renderDrillReportHtml(report: DrillReport): string {
  const title = `Drill ${report.drillId} of ${report.clusterId}: ${report.result.toUpperCase()}`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // An empty icon: the browser asks for nothing else.
    '<link rel="icon" href="data:,">',
    `<title>${esc(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<main>',
    header(report),
    verdict(report),
    figures(report),
    trend(report),
    checks(report),
    legs(report),
    `<footer>Drill report generated for ${esc(report.clusterId)} · ${esc(iso(report.endedAt))}</footer>`,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Escapes text for HTML content and attribute values. */
function esc(value: unknown): string {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

const iso = (ms: number | undefined): string =>
  ms !== undefined && Number.isFinite(ms) ? new Date(ms).toISOString() : '—';

/** `850 ms`, `12.3 s`, `2 min 05 s`. */
function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  if (Math.abs(ms) < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const totalSeconds = Math.round(ms / 1000);
  const minutes = Math.floor(totalSeconds / 60);
  if (minutes < 60) return `${minutes} min ${String(totalSeconds % 60).padStart(2, '0')} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

function header(r: DrillReport): string {
  const trigger = `${r.trigger.kind}${r.trigger.reference ? ` (${r.trigger.reference})` : ''}`;
  const rows: [string, string][] = [
    ['Cluster', r.clusterId],
    ['Drill', r.drillId],
    ['Mode', r.mode],
    ['Trigger', trigger],
    ['Actor', r.actor],
    ['Started', iso(r.startedAt)],
    ['Ended', iso(r.endedAt)],
    ['Duration', formatDuration(r.endedAt - r.startedAt)],
  ];
  return [
    '<header>',
    `<h1>DR drill <span class="id">${esc(r.drillId)}</span></h1>`,
    '<dl class="facts">',
    ...rows.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`),
    '</dl>',
    '</header>',
  ].join('\n');
}

function verdict(r: DrillReport): string {
  return [
    `<section class="verdict result-${esc(r.result)}" aria-label="result">`,
    `<p class="big">${esc(r.result.toUpperCase())}</p>`,
    r.reasons.length
      ? `<ul class="reasons">${r.reasons.map((reason) => `<li>${esc(reason)}</li>`).join('')}</ul>`
      : r.result === 'passed'
        ? '<p>Every check passed and every figure is within its objective.</p>'
        : '',
    '</section>',
  ].join('\n');
}

function figures(r: DrillReport): string {
  const judged = (value: number | undefined, objective: number) =>
    value === undefined ? '' : value <= objective ? ' class="ok"' : ' class="bad"';
  const rows = [
    `<tr><th scope="row">RTO</th><td>${esc(formatDuration(r.objectives.rtoMs))}</td>` +
      `<td${judged(r.measured.rtoMs, r.objectives.rtoMs)}>${esc(formatDuration(r.measured.rtoMs))}</td></tr>`,
    `<tr><th scope="row">RPO</th><td>${esc(formatDuration(r.objectives.rpoMs))}</td>` +
      `<td${judged(r.measured.rpoMs, r.objectives.rpoMs)}>${esc(formatDuration(r.measured.rpoMs))}</td></tr>`,
  ];
  if (r.measured.predictedRtoMs !== undefined)
    rows.push(
      `<tr><th scope="row">Predicted RTO</th><td>${esc(formatDuration(r.objectives.rtoMs))}</td>` +
        `<td${judged(r.measured.predictedRtoMs, r.objectives.rtoMs)}>` +
        `${esc(formatDuration(r.measured.predictedRtoMs))}</td></tr>`,
    );
  const parts = r.measured.predictedRtoParts ?? [];
  const total = parts.reduce((sum, p) => sum + Math.max(0, p.ms), 0);
  const partsHtml = parts.length
    ? [
        '<h3>How the predicted RTO adds up</h3>',
        '<div class="stack" aria-hidden="true">',
        ...parts.map(
          (p, i) => `<span class="part p${i % 5}" style="width:${pct(Math.max(0, p.ms), total)}%"></span>`,
        ),
        '</div>',
        '<div class="scroll"><table class="parts"><thead><tr><th>Part</th><th>Time</th></tr></thead><tbody>',
        ...parts.map(
          (p, i) =>
            `<tr><td><span class="swatch p${i % 5}"></span>${esc(p.name)}</td>` +
            `<td>${esc(formatDuration(p.ms))}</td></tr>`,
        ),
        `<tr class="total"><td>Total</td><td>${esc(formatDuration(total))}</td></tr>`,
        '</tbody></table></div>',
      ].join('\n')
    : '';
  return [
    '<section>',
    '<h2>Objectives and measurements</h2>',
    '<div class="scroll"><table class="figures">',
    '<thead><tr><th></th><th>Objective</th><th>Measured</th></tr></thead>',
    `<tbody>${rows.join('')}</tbody>`,
    '</table></div>',
    partsHtml,
    '</section>',
  ].join('\n');
}

function checks(r: DrillReport): string {
  if (r.checks.length === 0) return '<section><h2>Checks</h2><p>No checks ran.</p></section>';
  return [
    '<section>',
    '<h2>Checks</h2>',
    '<div class="scroll"><table class="checks">',
    '<thead><tr><th>Check</th><th>Node</th><th>Outcome</th><th>Duration</th><th>Detail</th></tr></thead>',
    '<tbody>',
    ...r.checks.map(
      (c) =>
        `<tr class="check outcome-${esc(c.outcome)}"><td class="name">${esc(c.name)}</td>` +
        `<td class="node">${esc(c.nodeId ?? '—')}</td>` +
        `<td class="outcome"><span class="badge outcome-${esc(c.outcome)}">${esc(c.outcome)}</span></td>` +
        `<td class="dur">${esc(formatDuration(c.durationMs))}</td><td class="detail">${esc(c.detail)}</td></tr>`,
    ),
    '</tbody></table></div>',
    '</section>',
  ].join('\n');
}

function legs(r: DrillReport): string {
  if (r.legs.length === 0)
    return r.mode === 'validate'
      ? ''
      : '<section><h2>Role changes</h2><p>No role change was made.</p></section>';
  return ['<section>', '<h2>Role changes</h2>', ...r.legs.map(leg), '</section>'].join('\n');
}

function leg(l: DrillLeg): string {
  const ends = l.steps.map(
    (s) => s.endedAt ?? (s.durationMs !== undefined ? s.startedAt + s.durationMs : s.startedAt),
  );
  const start = Math.min(l.startedAt, ...l.steps.map((s) => s.startedAt));
  const end = Math.max(l.endedAt ?? l.startedAt, ...ends, start + 1);
  const span = end - start;
  const fromTo = `${l.from ?? '—'} → ${l.to ?? '—'}`;
  return [
    `<article class="leg">`,
    `<h3>${esc(l.name)} <span class="badge status-${esc(l.status)}">${esc(l.status)}</span></h3>`,
    '<dl class="facts small">',
    `<div><dt>Kind</dt><dd>${esc(l.kind)}</dd></div>`,
    `<div><dt>Operation</dt><dd>${esc(l.operationId)}</dd></div>`,
    `<div><dt>From → to</dt><dd>${esc(fromTo)}</dd></div>`,
    `<div><dt>Started</dt><dd>${esc(iso(l.startedAt))}</dd></div>`,
    `<div><dt>RTO</dt><dd>${esc(formatDuration(l.rtoMs))}</dd></div>`,
    `<div><dt>RPO</dt><dd>${esc(formatDuration(l.rpoMs))}</dd></div>`,
    '</dl>',
    l.steps.length === 0
      ? '<p>No steps recorded.</p>'
      : [
          '<ol class="steps">',
          ...l.steps.map((s, i) => {
            const stepEnd = ends[i] ?? s.startedAt;
            const duration = s.durationMs ?? (s.endedAt !== undefined ? s.endedAt - s.startedAt : undefined);
            const left = pct(s.startedAt - start, span);
            const width = Math.max(0.5, Math.min(100 - left, pct(stepEnd - s.startedAt, span)));
            return (
              `<li class="step outcome-${esc(s.outcome)}"><div class="step-head"><span class="name">${esc(s.name)}</span>` +
              `<span class="badge outcome-${esc(s.outcome)}">${esc(s.outcome)}</span>` +
              `<span class="dur">${esc(formatDuration(duration))}</span></div>` +
              `<div class="track" aria-hidden="true"><span class="bar outcome-${esc(s.outcome)}" ` +
              `style="left:${left}%;width:${round(width)}%"></span></div></li>`
            );
          }),
          '</ol>',
        ].join('\n'),
    '</article>',
  ].join('\n');
}

const pct = (part: number, whole: number) =>
  whole > 0 ? round(Math.max(0, Math.min(100, (part / whole) * 100))) : 0;
const round = (n: number) => Math.round(n * 100) / 100;

interface TrendPoint {
  drillId: string;
  startedAt: number;
  result: DrillResult;
  ms: number | undefined;
  predicted: boolean;
  current: boolean;
}

const W = 720;
const H = 300;
const PAD = { left: 64, right: 16, top: 16, bottom: 48 };
/** Keeps the first and last points off the axes. */
const INSET = 20;

function trend(r: DrillReport): string {
  const point = (p: DrillHistoryPoint, current: boolean): TrendPoint => ({
    drillId: p.drillId,
    startedAt: p.startedAt,
    result: p.result,
    ms: finite(p.rtoMs) ?? finite(p.predictedRtoMs),
    predicted: finite(p.rtoMs) === undefined && finite(p.predictedRtoMs) !== undefined,
    current,
  });
  const points = [
    // Oldest first; the current drill once, even when the history given already holds it.
    ...[...r.history]
      .filter((p) => p.drillId !== r.drillId)
      .sort((a, b) => a.startedAt - b.startedAt)
      .map((p) => point(p, false)),
    point(
      {
        drillId: r.drillId,
        startedAt: r.startedAt,
        mode: r.mode,
        result: r.result,
        ...(r.measured.rtoMs !== undefined ? { rtoMs: r.measured.rtoMs } : {}),
        ...(r.measured.predictedRtoMs !== undefined ? { predictedRtoMs: r.measured.predictedRtoMs } : {}),
      },
      true,
    ),
  ].filter((p) => Number.isFinite(p.startedAt));
  const objective = r.objectives.rtoMs;
  const values = points.map((p) => p.ms).filter((v): v is number => v !== undefined && Number.isFinite(v));
  const yMax = niceCeil(Math.max(objective, ...values, 1) * 1.1);
  const times = points.map((p) => p.startedAt);
  const tMin = Math.min(...times);
  const tMax = Math.max(...times);
  const plotW = W - PAD.left - PAD.right;
  const innerW = plotW - 2 * INSET;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (t: number) =>
    round(PAD.left + INSET + (tMax === tMin ? innerW / 2 : ((t - tMin) / (tMax - tMin)) * innerW));
  const y = (ms: number) => round(PAD.top + plotH - (Math.max(0, ms) / yMax) * plotH);
  const baseline = PAD.top + plotH;

  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * yMax);
  const grid = yTicks
    .map(
      (v) =>
        `<line class="grid" x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v)}" y2="${y(v)}"></line>` +
        `<text class="tick" x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${esc(axisValue(v, yMax))}</text>`,
    )
    .join('');
  const xTickTimes = tMax === tMin ? [tMin] : [tMin, tMin + (tMax - tMin) / 2, tMax];
  const xTicks = xTickTimes
    .map((t, i) => {
      const anchor =
        xTickTimes.length === 1
          ? 'middle'
          : i === 0
            ? 'start'
            : i === xTickTimes.length - 1
              ? 'end'
              : 'middle';
      const label = new Date(t).toISOString().slice(0, 16).replace('T', ' ');
      const middle = i > 0 && i < xTickTimes.length - 1 ? ' middle' : '';
      return `<text class="tick${middle}" x="${x(t)}" y="${baseline + 20}" text-anchor="${anchor}">${esc(label)}</text>`;
    })
    .join('');
  const measuredLine = points.filter((p) => p.ms !== undefined);
  const path =
    measuredLine.length > 1
      ? `<polyline class="trend-line" points="${measuredLine.map((p) => `${x(p.startedAt)},${y(p.ms ?? 0)}`).join(' ')}"></polyline>`
      : '';
  const marks = points
    .map((p) => {
      const label =
        `${p.drillId} · ${iso(p.startedAt)} · ${p.result}` +
        (p.ms === undefined
          ? ' · no RTO'
          : ` · ${p.predicted ? 'predicted ' : ''}RTO ${formatDuration(p.ms)}`);
      const cls = `trend-point result-${p.result}${p.predicted ? ' predicted' : ''}${p.current ? ' current' : ''}${p.ms === undefined ? ' none' : ''}`;
      const cx = x(p.startedAt);
      const shape =
        p.ms === undefined
          ? `<path d="M${cx - 5},${baseline - 5} l10,10 m0,-10 l-10,10"></path>`
          : `<circle cx="${cx}" cy="${y(p.ms)}" r="${p.current ? 7 : 5}"></circle>`;
      return `<g class="${esc(cls)}" data-drill-id="${esc(p.drillId)}"><title>${esc(label)}</title>${shape}</g>`;
    })
    .join('');
  const objectiveY = y(objective);
  return [
    '<section>',
    '<h2>RTO trend</h2>',
    `<figure class="trend">`,
    `<svg class="trend-chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="RTO of the last ${points.length} drills against the ${esc(formatDuration(objective))} objective">`,
    grid,
    `<line class="axis" x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${baseline}"></line>`,
    `<line class="axis" x1="${PAD.left}" x2="${W - PAD.right}" y1="${baseline}" y2="${baseline}"></line>`,
    `<line class="objective-line" x1="${PAD.left}" x2="${W - PAD.right}" y1="${objectiveY}" y2="${objectiveY}"></line>`,
    `<text class="objective-label" x="${PAD.left + 6}" y="${objectiveY - 6}" text-anchor="start">objective ${esc(formatDuration(objective))}</text>`,
    xTicks,
    `<text class="axis-label" x="24" y="${PAD.top + plotH / 2}" transform="rotate(-90 24 ${PAD.top + plotH / 2})" text-anchor="middle">RTO${yMax >= 2000 ? ' (s)' : ' (ms)'}</text>`,
    `<text class="axis-label" x="${PAD.left + plotW / 2}" y="${H - 6}" text-anchor="middle">drill start (UTC)</text>`,
    path,
    marks,
    '</svg>',
    '<figcaption>Filled: measured RTO (switchover, failover); hollow: predicted RTO (validate); ✕: no RTO. ' +
      'Green passed, red failed, amber aborted; the large point is this drill.</figcaption>',
    '</figure>',
    '</section>',
  ].join('\n');
}

const finite = (ms: number | undefined) => (ms !== undefined && Number.isFinite(ms) ? ms : undefined);

/** A y-axis label: seconds (or milliseconds for a sub-2-second axis), without the unit (the axis names it). */
function axisValue(ms: number, yMax: number): string {
  return yMax >= 2000 ? `${round(ms / 1000)}` : `${Math.round(ms)}`;
}

/** A round number at or above `v` for the axis (1, 2, 2.5, 5 × 10^n). */
function niceCeil(v: number): number {
  const exp = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

const CSS = `
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--panel:#f6f8fa;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--skip:#6e7781}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1100px;margin:0 auto;padding:16px}
h1{font-size:1.5rem;margin:0 0 12px}
h2{font-size:1.2rem;margin:0 0 10px}
h3{font-size:1rem;margin:12px 0 8px}
.id,dd,li{overflow-wrap:anywhere}
td{overflow-wrap:break-word}
section{margin:16px 0;padding:16px;border:1px solid var(--line);border-radius:8px;break-inside:avoid}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:8px 16px;margin:0}
.facts div{min-width:0}
.facts dt{color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.04em}
.facts dd{margin:0;font-weight:600}
.facts.small{grid-template-columns:repeat(auto-fill,minmax(160px,1fr))}
.verdict{text-align:center;border-width:3px}
.verdict .big{font-size:2.6rem;font-weight:800;letter-spacing:.08em;margin:0}
.verdict .reasons{text-align:left;max-width:800px;margin:8px auto 0}
.result-passed.verdict{border-color:var(--ok);color:var(--ok)}
.result-failed.verdict{border-color:var(--bad);color:var(--bad)}
.result-aborted.verdict{border-color:var(--warn);color:var(--warn)}
.result-skipped.verdict{border-color:var(--skip);color:var(--skip)}
.verdict .reasons{color:var(--fg)}
.scroll{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
thead th{background:var(--panel);font-size:.85rem}
td.ok{color:var(--ok);font-weight:700}
td.bad{color:var(--bad);font-weight:700}
.detail{min-width:12em}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:.8rem;font-weight:700;background:var(--panel);border:1px solid var(--line)}
.badge.outcome-ok,.badge.status-succeeded{color:var(--ok);border-color:var(--ok)}
.badge.outcome-warn{color:var(--warn);border-color:var(--warn)}
.badge.outcome-failed,.badge.status-failed{color:var(--bad);border-color:var(--bad)}
.badge.outcome-skipped,.badge.outcome-running{color:var(--skip)}
.stack{display:flex;height:14px;border-radius:4px;overflow:hidden;margin:0 0 8px;background:var(--panel)}
.part,.swatch{display:inline-block}
.swatch{width:10px;height:10px;border-radius:2px;margin-right:6px}
.p0{background:#0969da}.p1{background:#8250df}.p2{background:#bf8700}.p3{background:#1a7f37}.p4{background:#cf222e}
tr.total td{font-weight:700}
.leg{padding:8px 0;border-top:1px solid var(--line)}
.leg:first-of-type{border-top:0}
.steps{list-style:none;margin:8px 0 0;padding:0}
.step{margin:6px 0}
.step-head{display:flex;flex-wrap:wrap;gap:4px 8px;align-items:baseline}
.step-head .name{flex:1 1 12em;min-width:0}
.step-head .dur{color:var(--muted);font-variant-numeric:tabular-nums}
.track{position:relative;height:8px;background:var(--panel);border-radius:4px;margin-top:3px}
.bar{position:absolute;top:0;bottom:0;border-radius:4px;background:#0969da}
.bar.outcome-ok{background:var(--ok)}.bar.outcome-warn{background:var(--warn)}.bar.outcome-failed{background:var(--bad)}.bar.outcome-skipped,.bar.outcome-running{background:var(--skip)}
.trend{margin:0}
.trend-chart{display:block;width:100%;height:auto;max-height:420px}
.trend-chart .grid{stroke:var(--line);stroke-width:1}
.trend-chart .axis{stroke:var(--muted);stroke-width:1.5}
.trend-chart .tick,.trend-chart .axis-label,.trend-chart .objective-label{fill:var(--muted);font-size:12px}
.trend-chart .axis-label{font-weight:700}
.trend-chart .objective-line{stroke:var(--bad);stroke-width:2;stroke-dasharray:8 5}
.trend-chart .objective-label{fill:var(--bad)}
.trend-chart .trend-line{fill:none;stroke:#8c959f;stroke-width:1.5}
.trend-point circle{stroke-width:2.5;stroke:currentColor;fill:currentColor}
.trend-point.predicted circle{fill:var(--bg)}
.trend-point path{stroke:currentColor;stroke-width:2.5}
.trend-point.result-passed{color:var(--ok)}
.trend-point.result-failed{color:var(--bad)}
.trend-point.result-aborted{color:var(--warn)}
.trend-point.result-skipped{color:var(--skip)}
.trend-point.current circle{stroke:var(--fg)}
figcaption{color:var(--muted);font-size:.85rem;margin-top:6px}
footer{color:var(--muted);font-size:.8rem;text-align:center;margin:16px 0}
@media (max-width:600px){
  body{font-size:14px}
  main{padding:8px}
  section{padding:10px;margin:10px 0}
  .verdict .big{font-size:2rem}
  th,td{padding:4px 5px}
  .detail{min-width:8em}
  .trend-chart .tick,.trend-chart .axis-label,.trend-chart .objective-label{font-size:24px}
  .trend-chart .tick.middle{display:none}
  .checks thead{display:none}
  .checks tr{display:grid;grid-template-columns:1fr auto auto;grid-template-areas:"name outcome dur" "node node node" "detail detail detail";gap:2px 8px;padding:6px 0;border-bottom:1px solid var(--line)}
  .checks td{border:0;padding:0}
  .checks td.name{grid-area:name;font-weight:700}
  .checks td.outcome{grid-area:outcome}
  .checks td.dur{grid-area:dur}
  .checks td.node{grid-area:node;color:var(--muted)}
  .checks td.node::before{content:"node "}
  .checks td.detail{grid-area:detail;min-width:0}
}
@media print{
  body{font-size:11pt}
  main{max-width:none;padding:0}
  section{border-color:#999;page-break-inside:avoid}
  .scroll{overflow:visible}
  .trend-chart{max-height:none}
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
`
  .trim()
  .replace(/\n/g, '');
