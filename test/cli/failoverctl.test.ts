import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { loadConfig } from '../../shared/config/config';
import { paths } from '../../shared/contracts/routes';
import { createServices, type Services } from '../../shared/services/services';
import { agentRequest, startControlPlane, type ControlPlane } from '../helpers/controlPlane';
import { waitFor } from '../helpers/waitFor';
import { request } from '../helpers/durableHttp';
import { normalise, runCli } from './helpers/runCli';

/**
 * `failoverctl` as a real child process against a devhost (with the cloud simulator, for the pools): each command's
 * output, the status block against its golden file, the confirmation prompt answered through stdin, the exit codes,
 * `--json` parseable, and one line on stderr for every error. Heartbeats come from the test (signed as an agent
 * signs them) so the status is deterministic; the make-active with real agents is in failoverctlMakeActive.test.ts.
 */
const GOLDEN = path.join(__dirname, '../fixtures/cli/status.golden');
const SCALE_SET =
  '/subscriptions/00000000-0000-0000-0000-00000000f00d/resourceGroups/hpc-demo/providers/Microsoft.Compute/virtualMachineScaleSets';

let cp: ControlPlane;
let services: Services;
let dir: string;
let env: Record<string, string>;
let readEnv: Record<string, string>;
const keys: Record<string, Buffer> = {};
const seqs: Record<string, number> = {};

const documentOf = (id: string) => ({
  id,
  kind: 'active-passive',
  nodes: [
    { id: 'head-a', role: 'active', site: { cloud: 'azure', region: 'westeurope', zone: '1' } },
    { id: 'head-b', role: 'standby', site: { cloud: 'oci', region: 'eu-frankfurt-1' }, priority: 10 },
  ],
  // A detection window of 5 min and a 1 min lease: the test's hand-sent heartbeats never look like a failure, however
  // slow a loaded machine runs the tests (no failover moves the active under the test's feet).
  detection: { heartbeatIntervalMs: 10_000, missedHeartbeats: 30, leaseMs: 60_000, driftMarginMs: 5000 },
  failover: { rpoObjectiveMs: 5000 },
  pools: [
    {
      id: 'gpu',
      desired: 10,
      sites: [
        {
          id: 'we',
          cloud: 'azure',
          region: 'westeurope',
          size: 'Standard_NC24ads_A100_v4',
          group: `${SCALE_SET}/gpu-westeurope`,
        },
        {
          id: 'ne',
          cloud: 'azure',
          region: 'northeurope',
          size: 'Standard_NC24ads_A100_v4',
          group: `${SCALE_SET}/gpu-northeurope`,
        },
      ],
    },
  ],
});

const heartbeat = (clusterId: string, nodeId: string, body: Record<string, unknown>) => {
  const id = `${clusterId}/${nodeId}`;
  seqs[id] = (seqs[id] ?? 0) + 1;
  return agentRequest(`${cp.host.url}${paths.agentHeartbeat()}`, {
    clusterId,
    nodeId,
    key: keys[id] as Buffer,
    seq: seqs[id],
    body,
  });
};

const ACTIVE_BEAT = {
  role: 'active',
  epoch: 1,
  checks: [
    { name: 'database', status: 'ok' },
    { name: 'disk', status: 'warn', detail: '82% used' },
  ],
  replicationLagMs: 0,
  gpu: [
    {
      index: 0,
      utilizationPercent: 35,
      memoryUsedMiB: 1024,
      memoryTotalMiB: 81920,
      eccErrors: 0,
      xidErrors: 0,
    },
    { index: 1, utilizationPercent: 0, memoryUsedMiB: 0, memoryTotalMiB: 81920, eccErrors: 0, xidErrors: 2 },
  ],
};
const STANDBY_BEAT = (lag: number) => ({
  role: 'standby',
  epoch: 1,
  checks: [{ name: 'database', status: 'ok' }],
  replicationLagMs: lag,
});

/** Declares a cluster with the CLI (`apply`) and issues its keys with the CLI (`node-key`). */
async function declare(clusterId: string): Promise<void> {
  const file = path.join(dir, `${clusterId}.yaml`);
  writeFileSync(file, YAML.stringify(documentOf(clusterId)));
  const applied = await runCli(['apply', '-f', file], { env });
  expect(applied).toMatchObject({ code: 0, stderr: '' });
  expect(applied.stdout).toBe(`cluster ${clusterId} created\n`);
  for (const node of ['head-a', 'head-b']) {
    const issued = await runCli(['node-key', clusterId, node], { env });
    expect(issued.code).toBe(0);
    const lines = issued.stdout.trim().split('\n');
    expect(lines[0]).toBe(`key version 1 of ${clusterId}/${node} (shown once):`);
    keys[`${clusterId}/${node}`] = Buffer.from(lines[1] as string, 'base64');
  }
}

/** One line on stderr, no stack trace. */
const oneLine = (stderr: string) => {
  expect(stderr.endsWith('\n')).toBe(true);
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(stderr).toMatch(/^failoverctl: /);
  expect(stderr).not.toMatch(/\n\s+at /);
};

beforeAll(async () => {
  cp = await startControlPlane({}, { cloudSimulator: true });
  services = createServices(loadConfig(cp.settings));
  dir = mkdtempSync(path.join(tmpdir(), 'failoverctl-'));
  // No profile in the test's HOME unless a test writes one.
  env = { HOME: dir, FAILOVERPLANE_URL: cp.host.url, FAILOVERPLANE_KEY: cp.adminKey };
  readEnv = { HOME: dir, FAILOVERPLANE_URL: cp.host.url, FAILOVERPLANE_KEY: cp.functionKey };
  await declare('golden');
});
afterAll(async () => {
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('help and usage', () => {
  it('lists every command with --help (exit 0) and describes each one with <command> --help', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const name of [
      'status',
      'makeactive',
      'failover',
      'drill run',
      'drill list',
      'drill show',
      'ops list',
      'ops show',
      'audit',
      'pools show',
      'pools demand',
      'pools plan',
      'apply',
      'node-key',
      'witness break',
      'delete',
    ])
      expect(help.stdout).toContain(`  ${name}`);
    expect(help.stdout).toContain(
      'Exit codes: 0 ok, 1 operation failed or refused, 2 usage error, 3 not found',
    );
    const one = await runCli(['makeactive', '--help']);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('Usage: failoverctl makeactive <cluster> <node> [options]');
    expect(one.stdout).toContain('--yes');
    const sub = await runCli(['drill', 'run', '-h']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain('--mode');
  });

  it('answers a usage error with exit 2 and one line, before any request', async () => {
    for (const args of [
      ['frobnicate'],
      ['status', '--bogus'],
      ['status', 'Not_An_Id'],
      ['makeactive', 'golden'],
      ['drill'],
      ['failover', 'golden'],
      ['ops', 'list', 'golden', '--limit', '0'],
    ]) {
      const r = await runCli(args, { env: { HOME: dir, FAILOVERPLANE_URL: 'http://127.0.0.1:9' } });
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      oneLine(r.stderr);
    }
    const noUrl = await runCli(['status'], { env: { HOME: dir } });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('FAILOVERPLANE_URL');
  });
});

describe('connection and auth', () => {
  it('an unreachable URL: exit 5 and one line', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const r = await runCli(['status', 'golden'], {
      env: { HOME: dir, FAILOVERPLANE_URL: `http://127.0.0.1:${port}` },
    });
    expect(r.code).toBe(5);
    expect(r.stdout).toBe('');
    oneLine(r.stderr);
    expect(r.stderr).toContain(`cannot reach http://127.0.0.1:${port}`);
  });

  it('a missing or wrong key: exit 4; a function key cannot write (exit 4)', async () => {
    const none = await runCli(['status', 'golden'], { env: { HOME: dir, FAILOVERPLANE_URL: cp.host.url } });
    expect(none.code).toBe(4);
    oneLine(none.stderr);
    const wrong = await runCli(['status', 'golden', '--key', 'not-the-key'], {
      env: { HOME: dir, FAILOVERPLANE_URL: cp.host.url },
    });
    expect(wrong.code).toBe(4);
    const write = await runCli(['witness', 'break', 'golden', '--reason', 'x'], { env: readEnv });
    expect(write.code).toBe(4);
    oneLine(write.stderr);
  });

  it('reads the URL and key from the profile file, flags and environment first', async () => {
    const profile = path.join(dir, 'profile.json');
    writeFileSync(profile, JSON.stringify({ url: cp.host.url, key: cp.functionKey }));
    const viaProfile = await runCli(['status', '--json'], {
      env: { HOME: dir, FAILOVERPLANE_PROFILE: profile },
    });
    expect(viaProfile.code).toBe(0);
    expect(JSON.parse(viaProfile.stdout).clusters.map((c: { id: string }) => c.id)).toContain('golden');
    // The default path under HOME.
    const home = mkdtempSync(path.join(tmpdir(), 'failoverctl-home-'));
    try {
      const { mkdirSync } = await import('node:fs');
      mkdirSync(path.join(home, '.config/failoverplane'), { recursive: true });
      writeFileSync(
        path.join(home, '.config/failoverplane/profile.json'),
        JSON.stringify({ url: 'http://127.0.0.1:9', key: 'wrong' }),
      );
      const flagsWin = await runCli(['status', '--url', cp.host.url, '--key', cp.functionKey], {
        env: { HOME: home },
      });
      expect(flagsWin.code).toBe(0);
      const profileOnly = await runCli(['status'], { env: { HOME: home } });
      expect(profileOnly.code).toBe(5);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
    writeFileSync(profile, JSON.stringify({ url: cp.host.url, keey: 'typo' }));
    const invalid = await runCli(['status'], { env: { HOME: dir, FAILOVERPLANE_PROFILE: profile } });
    expect(invalid.code).toBe(2);
    oneLine(invalid.stderr);
    expect(invalid.stderr).toContain(profile);
    const entraNoScope = await runCli(['status', '--entra'], { env: readEnv });
    expect(entraNoScope.code).toBe(2);
    expect(entraNoScope.stderr).toContain('scope');
    // --entra asks @azure/identity for a token (here only the environment credential, which has nothing): exit 4.
    const noToken = await runCli(['status', '--entra', '--scope', 'api://failoverplane/.default'], {
      env: { HOME: dir, FAILOVERPLANE_URL: cp.host.url, AZURE_TOKEN_CREDENTIALS: 'EnvironmentCredential' },
    });
    expect(noToken.code).toBe(4);
    oneLine(noToken.stderr);
    expect(noToken.stderr).toContain('could not get an Entra token for api://failoverplane/.default');
  });
});

describe('status', () => {
  it('prints the cmha status block (golden file), and --json prints the API status', async () => {
    expect((await heartbeat('golden', 'head-a', ACTIVE_BEAT)).status).toBe(200);
    expect((await heartbeat('golden', 'head-b', STANDBY_BEAT(7000))).status).toBe(200);
    await services.witness.ensureContainer();
    const lease = await services.witness.acquire('golden', 'golden-test');
    const { etag } = await services.witness.read('golden');
    await services.witness.writeDecision(
      lease,
      {
        epoch: 1,
        activeNodeId: 'head-a',
        decidedAt: new Date().toISOString(),
        decidedBy: 'golden-test',
        reason: 'test',
      },
      etag,
    );
    await services.witness.release(lease);
    // A running operation, as the status shows it (ended below, before anything else runs on the cluster).
    const now = Date.now();
    await services.operations.createOnce({
      clusterId: 'golden',
      operationId: 'make-active-golden',
      kind: 'make-active',
      status: 'running',
      createdAt: now,
      updatedAt: now,
      epoch: 1,
      evidence: {},
      steps: [{ id: 'revoke-1', name: 'revoke the lease of epoch 1', startedAt: now, outcome: 'running' }],
    });

    const r = await runCli(['status', 'golden'], { env: readEnv });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const text = normalise(r.stdout);
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(GOLDEN)) {
      if (process.env.UPDATE_GOLDEN !== '1')
        throw new Error(`no golden file ${GOLDEN}: run with UPDATE_GOLDEN=1`);
      writeFileSync(GOLDEN, text);
    }
    expect(text).toBe(readFileSync(GOLDEN, 'utf8'));
    const running = await services.operations.getWithEtag('golden', 'make-active-golden');
    expect(running).toBeDefined();
    const ended = { ...running!.operation, status: 'failed' as const, endedAt: Date.now(), reason: 'test' };
    expect((await services.operations.replace(ended, running!.etag)).ok).toBe(true);

    const json = await runCli(['status', 'golden', '--json'], { env: readEnv });
    expect(json.code).toBe(0);
    const status = JSON.parse(json.stdout);
    expect(status).toMatchObject({ clusterId: 'golden', epoch: 1, activeNodeId: 'head-a' });
    expect(status.nodes.map((n: { nodeId: string }) => n.nodeId)).toEqual(['head-a', 'head-b']);
  });

  it('lists every cluster without an argument; an unknown cluster is exit 3', async () => {
    const r = await runCli(['status'], { env: readEnv });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^CLUSTER\s+KIND\s+NODES\s+EPOCH\s+ACTIVE$/);
    expect(r.stdout).toMatch(/^golden\s+active-passive\s+2\s+1\s+head-a$/m);
    const missing = await runCli(['status', 'nobody'], { env: readEnv });
    expect(missing.code).toBe(3);
    oneLine(missing.stderr);
    expect(missing.stderr).toContain('ClusterNotFound');
  });
});

describe('apply and node-key', () => {
  it('applies YAML and JSON (unchanged the second time); every problem of an invalid document, exit 2', async () => {
    const file = path.join(dir, 'golden.yaml');
    const again = await runCli(['apply', '-f', file], { env });
    expect(again).toMatchObject({ code: 0, stdout: 'cluster golden unchanged\n' });
    const json = path.join(dir, 'golden.json');
    writeFileSync(json, JSON.stringify({ ...documentOf('golden'), failover: { rpoObjectiveMs: 6000 } }));
    expect((await runCli(['apply', '-f', json], { env })).stdout).toBe('cluster golden updated\n');
    writeFileSync(file, YAML.stringify(documentOf('golden')));
    expect((await runCli(['apply', '-f', file], { env })).stdout).toBe('cluster golden updated\n');

    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, YAML.stringify({ id: 'bad', kind: 'nonsense', nodes: [] }));
    const refused = await runCli(['apply', '-f', bad], { env });
    expect(refused.code).toBe(2);
    oneLine(refused.stderr);
    expect(refused.stdout).toContain('kind');
    expect((await runCli(['status', 'bad'], { env })).code).toBe(3);
    const missing = await runCli(['apply', '-f', path.join(dir, 'nope.yaml')], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('ENOENT');
    expect((await runCli(['apply'], { env })).code).toBe(2);
  });

  it('a key issued twice is refused (exit 1); --rotate issues the next version; --json parseable', async () => {
    const again = await runCli(['node-key', 'golden', 'head-a'], { env });
    expect(again.code).toBe(1);
    oneLine(again.stderr);
    expect(again.stderr).toContain('KeyAlreadyIssued');
    const unknown = await runCli(['node-key', 'golden', 'head-z'], { env });
    expect(unknown.code).toBe(3);
    const rotated = await runCli(['node-key', 'golden', 'head-b', '--rotate', '--json'], { env });
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ nodeId: 'head-b', keyVersion: 2 });
  });

  it('shows the cluster peer key with the node key, or writes both to --out DIR (mode 0600), never showing them', async () => {
    await declare('peerkeys');
    const rotated = await runCli(['node-key', 'peerkeys', 'head-b', '--rotate', '--json'], { env });
    const peerKey = (JSON.parse(rotated.stdout) as { peerKey: string }).peerKey;
    expect(Buffer.from(peerKey, 'base64')).toHaveLength(32);
    const shown = await runCli(['node-key', 'peerkeys', 'head-a', '--rotate'], { env });
    expect(shown.stdout.trim().split('\n').slice(2)).toEqual([
      'peer key of peerkeys (peerListener.keyFile; shown once):',
      peerKey,
    ]);
    const out = path.join(dir, 'keys-head-b');
    const written = await runCli(['node-key', 'peerkeys', 'head-b', '--rotate', '--out', out], { env });
    expect(written.code).toBe(0);
    expect(written.stdout).not.toContain(peerKey);
    expect(readFileSync(path.join(out, 'peer.key'), 'utf8')).toBe(`${peerKey}\n`);
    expect(statSync(path.join(out, 'peer.key')).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(path.join(out, 'head-b.key'), 'utf8').trim(), 'base64')).toHaveLength(32);
  });
});

describe('makeactive and failover (without agents)', () => {
  it('"e" at the prompt exits 0 with nothing changed; a blocked plan exits 1 without asking', async () => {
    await heartbeat('golden', 'head-a', ACTIVE_BEAT);
    await heartbeat('golden', 'head-b', { ...STANDBY_BEAT(100) });
    const exited = await runCli(['makeactive', 'golden', 'head-b'], { env, stdin: 'e\n' });
    expect(exited.stderr).toBe('');
    expect(exited.code).toBe(0);
    expect(exited.stdout).toContain('Make-active in cluster golden (epoch 1 -> 2)');
    expect(exited.stdout).toContain('becomes active:  head-b (now head-a)');
    expect(exited.stdout).toContain('becomes passive: head-a');
    expect(exited.stdout).toMatch(/\[ OK \] replication-lag-within-rpo/);
    expect(exited.stdout).toContain('1. head-a: demote');
    expect(exited.stdout).toContain('2. head-b: promote');
    expect(exited.stdout).toContain('Continue(c)/Exit(e)? \nExited: nothing changed.');
    const ops = await request(`${cp.host.url}${paths.operations('golden')}`, { key: cp.functionKey });
    // Only the one the golden test recorded: nothing started.
    expect(
      ops.json.operations
        .filter((o: { kind: string }) => o.kind === 'make-active')
        .map((o: { operationId: string }) => o.operationId),
    ).toEqual(['make-active-golden']);

    // stdin closed without an answer: nothing changed, exit 1.
    const silent = await runCli(['makeactive', 'golden', 'head-b'], { env, stdin: 'maybe\n' });
    expect(silent.code).toBe(1);
    expect(silent.stdout.match(/Continue\(c\)\/Exit\(e\)\?/g)).toHaveLength(2);
    oneLine(silent.stderr);

    await heartbeat('golden', 'head-b', STANDBY_BEAT(9000));
    const blocked = await runCli(['makeactive', 'golden', 'head-b'], { env, stdin: 'c\n' });
    expect(blocked.code).toBe(1);
    expect(blocked.stdout).toMatch(/\[FAIL\] replication-lag-within-rpo/);
    expect(blocked.stdout).not.toContain('Continue(c)');
    oneLine(blocked.stderr);
    expect(blocked.stderr).toContain('blocked by replication-lag-within-rpo');
    const notInCluster = await runCli(['makeactive', 'golden', 'head-z', '--yes'], { env });
    expect(notInCluster.code).toBe(2);
    expect((await runCli(['makeactive', 'golden', 'head-b', '--json'], { env })).code).toBe(2);
  });
});

describe('ops, audit, drills', () => {
  it('lists operations and the audit log (text and --json); an unknown operation or drill is exit 3', async () => {
    const ops = await runCli(['ops', 'list', 'golden'], { env: readEnv });
    expect(ops.code).toBe(0);
    expect(ops.stdout).toMatch(/^(No operations\.|OPERATION\s+KIND\s+STATUS\s+CREATED\s+TARGET\s+RTO)$/m);
    const opsJson = await runCli(['ops', 'list', 'golden', '--json', '--limit', '5'], { env: readEnv });
    expect(Array.isArray(JSON.parse(opsJson.stdout).operations)).toBe(true);
    expect((await runCli(['ops', 'show', 'golden', 'no-such-op'], { env: readEnv })).code).toBe(3);

    const audit = await runCli(['audit', 'golden', '--limit', '50'], { env: readEnv });
    expect(audit.code).toBe(0);
    expect(audit.stdout.split('\n')[0]).toMatch(/^AT\s+ACTOR\s+ACTION\s+DETAIL$/);
    expect(audit.stdout).toMatch(/^\S+\s+key:master\s+cluster-created\s+/m);
    expect(audit.stdout).toMatch(/node-key-issued/);
    const auditJson = JSON.parse((await runCli(['audit', 'golden', '--json'], { env: readEnv })).stdout);
    expect(auditJson.entries.map((e: { action: string }) => e.action)).toContain('cluster-created');

    const drills = await runCli(['drill', 'list', 'golden'], { env: readEnv });
    expect(drills).toMatchObject({ code: 0, stdout: 'No drills.\n' });
    expect(
      JSON.parse((await runCli(['drill', 'list', 'golden', '--json'], { env: readEnv })).stdout),
    ).toMatchObject({ drills: [] });
    const missing = await runCli(['drill', 'show', 'golden', 'no-such-drill'], { env: readEnv });
    expect(missing.code).toBe(3);
    oneLine(missing.stderr);
  });

  it('runs a validate drill, follows it and prints the report; show and list find it', async () => {
    await heartbeat('golden', 'head-a', ACTIVE_BEAT);
    await heartbeat('golden', 'head-b', STANDBY_BEAT(100));
    const run = await runCli(['drill', 'run', 'golden', '--mode', 'validate', '--interval-ms', '100'], {
      env,
      timeoutMs: 90_000,
    });
    expect(run.stdout).toMatch(/^Started drill (\S+)$/m);
    const drillId = /^Started drill (\S+)$/m.exec(run.stdout)?.[1] as string;
    expect(run.stdout).toMatch(new RegExp(`^Drill ${drillId} \\(validate\\) of golden: ([A-Z]+)$`, 'm'));
    expect(run.stdout).toMatch(/^Checks:$/m);
    // Passed: exit 0; anything else exit 1 with one line (this cluster's standby is not startable in the simulator).
    if (/: PASSED$/m.test(run.stdout)) expect(run.code).toBe(0);
    else {
      expect(run.code).toBe(1);
      oneLine(run.stderr);
    }
    const show = await runCli(['drill', 'show', 'golden', drillId], { env: readEnv });
    expect(show.code).toBe(0);
    expect(show.stdout.split('\n')[0]).toMatch(new RegExp(`^Drill ${drillId} \\(validate\\)`));
    const json = JSON.parse(
      (await runCli(['drill', 'show', 'golden', drillId, '--json'], { env: readEnv })).stdout,
    );
    expect(json.drill.drillId).toBe(drillId);
    const list = await runCli(['drill', 'list', 'golden'], { env: readEnv });
    expect(list.stdout).toMatch(new RegExp(`^${drillId}\\s+validate\\s+`, 'm'));
    const op = await runCli(['ops', 'show', 'golden', drillId], { env: readEnv });
    expect(op.code).toBe(0);
    expect(op.stdout.split('\n')[0]).toBe(
      `Operation ${drillId} (drill) of golden: ${JSON.parse((await runCli(['ops', 'show', 'golden', drillId, '--json'], { env: readEnv })).stdout).operation.status.toUpperCase()}`,
    );
    expect(op.stdout).toMatch(/^Steps:$/m);
  });
});

describe('pools', () => {
  it('shows a pool, sets its demand (audited) and prints the dry-run plan', async () => {
    const show = await runCli(['pools', 'show', 'golden', 'gpu'], { env: readEnv });
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(
      'Pool gpu of golden: demand 10 (from the document), placed 0, shortfall 10',
    );
    expect(show.stdout).toMatch(
      /^\s+we\s+azure\/westeurope\s+Standard_NC24ads_A100_v4\s+0\s+not read yet\s+-$/m,
    );
    const set = await runCli(['pools', 'demand', 'golden', 'gpu', '4'], { env });
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('Demand of pool gpu set to 4 (was 10)');
    expect(set.stdout).toMatch(
      /^Spillover spill-gpu-\S+ started; follow it with: failoverctl ops show golden spill-gpu-/m,
    );
    // The run places the 4 (2 where West Europe's quota allows, 2 in North Europe) and says so when it ends.
    const placed = await waitFor(
      async () =>
        ((r) => (/^Last run: /m.test(r.stdout) ? r : false))(
          await runCli(['pools', 'show', 'golden', 'gpu'], { env: readEnv }),
        ),
      { timeoutMs: 60_000, intervalMs: 200, description: 'the spillover to end' },
    );
    expect(placed.stdout).toContain('placed 4, shortfall 0');
    expect(placed.stdout).toMatch(/^Last run: spill-gpu-\S+, ended \S+: 4 of 4 placed$/m);
    const plan = await runCli(['pools', 'plan', 'golden', 'gpu', '--desired', '10'], { env });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('Plan for pool gpu (dry run, nothing provisioned): shortfall 0');
    expect(plan.stdout).toMatch(/^ {2}add 6 at ne$/m);
    const json = JSON.parse(
      (await runCli(['pools', 'show', 'golden', 'gpu', '--json'], { env: readEnv })).stdout,
    );
    expect(json.pool).toMatchObject({ demand: 4, demandSource: 'api' });
    expect((await runCli(['pools', 'show', 'golden', 'nope'], { env: readEnv })).code).toBe(3);
    expect((await runCli(['pools', 'demand', 'golden', 'gpu', 'many'], { env })).code).toBe(2);
  });
});

describe('witness break and delete', () => {
  it('breaks the witness lease with a reason (audited); without one exit 2', async () => {
    expect((await runCli(['witness', 'break', 'golden'], { env })).code).toBe(2);
    const r = await runCli(['witness', 'break', 'golden', '--reason', 'stuck decider'], { env });
    expect(r).toMatchObject({ code: 0, stdout: 'witness lease of golden broken\n' });
    expect((await services.audit.recent('golden')).map((e) => e.action)).toContain('witness-lease-broken');
  });

  it('delete: the plan and "e" change nothing; refused while nodes heartbeat; --force deletes; then exit 3', async () => {
    await declare('scratch');
    await heartbeat('scratch', 'head-a', { role: 'active', epoch: 1, checks: [] });
    const exited = await runCli(['delete', 'scratch'], { env, stdin: 'e\n' });
    expect(exited.code).toBe(1);
    expect(exited.stdout).toContain('Delete cluster scratch (nodes head-a, head-b)');
    expect(exited.stdout).toContain('node keys (retired, never issued again): head-a, head-b');
    expect(exited.stdout).toMatch(/^Heartbeating within the 5 min detection window: head-a/m);
    expect(exited.stdout).not.toContain('Continue(c)');
    expect(exited.stderr).toContain('stop its agent, or force');
    expect((await runCli(['status', 'scratch'], { env })).code).toBe(0);

    const asked = await runCli(['delete', 'scratch', '--force'], { env, stdin: 'e\n' });
    expect(asked.code).toBe(0);
    expect(asked.stdout).toContain('Continue(c)/Exit(e)? \nExited: nothing changed.');
    expect((await runCli(['status', 'scratch'], { env })).code).toBe(0);

    const deleted = await runCli(['delete', 'scratch', '--force'], { env, stdin: 'c\n' });
    expect(deleted.stderr).toBe('');
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain('[ OK ] cluster scratch deleted');
    const gone = await runCli(['status', 'scratch'], { env });
    expect(gone.code).toBe(3);
    expect((await services.audit.recent('scratch'))[0]?.action).toBe('cluster-deleted');
    expect((await runCli(['delete', 'scratch', '--yes'], { env })).code).toBe(3);
  });
});
