import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

/**
 * A real headless browser for the portal tests: Debian's chromium (never a downloaded one) driven by puppeteer-core.
 * Jest runs the tests as CommonJS and puppeteer-core is an ES module, so a driver runs in a Node child process and
 * takes one JSON command per line on stdin, answering one JSON line each on stdout. Each page gets its own browser
 * context (its own cookies: one signed-in user per page). Waits are the browser's own polls with a deadline.
 */
export const CHROMIUM = '/usr/bin/chromium';

const DRIVER = `
import { createInterface } from 'node:readline';
const [moduleUrl, executablePath] = process.argv.slice(1);
const { default: puppeteer } = await import(moduleUrl);
const browser = await puppeteer.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
});
const pages = new Map();
let next = 1;
const ops = {
  async newPage() {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    const entry = { page, context, errors: [], requests: [] };
    page.on('console', (m) => { if (m.type() === 'error') entry.errors.push('console: ' + m.text()); });
    page.on('pageerror', (e) => entry.errors.push('page: ' + String((e && e.message) || e)));
    page.on('requestfailed', (r) => entry.errors.push('request failed: ' + r.url() + ' ' + (r.failure()?.errorText ?? '')));
    page.on('request', (r) => entry.requests.push(r.url()));
    page.on('response', (r) => { if (r.status() >= 400) entry.errors.push('response: ' + r.status() + ' ' + r.request().method() + ' ' + r.url()); });
    const id = next++;
    pages.set(id, entry);
    return id;
  },
  async goto({ page, url }) { await pages.get(page).page.goto(url, { waitUntil: 'load' }); },
  async click({ page, selector }) { await pages.get(page).page.click(selector); },
  async clickAndNavigate({ page, selector }) {
    const p = pages.get(page).page;
    await Promise.all([p.waitForNavigation({ waitUntil: 'load' }), p.click(selector)]);
  },
  async type({ page, selector, text }) { await pages.get(page).page.type(selector, text); },
  async select({ page, selector, value }) { await pages.get(page).page.select(selector, value); },
  async press({ page, key }) { await pages.get(page).page.keyboard.press(key); },
  async viewport({ page, width, height }) { await pages.get(page).page.setViewport({ width, height }); },
  async evaluate({ page, expression }) { return pages.get(page).page.evaluate(expression); },
  async waitFor({ page, expression, timeoutMs }) {
    const p = pages.get(page).page;
    try {
      const handle = await p.waitForFunction(expression, { timeout: timeoutMs, polling: 100 });
      return await handle.jsonValue();
    } catch (error) {
      const seen = await p.evaluate(() => location.href + '\\n' + (document.body?.innerText ?? '')).catch(() => '');
      throw new Error('waiting for ' + expression + ': ' + String(error && error.message) + '\\nthe page shows: ' + String(seen).slice(0, 3000));
    }
  },
  async screenshot({ page, path }) { await pages.get(page).page.screenshot({ path }); },
  async errors({ page }) { return pages.get(page).errors; },
  async requests({ page }) { return pages.get(page).requests; },
  async closePage({ page }) { const e = pages.get(page); pages.delete(page); await e.context.close(); },
};
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const { id, op, ...args } = JSON.parse(line);
  try {
    const value = await ops[op](args);
    process.stdout.write(JSON.stringify({ id, ok: true, value: value ?? null }) + '\\n');
  } catch (error) {
    process.stdout.write(JSON.stringify({ id, ok: false, error: String((error && error.stack) || error) }) + '\\n');
  }
}
await browser.close();
`;

export interface BrowserPage {
  goto(url: string): Promise<void>;
  click(selector: string): Promise<void>;
  /** Clicks and waits for the navigation it starts (a form post, a link to another document). */
  clickAndNavigate(selector: string): Promise<void>;
  type(selector: string, text: string): Promise<void>;
  select(selector: string, value: string): Promise<void>;
  press(key: string): Promise<void>;
  viewport(width: number, height: number): Promise<void>;
  evaluate<T>(expression: string): Promise<T>;
  /** Polls `expression` in the page until it is truthy (deadline `timeoutMs`, default 20 s); its value. */
  waitFor<T>(expression: string, timeoutMs?: number): Promise<T>;
  screenshot(path: string): Promise<void>;
  /** Console errors, uncaught exceptions and failed requests seen so far. */
  errors(): Promise<string[]>;
  requests(): Promise<string[]>;
  close(): Promise<void>;
}

export interface Browser {
  /** A new page in its own browser context (no cookies shared with other pages). */
  newPage(): Promise<BrowserPage>;
  close(): Promise<void>;
}

export function launchBrowser(): Browser {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (sudo apt-get install -y chromium) to run the browser tests`,
    );
  const moduleUrl = pathToFileURL(require.resolve('puppeteer-core')).href;
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['--input-type=module', '-e', DRIVER, moduleUrl, CHROMIUM],
    { env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: '1' }, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => {
    for (const p of pending.values()) p.reject(new Error(`the browser driver exited: ${stderr}`));
    pending.clear();
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const answer = JSON.parse(line) as { id: number; ok: boolean; value?: unknown; error?: string };
    const waiting = pending.get(answer.id);
    pending.delete(answer.id);
    if (!waiting) return;
    if (answer.ok) waiting.resolve(answer.value);
    else waiting.reject(new Error(answer.error));
  });
  let nextId = 1;
  const call = <T>(op: string, args: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });

  return {
    async newPage() {
      const page = await call<number>('newPage');
      return {
        goto: (url) => call('goto', { page, url }),
        click: (selector) => call('click', { page, selector }),
        clickAndNavigate: (selector) => call('clickAndNavigate', { page, selector }),
        type: (selector, text) => call('type', { page, selector, text }),
        select: (selector, value) => call('select', { page, selector, value }),
        press: (key) => call('press', { page, key }),
        viewport: (width, height) => call('viewport', { page, width, height }),
        evaluate: (expression) => call('evaluate', { page, expression }),
        waitFor: (expression, timeoutMs = 20_000) => call('waitFor', { page, expression, timeoutMs }),
        screenshot: (path) => call('screenshot', { page, path }),
        errors: () => call('errors', { page }),
        requests: () => call('requests', { page }),
        close: () => call('closePage', { page }),
      };
    },
    async close() {
      child.stdin.end();
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
