import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startControlPlane, twoNodeCluster, type ControlPlane } from '../helpers/controlPlane';
import { request } from '../helpers/durableHttp';
import { waitFor } from '../helpers/waitFor';

/**
 * The agent installs alone: `npm run build:agent` makes one file with its dependencies inside, which runs from an
 * empty directory with Node only — no repository, no node_modules — and is the real agent (it heartbeats).
 */

const root = path.resolve(__dirname, '../..');
let buildDir: string;
let emptyDir: string;
let bundle: string;
let buildOutput: string;

/** Node alone: no NODE_PATH (nor anything else pointing into the repository), run from the empty directory. */
const nodeOnlyEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: emptyDir });

const runBundle = (args: string[]) =>
  spawnSync(process.execPath, [bundle, ...args], { cwd: emptyDir, env: nodeOnlyEnv(), encoding: 'utf8' });

beforeAll(() => {
  buildDir = mkdtempSync(path.join(tmpdir(), 'fp-agent-build-'));
  const built = spawnSync(
    process.execPath,
    [path.join(root, 'scripts/buildAgentBundle.cjs'), '--outfile', path.join(buildDir, 'failover-agent.cjs')],
    { cwd: root, encoding: 'utf8' },
  );
  buildOutput = `${built.stdout}${built.stderr}`;
  if (built.status !== 0) throw new Error(`build:agent failed: ${buildOutput}`);
  emptyDir = mkdtempSync(path.join(tmpdir(), 'fp-agent-alone-'));
  bundle = path.join(emptyDir, 'failover-agent.cjs');
  copyFileSync(path.join(buildDir, 'failover-agent.cjs'), bundle);
}, 60_000);

afterAll(() => {
  rmSync(buildDir, { recursive: true, force: true });
  rmSync(emptyDir, { recursive: true, force: true });
});

test('the bundle holds yaml and zod and needs nothing but Node built-ins', () => {
  expect(buildOutput).toMatch(/packages: (yaml, zod|zod, yaml)\b/);
  const text = readFileSync(bundle, 'utf8');
  expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
  const required = new Set([...text.matchAll(/\brequire\(["']([^"']+)["']\)/g)].map((m) => m[1] as string));
  const builtins = new Set(builtinModules);
  const outside = [...required].filter((id) => !builtins.has(id.replace(/^node:/, '')));
  expect(outside).toEqual([]);
});

test('from an empty directory with Node only it prints its version and its usage', () => {
  const version = runBundle(['--version']);
  expect(version.status).toBe(0);
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  expect(version.stdout.trim()).toBe(pkg.version);
  const help = runBundle(['--help']);
  expect(help.status).toBe(0);
  expect(help.stdout).toContain('failover-agent check-config --config <file>');
});

test('from an empty directory it validates a configuration: ok, or every problem listed (exit 2)', () => {
  writeFileSync(path.join(emptyDir, 'node.key'), `${Buffer.alloc(32, 7).toString('base64')}\n`, {
    mode: 0o600,
  });
  writeFileSync(
    path.join(emptyDir, 'agent.yaml'),
    [
      'cluster: bcm-head',
      'node: head-a',
      'controlPlane: { url: "https://failover-plane.example.net" }',
      'key: { file: node.key }',
      'stateDir: state',
      'hooks:',
      "  promote: { name: makeactive, command: [/bin/sh, -c, 'echo c | cmha makeactive'] }",
    ].join('\n'),
  );
  const ok = runBundle(['check-config', '--config', 'agent.yaml']);
  expect(ok.stderr).toBe('');
  expect(ok.status).toBe(0);
  expect(ok.stdout).toContain('agent.yaml: ok (cluster bcm-head, node head-a)');

  writeFileSync(
    path.join(emptyDir, 'bad.yaml'),
    ['cluster: bcm-head', 'controlPlane: { url: "http://plain.example.net" }', 'colour: blue'].join('\n'),
  );
  const bad = runBundle(['check-config', '--config', 'bad.yaml']);
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain('is invalid');
  expect(bad.stderr).toMatch(/node/);
  expect(bad.stderr).toMatch(/colour/);
  expect(bad.stderr).not.toMatch(/\n\s+at /); // one message per problem, no stack
});

describe('against a control plane', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
  }, 60_000);
  afterAll(async () => {
    await cp?.stop();
  });

  test('the bundle is the real agent: it heartbeats and becomes the active', async () => {
    const put = await request(`${cp.host.url}/api/v1/clusters/alone`, {
      method: 'PUT',
      key: cp.adminKey,
      body: twoNodeCluster('alone', {
        heartbeatIntervalMs: 250,
        missedHeartbeats: 6,
        leaseMs: 2000,
        driftMarginMs: 250,
      }),
    });
    expect(put.status).toBe(201);
    const issued = await request(`${cp.host.url}/api/v1/clusters/alone/nodes/head-a/key`, {
      method: 'POST',
      key: cp.adminKey,
    });
    expect(issued.status).toBe(201);
    writeFileSync(path.join(emptyDir, 'head-a.key'), `${issued.json.key as string}\n`, { mode: 0o600 });
    writeFileSync(
      path.join(emptyDir, 'head-a.yaml'),
      [
        'cluster: alone',
        'node: head-a',
        `controlPlane: { url: "${cp.host.url}", allowInsecureHttp: true, firstContactTimeoutMs: 20000 }`,
        'key: { file: head-a.key }',
        'stateDir: head-a-state',
        'heartbeat: { initialIntervalMs: 250 }',
        'lease: { fenceMarginMs: 300 }',
      ].join('\n'),
    );
    const agent = spawn(process.execPath, [bundle, '--config', 'head-a.yaml'], {
      cwd: emptyDir,
      env: nodeOnlyEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    agent.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    agent.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => agent.once('exit', resolve));
    try {
      await waitFor(
        async () => {
          const status = await request(`${cp.host.url}/api/v1/clusters/alone/status`, {
            key: cp.functionKey,
          });
          const node = (status.json.nodes as { nodeId: string; reportedRole: string | null }[]).find(
            (n) => n.nodeId === 'head-a',
          );
          return status.json.activeNodeId === 'head-a' && node?.reportedRole === 'active';
        },
        {
          timeoutMs: 20_000,
          intervalMs: 100,
          description: `head-a active through the bundle; output: ${output}`,
        },
      );
    } finally {
      agent.kill('SIGKILL');
      await exited;
    }
  }, 40_000);
});
