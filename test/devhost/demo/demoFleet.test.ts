import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEMO_CONTROL_PATH as CLI_DEMO_CONTROL_PATH } from '../../../cli/commands/demoCommands';
import { DEMO_CONTROL_PATH } from '../../../devhost/demo/demoControl';
import { runCli } from '../../cli/helpers/runCli';
import { waitFor } from '../../helpers/waitFor';

/**
 * `npm start` with its demo fleet, as a real process: `bin/devhost.js start` (in-memory storage, port 0) declares
 * the demo clusters and runs real agents. All clusters become healthy within a bounded time; killing a demo active
 * (SIGKILL) ends with its standby active, through the real failure detector and failover; a partitioned active
 * (still running) is replaced too, and a paused one. Stopping the devhost leaves no agent behind.
 */

const root = path.resolve(__dirname, '../../..');
let devhost: ChildProcess;
let out = '';
let dataDir: string;
let url: string;
let key: string;

interface Status {
  epoch: number;
  activeNodeId: string | null;
  nodes: { nodeId: string; reportedRole: string | null; reportedEpoch: number | null }[];
}

const api = async (method: string, urlPath: string, withKey = true) => {
  const r = await fetch(`${url}${urlPath}`, { method, headers: withKey ? { 'x-functions-key': key } : {} });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : undefined };
};
const status = async (clusterId: string): Promise<Status> =>
  (await api('GET', `/api/v1/clusters/${clusterId}/status`)).json as Status;

/** `nodeId` active under a newer epoch than `epoch`, as the control plane and its agent both say. */
const activeAfter = (s: Status, nodeId: string, epoch: number) =>
  s.activeNodeId === nodeId &&
  s.epoch > epoch &&
  s.nodes.some((n) => n.nodeId === nodeId && n.reportedRole === 'active' && n.reportedEpoch === s.epoch);

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'fp-demo-'));
  devhost = spawn(
    process.execPath,
    [
      path.join(root, 'bin/devhost.js'),
      'start',
      '--app',
      root,
      '--storage',
      'memory',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--json',
      '--demo', // as npm start passes it
    ],
    {
      cwd: root,
      env: {
        ...process.env,
        NODE_KEY_MASTER: randomBytes(32).toString('base64'),
        TABLE_PREFIX: `T${randomBytes(4).toString('hex')}`,
        // As in a new local.settings.json: the devhost emulates App Service sign-in.
        AUTH_TRUST_CLIENT_PRINCIPAL: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  devhost.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  devhost.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const ready = await waitFor(() => out.split('\n').find((line) => line.startsWith('{"url"')), {
    timeoutMs: 60_000,
    description: `the devhost's JSON line; output: ${out.slice(-2000)}`,
  });
  const info = JSON.parse(ready) as {
    url: string;
    keys: { masterKey: string };
    demo: { nodes: string[] } | null;
  };
  url = info.url;
  key = info.keys.masterKey;
  expect(info.demo?.nodes).toHaveLength(10);
}, 90_000);

afterAll(() => {
  if (devhost && devhost.exitCode === null && devhost.signalCode === null) devhost.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

test('the start banner says where the API is, that the demo fleet runs, and how to sign in', () => {
  expect(out).toContain(`API: ${url}/api/v1`);
  expect(out).toMatch(/Demo fleet: 5 clusters, 10 real agents/);
  expect(out).toContain('bcm-head      master1*, master2');
  expect(out).toContain('demo kill|pause|partition <node>');
  expect(out).toMatch(/Sign in: .*\/\.auth\/login/);
});

test('all demo clusters become healthy within a bounded time, as their status shows', async () => {
  await waitFor(() => out.includes('all demo clusters healthy'), {
    timeoutMs: 60_000,
    description: `"all demo clusters healthy"; output: ${out.slice(-3000)}`,
  });
  // The fleet's own word checked against the API: each declared active is active, heard as such, standbys heard.
  const declared = {
    'witness-pair': 'wsfc-1',
    'bcm-head': 'master1',
    'gpu-vm': 'hv-a',
    'hpc-head': 'head-a',
    xcloud: 'ctl-azure',
  };
  for (const [clusterId, active] of Object.entries(declared)) {
    const s = await status(clusterId);
    expect(s.activeNodeId).toBe(active);
    expect(s.nodes.find((n) => n.nodeId === active)).toMatchObject({
      reportedRole: 'active',
      reportedEpoch: 1,
    });
    for (const n of s.nodes.filter((node) => node.nodeId !== active)) expect(n.reportedRole).toBe('standby');
  }
  const listing = await api('GET', '/admin/devhost/demo');
  expect(listing.status).toBe(200);
  expect(listing.json.clusters.every((c: { healthy: boolean }) => c.healthy)).toBe(true);
  // The GPU nodes report the stand-in nvidia-smi's GPU through the agent's gpu check.
  const gpu = await status('gpu-vm');
  expect(JSON.stringify(gpu)).toContain('"gpu"');
}, 70_000);

test('the demo control needs the master key and names unknown nodes and actions', async () => {
  expect((await api('GET', '/admin/devhost/demo', false)).status).toBe(401);
  const unknownNode = await api('POST', '/admin/devhost/demo/nodes/nosuch/kill');
  expect(unknownNode.status).toBe(404);
  expect(unknownNode.json.error.message).toContain('master1');
  const unknownAction = await api('POST', '/admin/devhost/demo/nodes/master1/explode');
  expect(unknownAction.status).toBe(400);
  expect(unknownAction.json.error.code).toBe('UnknownDemoAction');
});

test('a killed, a partitioned and a paused demo active each end with their standby active', async () => {
  const before = await api('GET', '/admin/devhost/demo');
  const pidOf = (node: string) =>
    (before.json.nodes as { nodeId: string; pid: number }[]).find((n) => n.nodeId === node)?.pid as number;
  const ctlAzurePid = pidOf('ctl-azure');

  const killed = await api('POST', '/admin/devhost/demo/nodes/master1/kill');
  expect(killed.json.node).toMatchObject({
    clusterId: 'bcm-head',
    nodeId: 'master1',
    state: 'killed',
    pid: null,
  });
  expect((await api('POST', '/admin/devhost/demo/nodes/xcloud%2Fctl-azure/partition')).json.node.state).toBe(
    'partitioned',
  );
  expect((await api('POST', '/admin/devhost/demo/nodes/hv-a/pause')).json.node.state).toBe('paused');

  for (const [clusterId, standby] of [
    ['bcm-head', 'master2'],
    ['xcloud', 'ctl-oci'],
    ['gpu-vm', 'hv-b'],
  ] as const) {
    let last: Status | undefined;
    await waitFor(
      async () => {
        last = await status(clusterId);
        return activeAfter(last, standby, 1);
      },
      { timeoutMs: 45_000, intervalMs: 100, description: `${standby} active in ${clusterId}` },
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last status: ${JSON.stringify(last)}`);
    });
  }
  // The detector and the failover ran for real: a failover operation that succeeds (once its verify step saw the
  // new active's heartbeats, which may come after the status shows it active).
  await waitFor(
    async () => {
      const ops = (await api('GET', '/api/v1/clusters/bcm-head/operations')).json.operations as {
        kind: string;
        status: string;
      }[];
      return ops.some((o) => o.kind === 'failover' && o.status === 'succeeded');
    },
    { timeoutMs: 20_000, intervalMs: 100, description: 'the failover of bcm-head to succeed' },
  );
  // The partitioned agent kept running (it fenced itself; it was not killed); the hooks ran, as the console shows.
  expect(() => process.kill(ctlAzurePid, 0)).not.toThrow();
  await waitFor(
    () =>
      out.includes('xcloud/ctl-azure lease lapsed: self-fencing') &&
      out.includes('bcm-head/master2 promote: step makeactive (epoch 2)'),
    {
      timeoutMs: 10_000,
      description: `the self-fence and the makeactive step on the console; output: ${out.slice(-3000)}`,
    },
  );

  // Undo: the killed agent restarts and the partitioned and paused ones come back, each as a standby.
  await api('POST', '/admin/devhost/demo/nodes/master1/restart');
  await api('POST', '/admin/devhost/demo/nodes/ctl-azure/heal');
  await api('POST', '/admin/devhost/demo/nodes/hv-a/resume');
  await waitFor(
    async () =>
      (await api('GET', '/admin/devhost/demo')).json.clusters.every((c: { healthy: boolean }) => c.healthy),
    {
      timeoutMs: 45_000,
      intervalMs: 200,
      description: 'every demo cluster healthy again',
    },
  );
}, 120_000);

test("failoverctl demo: list, pause and resume a node, an unknown node is exit 3, the path is the devhost's", async () => {
  expect(CLI_DEMO_CONTROL_PATH).toBe(DEMO_CONTROL_PATH);
  const env = { FAILOVERPLANE_URL: url, FAILOVERPLANE_KEY: key };
  const list = await runCli(['demo', 'list'], { env });
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(/^NODE\s+AGENT\s+PID$/m);
  expect(list.stdout).toMatch(/^bcm-head\/master2\s+running\s+\d+$/m);
  expect(list.stdout).toMatch(/^bcm-head\s+\S+\s+healthy$/m);
  const paused = await runCli(['demo', 'pause', 'bcm-head/master2'], { env });
  expect(paused).toMatchObject({ code: 0, stdout: 'pause: bcm-head/master2 is paused\n' });
  const resumed = await runCli(['demo', 'resume', 'master2'], { env });
  expect(resumed).toMatchObject({ code: 0, stdout: 'resume: bcm-head/master2 is running\n' });
  const unknown = await runCli(['demo', 'kill', 'nobody'], { env });
  expect(unknown.code).toBe(3);
  expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
  expect((await runCli(['demo', 'kill', 'a/b/c'], { env })).code).toBe(2);
}, 60_000);

test('stopping the devhost stops every demo agent', async () => {
  const listing = await api('GET', '/admin/devhost/demo');
  const pids = (listing.json.nodes as { pid: number | null }[]).map((n) => n.pid).filter((p) => p !== null);
  expect(pids.length).toBeGreaterThan(0);
  const exited = new Promise((resolve) => devhost.once('exit', resolve));
  devhost.kill('SIGINT');
  await exited;
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  await waitFor(() => pids.every((pid) => !alive(pid)), {
    timeoutMs: 5_000,
    description: 'every agent gone',
  });
}, 30_000);
