import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { runAgent, startAgent } from './helpers/agentProcess';

/** The CLI as operators meet it: the built bin script, run as a child process. */

let dir: string;
let closedPort: number;
const key = randomBytes(32).toString('base64');

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'fp-agent-cli-'));
  writeFileSync(path.join(dir, 'node.key'), key, { mode: 0o600 });
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closedPort = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, document: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    YAML.stringify({
      cluster: 'bcm-head',
      node: 'head-a',
      controlPlane: { url: `https://127.0.0.1:${closedPort}`, firstContactTimeoutMs: 1000 },
      key: { file: 'node.key' },
      stateDir: `${name}-state`,
      heartbeat: { initialIntervalMs: 200 },
      ...document,
    }),
  );
  return file;
}

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('failover-agent', () => {
  it('lists every configuration problem and exits 2, without a stack trace', async () => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'cluster: Bad_Id\nnode: head-a\ncontrolPlane: { url: ftp://x }\nkey: { file: none.key }\nchecks: [{ type: tcp }]\n',
    );
    const run = await runAgent(['--config', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      [
        `failover-agent: the configuration ${file} is invalid (7 problems):`,
        '  - cluster: must be a cluster id: 1-63 lowercase letters, digits or single dashes',
        '  - stateDir: Required',
        '  - checks[0].name: Required',
        '  - checks[0].host: Required',
        '  - checks[0].port: Required',
        '  - controlPlane.url: must be an https:// URL (http:// only with allowInsecureHttp: true)',
        `  - key.file: cannot read ${path.join(dir, 'none.key')}: ENOENT`,
        '',
      ].join('\n'),
    );
    expect(run.stdout).toBe('');
  });

  it('exits 3 with a clear message when the control plane cannot be reached at start', async () => {
    const run = await runAgent(['--config', config('unreachable', {})]);
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(
      `failover-agent: cannot reach the control plane at https://127.0.0.1:${closedPort} within 1000 ms: ` +
        `cannot reach 127.0.0.1:${closedPort}: ECONNREFUSED\n`,
    );
    noStack(run.stderr);
    // The logs are JSON lines, never the key.
    const logs = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining([
        'starting',
        'heartbeat failed',
        'the control plane was not reached: exiting',
        'stopped',
      ]),
    );
    expect(logs[0]).toMatchObject({ level: 'info', msg: 'starting', cluster: 'bcm-head', node: 'head-a' });
    expect(run.stdout).not.toContain(key);
  });

  it('refuses to share a state directory with a running agent (exit 4), and stops gracefully on SIGTERM (exit 0)', async () => {
    const file = config('shared', {
      controlPlane: { url: `https://127.0.0.1:${closedPort}`, firstContactTimeoutMs: 0 },
    });
    const first = startAgent(['--config', file]);
    try {
      await first.waitForLog((r) => r.msg === 'heartbeat failed', 'the first agent running');
      const second = await runAgent(['--config', file]);
      expect(second.code).toBe(4);
      expect(second.stderr).toMatch(
        new RegExp(
          `^failover-agent: another agent \\(pid ${first.child.pid}\\) is using the state directory .*shared-state\\n$`,
        ),
      );
    } finally {
      expect(await first.kill('SIGTERM')).toBe(0);
    }
    expect(first.logs.at(-1)).toMatchObject({ msg: 'stopped' });
  });

  it('status reads the state directory of an agent that is not running', async () => {
    const file = config('status', {});
    await runAgent(['--config', file]); // exits 3, leaving its state and status behind
    const shown = await runAgent(['status', '--config', file]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(
      /^failover-agent — cluster bcm-head, node head-a \(state in .*status-state\)\n/,
    );
    expect(shown.stdout).toMatch(/Agent: +not running \(last seen/);
    expect(shown.stdout).toMatch(/Role: +standby\n/);
    expect(shown.stdout).toMatch(/Last heartbeat: +FAILED .* ECONNREFUSED/);
    const json = await runAgent(['status', '--state-dir', path.join(dir, 'status-state'), '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      running: false,
      state: { role: 'standby', highestEpoch: 0 },
    });
    const state = JSON.parse(readFileSync(path.join(dir, 'status-state', 'state.json'), 'utf8'));
    expect(state.seqReserved).toBeGreaterThan(0);
  });

  it('status says so when the agent has never run', async () => {
    const run = await runAgent(['status', '--state-dir', path.join(dir, 'nothing-here')]);
    expect(run).toMatchObject({
      code: 1,
      stderr: `failover-agent: no agent state in ${path.join(dir, 'nothing-here')} (has the agent run yet?)\n`,
    });
  });

  it('check-config validates without starting, and the usage errors exit 2', async () => {
    const ok = await runAgent(['check-config', '--config', config('check', {})]);
    expect(ok).toMatchObject({
      code: 0,
      stdout: `${path.join(dir, 'check.yaml')}: ok (cluster bcm-head, node head-a)\n`,
    });
    const missing = await runAgent([]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^failover-agent: --config <file> is required\n\nUsage: failover-agent/);
    expect((await runAgent(['frobnicate', '--config', 'x'])).code).toBe(2);
    expect((await runAgent(['--bogus'])).code).toBe(2);
    const help = await runAgent(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: failover-agent \[run\] --config <file>/);
  });
});
