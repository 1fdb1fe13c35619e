import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { putArmScaleSet } from '../../devhost/cloudSimulator/armResources';
import {
  LOCAL_AZURE_SUBSCRIPTION,
  LOCAL_OCI_COMPARTMENT,
} from '../../devhost/cloudSimulator/startLocalCloud';
import { paths } from '../../shared/contracts/routes';
import { activeUnder, FAST } from '../e2e/e2eSupport';
import { root } from '../helpers/controlPlane';
import { request } from '../helpers/durableHttp';
import { startLocalStack, type LocalStack, type StackAgent } from '../helpers/localStack';
import { launchBrowser, type Browser, type BrowserPage } from './browser';

/**
 * The operator portal in real headless Chromium against the local stack (the app in a devhost with its emulated App
 * Service Authentication, the cloud simulator, real agent processes): signing in as each role, make-active through
 * the confirmation screen with its steps live, a refused make-active, the drills page with its chart, pools, and no
 * console error on any page. Screenshots go to $PORTAL_SCREENSHOTS (docs/screenshots to refresh the committed ones),
 * else to a temporary directory.
 */

const USERS = {
  viewer: 'viewer@example.test',
  operator: 'operator@example.test',
  admin: 'admin@example.test',
};
const GPU = 'Standard_NC24ads_A100_v4';
const A10 = 'VM.GPU.A10.1';

let stack: LocalStack;
let browser: Browser;
let shots: string;
let keepShots = false;
const agents: Record<string, StackAgent> = {};

const portal = (hash = '#/') => `${stack.url}${paths.portal()}/${hash}`;

async function signedIn(user: string, hash = '#/'): Promise<BrowserPage> {
  const page = await browser.newPage();
  await page.goto(
    `${stack.url}/.auth/login?post_login_redirect_uri=${encodeURIComponent(`${paths.portal()}/${hash}`)}`,
  );
  await page.clickAndNavigate(`button[value="${user}"]`);
  await page.waitFor(`document.querySelector('#user')?.textContent === ${JSON.stringify(user)}`);
  return page;
}

/** Navigates within the portal (no reload) and waits for `ready`. */
async function open(page: BrowserPage, hash: string, ready: string): Promise<void> {
  await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
  await page.waitFor(ready);
}

/** The page's errors but for the expected refusal `status` of `method url…` (and the browser's console note of it). */
const unexpectedErrors = async (page: BrowserPage, status: number, method: string, urlEnd: string) =>
  (await page.errors()).filter(
    (e) =>
      !e.startsWith(`console: Failed to load resource: the server responded with a status of ${status}`) &&
      !(e.startsWith(`response: ${status} ${method} `) && e.endsWith(urlEnd)),
  );

const actionsOnPage = (page: BrowserPage) =>
  page.evaluate<string[]>(
    `[...document.querySelectorAll('[data-action]')].map((e) => e.dataset.action).sort()`,
  );

async function shot(page: BrowserPage, name: string): Promise<void> {
  const file = path.join(shots, `${name}.png`);
  await page.screenshot(file);
  const png = readFileSync(file);
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  // The IHDR chunk: width and height of what was captured (the viewport).
  expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1280, 800]);
}

/** The pool cluster: three sites with room for 2, 1 and 0 nodes, so a demand of 5 leaves a shortfall. */
async function declarePoolCluster(id: string): Promise<void> {
  const model = stack.cp.host.cloud!.simulator.model;
  const room = (cloud: 'azure' | 'oci', region: string, size: string, nodes: number) => {
    const site = model.site(cloud, region)!;
    const s = model.sizes.get(size)!;
    const use = model.quotaUse(site);
    site.quotas[s.family] = { limit: (use[s.family]?.used ?? 0) + nodes * s.cores };
    if (site.quotas.cores) site.quotas.cores = { limit: (use.cores?.used ?? 0) + 10_000 };
    site.capacity[size] = nodes;
  };
  const scaleSet = (name: string, region: string) =>
    putArmScaleSet(model, {
      subscriptionId: LOCAL_AZURE_SUBSCRIPTION,
      resourceGroup: 'hpc-demo',
      name,
      region,
      size: GPU,
      instances: 0,
    }).id;
  room('azure', 'westeurope', GPU, 2);
  room('azure', 'northeurope', GPU, 1);
  room('oci', 'eu-frankfurt-1', A10, 0);
  await stack.declare({
    id,
    kind: 'active-passive',
    nodes: [
      { id: 'head-a', role: 'active', site: { cloud: 'on-prem', region: 'hall-1' } },
      { id: 'head-b', role: 'standby', site: { cloud: 'on-prem', region: 'hall-2' }, priority: 10 },
    ],
    detection: FAST,
    pools: [
      {
        id: 'gpu',
        desired: 0,
        sites: [
          {
            id: 'we',
            cloud: 'azure',
            region: 'westeurope',
            size: GPU,
            group: scaleSet(`${id}-we`, 'westeurope'),
          },
          {
            id: 'ne',
            cloud: 'azure',
            region: 'northeurope',
            size: GPU,
            group: scaleSet(`${id}-ne`, 'northeurope'),
          },
          {
            id: 'fra',
            cloud: 'oci',
            region: 'eu-frankfurt-1',
            zone: 'SIM:EU-FRANKFURT-1-AD-1',
            size: A10,
            group: LOCAL_OCI_COMPARTMENT,
          },
        ],
      },
    ],
  });
}

beforeAll(async () => {
  keepShots = Boolean(process.env.PORTAL_SCREENSHOTS);
  shots = keepShots
    ? path.resolve(root, process.env.PORTAL_SCREENSHOTS as string)
    : mkdtempSync(path.join(tmpdir(), 'portal-shots-'));
  mkdirSync(shots, { recursive: true });
  stack = await startLocalStack({ env: { AUTH_TRUST_CLIENT_PRINCIPAL: 'true' } });
  browser = launchBrowser();
  await stack.declarePair('hpc-west', {
    detection: FAST,
    failover: { rpoObjectiveMs: 5000, rtoObjectiveMs: 30_000 },
  });
  agents.a = stack.startAgent('hpc-west', 'head-a', { replicationLagMs: 0 });
  agents.b = stack.startAgent('hpc-west', 'head-b', { replicationLagMs: 40, promoteSleepMs: 1500 });
  await stack.declarePair('lagging', { detection: FAST, failover: { rpoObjectiveMs: 1000 } });
  agents.la = stack.startAgent('lagging', 'head-a', { replicationLagMs: 0 });
  agents.lb = stack.startAgent('lagging', 'head-b', { replicationLagMs: 0 });
  await stack.declarePair('flaky', { detection: FAST });
  agents.xa = stack.startAgent('flaky', 'head-a');
  agents.xb = stack.startAgent('flaky', 'head-b', { promoteExitCode: 1 });
  await declarePoolCluster('gpu-farm');
  agents.fa = stack.startAgent('gpu-farm', 'head-a');
  agents.fb = stack.startAgent('gpu-farm', 'head-b');
  await activeUnder(stack, 'hpc-west', 'head-a', 1, ['head-b']);
  await activeUnder(stack, 'lagging', 'head-a', 1, ['head-b']);
  await activeUnder(stack, 'gpu-farm', 'head-a', 1, ['head-b']);
  await activeUnder(stack, 'flaky', 'head-a', 1, ['head-b']);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (!keepShots && shots) rmSync(shots, { recursive: true, force: true });
});

it('offers only a sign-in link to someone not signed in, and the sign-in page leads back to the portal', async () => {
  const page = await browser.newPage();
  await page.goto(portal('#/c/hpc-west'));
  await page.waitFor(`document.querySelector('#sign-in')`);
  expect(await actionsOnPage(page)).toEqual([]);
  expect(await page.evaluate(`document.querySelector('main').textContent`)).toContain('Sign in');
  await page.click('#sign-in');
  await page.waitFor(`location.pathname === '/.auth/login'`);
  await page.clickAndNavigate(`button[value="${USERS.viewer}"]`);
  await page.waitFor(`document.querySelector('#active-node')?.textContent === 'head-a'`);
  expect(await page.evaluate(`location.hash`)).toBe('#/c/hpc-west');
  // Only the expected refusal: /.auth/me said "not signed in" (401) before the sign-in.
  expect(await unexpectedErrors(page, 401, 'GET', '/.auth/me')).toEqual([]);
  await page.close();
});

it('shows each role only the actions it allows: viewer none, operator make-active/failover/drills/demand, admin also the witness', async () => {
  const expected = {
    viewer: { cluster: [], drills: [], pool: [] },
    operator: {
      cluster: ['drill', 'failover', 'make-active'],
      drills: ['start-drill'],
      pool: ['set-demand'],
    },
    admin: {
      cluster: ['drill', 'failover', 'make-active', 'witness-break'],
      drills: ['start-drill'],
      pool: ['set-demand'],
    },
  };
  for (const role of ['viewer', 'operator', 'admin'] as const) {
    const page = await signedIn(USERS[role], '#/c/hpc-west');
    expect(await page.evaluate(`document.querySelector('#role').textContent`)).toBe(role);
    await page.waitFor(`document.querySelector('#active-node')?.textContent === 'head-a'`);
    expect(await actionsOnPage(page)).toEqual(expected[role].cluster);
    const tabs = await page.evaluate<string[]>(
      `[...document.querySelectorAll('nav.tabs li a')].map((a) => a.textContent)`,
    );
    expect(tabs.includes('Make active')).toBe(role !== 'viewer');
    await open(page, '#/c/hpc-west/drills', `document.querySelector('svg.trend-chart')`);
    expect(await actionsOnPage(page)).toEqual(expected[role].drills);
    await open(page, '#/c/gpu-farm/pools/gpu', `document.querySelector('#demand')`);
    expect(await actionsOnPage(page)).toEqual(expected[role].pool);
    if (role === 'viewer') {
      // The API still enforces: a viewer who forges the request is refused (and nothing in the UI sent one).
      const status = await page.evaluate<number>(
        `fetch('/api/v1/clusters/hpc-west/makeactive', {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({nodeId: 'head-b'})}).then((r) => r.status)`,
      );
      expect(status).toBe(403);
      expect(await unexpectedErrors(page, 403, 'POST', '/api/v1/clusters/hpc-west/makeactive')).toEqual([]);
    } else expect(await page.errors()).toEqual([]);
    await page.close();
  }
}, 120_000);

it('makes a node active through the confirmation screen and shows the steps live until done', async () => {
  const page = await signedIn(USERS.operator, '#/c/hpc-west/make-active');
  await stack.until(
    'head-b reporting its replication lag',
    () => stack.status('hpc-west'),
    (s) => s.nodes.find((n: { nodeId: string }) => n.nodeId === 'head-b')?.replicationLagMs === 40,
  );
  await page.waitFor(`document.querySelector('button[data-node="head-b"]')`);
  // Keyboard: the node buttons are buttons (focusable); choose with Enter.
  await page.evaluate(`document.querySelector('button[data-node="head-b"]').focus()`);
  await page.press('Enter');
  await page.waitFor(`document.querySelector('#plan')`);
  const plan = await page.evaluate<any>(`({
    canRun: document.querySelector('#plan').dataset.canRun,
    becomesActive: document.querySelector('#becomes-active').textContent,
    becomesPassive: document.querySelector('#becomes-passive').textContent,
    preconditions: [...document.querySelectorAll('[data-precondition]')].map((p) => [p.dataset.precondition, p.dataset.ok]),
    hooks: [...document.querySelectorAll('ol.hooks li')].map((li) => li.textContent),
    focused: document.activeElement?.id,
    confirmDisabled: document.querySelector('#confirm').disabled,
  })`);
  expect(plan).toMatchObject({
    canRun: 'true',
    becomesActive: 'head-b',
    becomesPassive: 'head-a',
    focused: 'confirm',
    confirmDisabled: false,
  });
  expect(plan.preconditions).toContainEqual(['replication-lag-within-rpo', 'true']);
  expect(plan.preconditions.every(([, ok]: [string, string]) => ok === 'true')).toBe(true);
  expect(plan.hooks[0]).toMatch(/^head-a: demote/);
  expect(plan.hooks[1]).toMatch(/^head-b: promote/);
  // Nothing happened yet.
  expect((await stack.operations('hpc-west')).filter((o) => o.kind === 'make-active')).toEqual([]);
  await shot(page, 'make-active-confirm');

  // Watch the status the page shows change without a reload.
  await page.evaluate(`(() => {
    window.__seen = [];
    window.__sameDocument = true;
    new MutationObserver(() => {
      const status = document.querySelector('#operation-status')?.dataset.status;
      const steps = document.querySelectorAll('li.step').length;
      const last = window.__seen[window.__seen.length - 1];
      if (status && (!last || last.status !== status || last.steps !== steps)) window.__seen.push({ status, steps });
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  })()`);
  await page.press('Enter'); // the focused Confirm button
  await page.waitFor(
    `document.querySelector('#operation-status')?.dataset.status === 'running' && document.querySelectorAll('li.step').length >= 2`,
    20_000,
  );
  await shot(page, 'make-active-progress');
  await page.waitFor(`document.querySelector('#operation-status')?.dataset.status === 'succeeded'`, 40_000);
  const seen = await page.evaluate<{ status: string; steps: number }[]>('window.__seen');
  expect(await page.evaluate('window.__sameDocument')).toBe(true);
  expect(seen[0]?.status).toMatch(/^(pending|running)$/);
  expect(seen[seen.length - 1]?.status).toBe('succeeded');
  // The step count grew while the page watched: the steps arrived live.
  expect(new Set(seen.map((s) => s.steps)).size).toBeGreaterThan(2);
  const steps = await page.evaluate<any[]>(
    `[...document.querySelectorAll('li.step')].map((li) => ({ id: li.dataset.stepId, outcome: li.dataset.outcome, took: li.querySelector('.step-duration').textContent }))`,
  );
  // The operation's steps (in the order the API lists them, which may interleave an acknowledgement). The epoch it
  // started from is 1 unless head-a's lease lapsed on a loaded machine before (it is then reaffirmed under 2).
  const from = Number(steps.find((s) => String(s.id).startsWith('revoke-'))?.id.slice('revoke-'.length));
  expect([1, 2]).toContain(from);
  const to = from + 1;
  expect(steps.map((s) => s.id).sort()).toEqual(
    [
      `revoke-${from}`,
      `demote-head-a-${from}`,
      `ack-head-a-demote-${from}`,
      `fenced-head-a-${from}`,
      `promote-head-b-${to}`,
      `ack-head-b-promote-${to}`,
      `verify-head-b-${to}`,
    ].sort(),
  );
  for (const s of steps) {
    expect(s.outcome).toBe('ok');
    expect(s.took).toMatch(/^\d+(\.\d)? (ms|s)$/);
  }
  // head-b's promote hook took 1.5 s: its acknowledged step says so.
  expect(steps.find((s) => s.id === `ack-head-b-promote-${to}`).took).toMatch(/^[1-9]\.\d s$/);
  await shot(page, 'make-active-done');
  await activeUnder(stack, 'hpc-west', 'head-b', to, ['head-a']);
  const operation = (await stack.operations('hpc-west')).find((o) => o.kind === 'make-active');
  expect(operation).toMatchObject({
    status: 'succeeded',
    actor: expect.stringMatching(/^user:operator@example\.test/),
  });
  expect(await page.errors()).toEqual([]);
  await page.close();
}, 120_000);

it('shows why a make-active is refused: blockers on the confirmation screen, and the API refusal when it changes meanwhile', async () => {
  const page = await signedIn(USERS.operator, '#/c/lagging/make-active');
  await page.waitFor(`document.querySelector('button[data-node="head-b"]')`);
  await page.click('button[data-node="head-b"]');
  await page.waitFor(`document.querySelector('#plan')?.dataset.canRun === 'true'`);
  // The standby falls behind while the operator reads the plan; the confirmation is then refused by the API.
  agents.lb!.setReplicationLag(4500);
  await stack.until(
    'head-b reporting its lag',
    () => stack.status('lagging'),
    (s) => s.nodes.find((n: { nodeId: string }) => n.nodeId === 'head-b')?.replicationLagMs === 4500,
  );
  await page.click('#confirm');
  await page.waitFor(`document.querySelector('#refusal')`);
  const refusal = await page.evaluate<any>(`({
    code: document.querySelector('#refusal').dataset.code,
    text: document.querySelector('#refusal').textContent,
    blockers: [...document.querySelectorAll('#refusal [data-blocker]')].map((b) => b.dataset.blocker),
  })`);
  expect(refusal.code).toBe('PreconditionsNotMet');
  expect(refusal.blockers).toEqual(['replication-lag-within-rpo']);
  expect(refusal.text).toMatch(/replication-lag-within-rpo — head-b lags 4500 ms/);
  // The plan as it is now replaces the one shown: the blocker, and Confirm cannot be pressed.
  const checkBlocked = async () => {
    await page.waitFor(`document.querySelector('#plan')?.dataset.canRun === 'false'`);
    const blocked = await page.evaluate<any>(`({
      blockers: document.querySelector('#blockers').textContent,
      disabled: document.querySelector('#confirm').disabled,
      failing: [...document.querySelectorAll('[data-precondition][data-ok="false"]')].map((p) => p.dataset.precondition),
      plans: document.querySelectorAll('#plan').length,
    })`);
    expect(blocked).toEqual({
      blockers: 'replication-lag-within-rpo',
      disabled: true,
      failing: ['replication-lag-within-rpo'],
      plans: 1,
    });
  };
  await checkBlocked();
  await shot(page, 'make-active-refused');

  // Asking again shows the same.
  await page.click('button[data-node="head-b"]');
  await page.waitFor(`!document.querySelector('#refusal')`);
  await checkBlocked();
  // Nothing changed.
  expect(await stack.status('lagging')).toMatchObject({ epoch: 1, activeNodeId: 'head-a' });
  expect(agents.lb!.runs('promote')).toEqual([]);
  // The only console errors are the browser's notes of the 409 refusal.
  expect(await unexpectedErrors(page, 409, 'POST', '/api/v1/clusters/lagging/makeactive')).toEqual([]);
  await page.close();
}, 90_000);

it('shows the roll-back when the target cannot take over', async () => {
  const page = await signedIn(USERS.operator, '#/c/flaky/make-active');
  await page.waitFor(`document.querySelector('button[data-node="head-b"]')`);
  await page.click('button[data-node="head-b"]');
  await page.waitFor(`document.querySelector('#plan')?.dataset.canRun === 'true'`);
  await page.click('#confirm');
  await page.waitFor(`document.querySelector('#operation-status')?.dataset.status === 'failed'`, 60_000);
  const seen = await page.evaluate<any>(`({
    reason: document.querySelector('#operation-status .reason')?.textContent,
    rollBack: [...document.querySelectorAll('li.step')].filter((li) => li.dataset.stepId.startsWith('roll-back-')).map((li) => li.dataset.outcome),
  })`);
  expect(seen.reason).toMatch(/^rolled back: head-a is active again under epoch \d+/);
  expect(seen.rollBack).toEqual(['warn']);
  await shot(page, 'make-active-rolled-back');
  expect(agents.xb!.runs('promote')).toEqual([expect.objectContaining({ epoch: 2 })]);
  expect(await page.errors()).toEqual([]);
  await page.close();
}, 120_000);

it('starts a drill from the drills page and shows its report and the RTO trend chart against the objective', async () => {
  // Two earlier drills through the API, one through the page.
  for (let i = 0; i < 2; i++) {
    const r = await request(`${stack.url}${paths.drills('hpc-west')}`, {
      method: 'POST',
      key: stack.cp.adminKey,
      body: { mode: 'validate' },
    });
    expect(r.status).toBe(202);
    await stack.ended('hpc-west', String(r.json.operationUrl).split('/').pop() as string, 60_000);
  }
  const page = await signedIn(USERS.operator, '#/c/hpc-west/drills');
  await page.waitFor(`document.querySelectorAll('tr[data-drill]').length === 2`);
  await page.select('#drill-mode', 'validate');
  await page.click('#drill-form button[type="submit"]');
  await page.waitFor(`document.querySelector('#drill-started a')`);
  await page.waitFor(`document.querySelectorAll('tr[data-drill]').length === 3`, 60_000);
  const seen = await page.evaluate<any>(`(() => {
    const svg = document.querySelector('svg.trend-chart');
    const box = svg.getBoundingClientRect();
    return {
      rows: [...document.querySelectorAll('tr[data-drill]')].map((r) => r.dataset.drill),
      points: [...document.querySelectorAll('.trend-point')].map((p) => p.dataset.drillId),
      objective: svg.querySelector('.objective text')?.textContent,
      svg: { width: box.width, height: box.height },
      results: [...document.querySelectorAll('tr[data-drill] td:nth-child(3)')].map((td) => td.textContent),
    };
  })()`);
  expect(seen.points).toHaveLength(3);
  expect([...seen.points].sort()).toEqual([...seen.rows].sort());
  expect(seen.objective).toBe('objective 30.0 s');
  expect(seen.svg.width).toBeGreaterThan(600);
  expect(seen.svg.height).toBeGreaterThan(150);
  for (const result of seen.results) expect(['passed', 'failed']).toContain(result);
  await shot(page, 'drills');
  // The report link opens the drill's HTML report.
  await page.clickAndNavigate('tr[data-drill] a');
  await page.waitFor(`document.querySelector('svg.trend-chart') && document.title.includes('drill')`);
  expect(await page.errors()).toEqual([]);
  await page.close();
}, 180_000);

it('shows a pool: placements per site, headroom, cool-downs and the shortfall after a demand set on the page', async () => {
  const page = await signedIn(USERS.operator, '#/c/gpu-farm/pools/gpu');
  await page.waitFor(`document.querySelector('#demand')`);
  await page.type('#desired', '5');
  await page.click('#demand-form button[type="submit"]');
  await page.waitFor(`document.querySelector('#demand-result a')`);
  await page.waitFor(
    `document.querySelector('#demand')?.textContent.startsWith('5 ') && document.querySelectorAll('li.cell').length === 3 && document.querySelector('#shortfall')?.textContent === '2 short'`,
    60_000,
  );
  const sites = await page.evaluate<any[]>(
    `[...document.querySelectorAll('article.site')].map((a) => ({ id: a.dataset.site, cells: a.querySelectorAll('li.cell').length, text: a.textContent }))`,
  );
  expect(sites.map((s) => [s.id, s.cells])).toEqual([
    ['we', 2],
    ['ne', 1],
    ['fra', 0],
  ]);
  expect(sites[0].text).toContain('headroom: quota');
  await shot(page, 'pool');
  expect(await page.errors()).toEqual([]);
  await page.close();
}, 120_000);

it('renders every page without a console error, fits a phone, and is usable by keyboard', async () => {
  const page = await signedIn(USERS.admin);
  const opId = (await stack.operations('hpc-west')).find((o) => o.kind === 'make-active')
    ?.operationId as string;
  const pages: [string, string, string | null][] = [
    ['#/', `document.querySelector('tr[data-cluster="hpc-west"] td')?.textContent === 'head-b'`, 'clusters'],
    ['#/c/hpc-west', `document.querySelector('#active-node')?.textContent === 'head-b'`, 'cluster'],
    ['#/c/hpc-west/make-active', `document.querySelector('button[data-node]')`, null],
    ['#/c/hpc-west/failover', `document.querySelector('#failover-target option[value="head-a"]')`, null],
    ['#/c/hpc-west/operations', `document.querySelector('tr[data-operation]')`, 'operations'],
    [
      `#/c/hpc-west/operations/${opId}`,
      `document.querySelector('#operation-status')?.dataset.status === 'succeeded'`,
      'operation',
    ],
    ['#/c/hpc-west/audit', `document.querySelector('tr[data-action-name]')`, 'audit'],
    ['#/c/hpc-west/drills', `document.querySelector('.trend-point')`, null],
    ['#/c/gpu-farm/pools/gpu', `document.querySelector('article.site')`, null],
  ];
  for (const [hash, ready, name] of pages) {
    await page.viewport(1280, 800);
    await open(page, hash, ready);
    if (name) await shot(page, name);
    await page.viewport(390, 844);
    await page.waitFor(ready);
    const fits = await page.evaluate<any>(
      `({ inner: window.innerWidth, scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth })`,
    );
    expect({ hash, ...fits, fits: fits.scroll <= fits.inner && fits.body <= fits.inner }).toMatchObject({
      fits: true,
    });
  }
  await page.viewport(1280, 800);
  // Keyboard: Tab reaches the skip link first, then the links and buttons, each with a visible focus outline.
  await open(page, '#/c/hpc-west', `document.querySelector('#active-node')`);
  await page.evaluate(`document.activeElement?.blur()`);
  const focused: { tag: string; outline: string }[] = [];
  for (let i = 0; i < 6; i++) {
    await page.press('Tab');
    focused.push(
      await page.evaluate(
        `({ tag: document.activeElement.tagName, outline: getComputedStyle(document.activeElement).outlineStyle })`,
      ),
    );
  }
  expect(focused.every((f) => ['A', 'BUTTON', 'INPUT', 'SELECT'].includes(f.tag))).toBe(true);
  expect(focused.every((f) => f.outline !== 'none')).toBe(true);
  expect(await page.errors()).toEqual([]);
  // Nothing came from another origin.
  const requests = await page.requests();
  expect(requests.filter((u) => !u.startsWith(stack.url) && !u.startsWith('data:'))).toEqual([]);
  await page.close();
}, 180_000);
