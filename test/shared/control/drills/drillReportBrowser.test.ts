import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderDrillReportHtml } from '../../../../shared/control/drills/renderDrillReportHtml';
import type { DrillHistoryPoint, DrillReport } from '../../../../shared/domain/drills';

/**
 * The drill report in a real browser: Debian's chromium (never a downloaded one), driven by puppeteer-core. Jest
 * runs the tests as CommonJS and puppeteer-core is an ES module, so a small driver runs in a Node child process and
 * answers what it saw as JSON.
 */
const CHROMIUM = '/usr/bin/chromium';
const T = Date.UTC(2031, 5, 1, 2, 0, 0);

const history: DrillHistoryPoint[] = Array.from({ length: 5 }, (_, i) => ({
  drillId: `drill-earlier-${i}`,
  startedAt: T - (5 - i) * 7 * 86_400_000,
  mode: i % 2 === 0 ? 'switchover' : 'validate',
  result: i === 3 ? 'failed' : 'passed',
  ...(i % 2 === 0 ? { rtoMs: 25_000 + i * 4_000 } : { predictedRtoMs: 40_000 + i * 3_000 }),
}));

const report: DrillReport = {
  drillId: 'drill-current',
  clusterId: 'hpc-production-west-europe-cluster-with-a-long-name',
  mode: 'switchover',
  trigger: { kind: 'schedule', reference: new Date(T).toISOString() },
  actor: 'schedule <robot> & "friends"',
  startedAt: T,
  endedAt: T + 140_000,
  result: 'failed',
  reasons: [
    'RTO 65000 ms is over the 60000 ms objective',
    'agent-clock (head-b): skew 1500 ms over the 1000 ms tolerance — a-very-long-unbroken-token-'.padEnd(
      300,
      'x',
    ),
  ],
  objectives: { rtoMs: 60_000, rpoMs: 5_000 },
  measured: { rtoMs: 65_000, rpoMs: 800 },
  checks: [
    {
      name: 'witness-writable',
      outcome: 'ok',
      startedAt: T,
      durationMs: 120,
      detail: 'wrote and read back the witness',
    },
    {
      name: 'agent-clock',
      nodeId: 'head-b',
      outcome: 'failed',
      startedAt: T + 120,
      durationMs: 4,
      detail: 'skew 1500 ms over the 1000 ms tolerance <b>not bold</b>',
    },
  ],
  legs: ['head-a → head-b', 'head-b → head-a'].map((name, i) => ({
    name,
    kind: 'make-active' as const,
    operationId: `make-active-${i}`,
    from: i === 0 ? 'head-a' : 'head-b',
    to: i === 0 ? 'head-b' : 'head-a',
    status: 'succeeded',
    startedAt: T + 1_000 + i * 70_000,
    endedAt: T + 66_000 + i * 70_000,
    rtoMs: 65_000 - i * 10_000,
    rpoMs: 800,
    steps: [
      {
        name: 'revoke the epoch',
        outcome: 'ok' as const,
        startedAt: T + 1_000 + i * 70_000,
        durationMs: 2_000,
      },
      {
        name: 'stop the old active and promote the target',
        outcome: 'ok' as const,
        startedAt: T + 3_000 + i * 70_000,
        endedAt: T + 66_000 + i * 70_000,
      },
    ],
  })),
  history,
};

/** The driver: opens the page at each viewport and reports what it measured (ESM, run by `node --input-type=module`). */
const DRIVER = `
const [moduleUrl, executablePath, pageUrl, shotDir] = process.argv.slice(1);
const { default: puppeteer } = await import(moduleUrl);
const browser = await puppeteer.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
});
const errors = [];
const requests = [];
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('pageerror', (e) => errors.push('page: ' + String(e && e.message || e)));
  page.on('requestfailed', (r) => errors.push('request failed: ' + r.url()));
  page.on('request', (r) => requests.push(r.url()));
  const views = [];
  for (const [width, height] of [[1280, 800], [390, 844]]) {
    await page.setViewport({ width, height });
    await page.goto(pageUrl, { waitUntil: 'load' });
    const seen = await page.evaluate(() => {
      const svg = document.querySelector('svg.trend-chart');
      const box = svg ? svg.getBoundingClientRect() : null;
      const points = [...document.querySelectorAll('.trend-point')].map((p) => {
        const b = p.getBoundingClientRect();
        return { id: p.getAttribute('data-drill-id'), width: b.width, height: b.height };
      });
      return {
        innerWidth: window.innerWidth,
        scrollWidth: document.documentElement.scrollWidth,
        bodyScrollWidth: document.body.scrollWidth,
        svg: box ? { width: box.width, height: box.height } : null,
        points,
        big: document.querySelector('.verdict .big')?.textContent ?? null,
        title: document.title,
      };
    });
    const shot = shotDir + '/report-' + width + 'x' + height + '.png';
    await page.screenshot({ path: shot });
    views.push({ width, height, shot, ...seen });
  }
  process.stdout.write(JSON.stringify({ errors, requests, views }));
} finally {
  await browser.close();
}
`;

interface View {
  width: number;
  height: number;
  shot: string;
  innerWidth: number;
  scrollWidth: number;
  bodyScrollWidth: number;
  svg: { width: number; height: number } | null;
  points: { id: string | null; width: number; height: number }[];
  big: string | null;
  title: string;
}

function drive(
  pageUrl: string,
  shotDir: string,
): Promise<{ errors: string[]; requests: string[]; views: View[] }> {
  const moduleUrl = pathToFileURL(require.resolve('puppeteer-core')).href;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', DRIVER, moduleUrl, CHROMIUM, pageUrl, shotDir],
      { timeout: 50_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: '1' } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`the browser driver failed: ${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as { errors: string[]; requests: string[]; views: View[] });
      },
    );
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'drill-report-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

it('opens in headless chromium without errors, with one trend point per earlier drill plus this one, and fits a desktop and a phone', async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (sudo apt-get install -y chromium) to run the browser tests`,
    );
  const file = join(dir, 'report.html');
  writeFileSync(file, renderDrillReportHtml(report), 'utf8');
  const seen = await drive(pathToFileURL(file).href, dir);

  expect(seen.errors).toEqual([]);
  // Nothing but the page itself (and its inline data: icon) was requested.
  expect(seen.requests.filter((url) => url !== pathToFileURL(file).href && !url.startsWith('data:'))).toEqual(
    [],
  );
  expect(seen.views).toHaveLength(2);
  for (const view of seen.views) {
    expect(view.big).toBe('FAILED');
    expect(view.title).toContain('drill-current');
    expect(view.points.map((p) => p.id)).toEqual([...history.map((h) => h.drillId), 'drill-current']);
    expect(view.points).toHaveLength(6);
    for (const p of view.points) {
      expect(p.width).toBeGreaterThan(0);
      expect(p.height).toBeGreaterThan(0);
    }
    expect(view.svg).not.toBeNull();
    expect(view.svg!.width).toBeGreaterThan(view.width / 2);
    expect(view.svg!.height).toBeGreaterThan(100);
    // No horizontal overflow: the page is as wide as the viewport.
    expect(view.scrollWidth).toBeLessThanOrEqual(view.innerWidth);
    expect(view.bodyScrollWidth).toBeLessThanOrEqual(view.innerWidth);
    expect(readFileSync(view.shot).subarray(1, 4).toString('latin1')).toBe('PNG');
  }
});
