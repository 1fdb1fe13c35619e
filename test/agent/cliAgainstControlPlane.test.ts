import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { startControlPlane, type ControlPlane } from '../helpers/controlPlane';
import { request } from '../helpers/durableHttp';
import { waitFor } from '../helpers/waitFor';
import { assertBuilt, runAgent, startAgent, type AgentProcess } from './helpers/agentProcess';
import { makeCertificates, type TestCertificates } from './helpers/tls';
import { startTlsProxy, type TlsProxy } from './helpers/tlsProxy';
import { paths } from '../../shared/contracts/routes';
import { loadConfig } from '../../shared/config/config';
import { createServices } from '../../shared/services/services';

/**
 * The agent as a real process (bin/failover-agent.js, built) against the control plane in a devhost, over HTTPS
 * through a TLS-terminating proxy with a CA and certificates made by openssl for the test.
 */

const DETECTION = { heartbeatIntervalMs: 250, leaseMs: 1200, driftMarginMs: 100 };

let cp: ControlPlane;
let dir: string;
let certs: TestCertificates;
let proxy: TlsProxy;
const agents: AgentProcess[] = [];
const proxies: TlsProxy[] = [];

beforeAll(async () => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'fp-agent-e2e-'));
  certs = makeCertificates(dir);
  cp = await startControlPlane();
  proxy = await startTlsProxy({ key: certs.key, cert: certs.cert, target: cp.host.url });
  proxies.push(proxy);
  // A hook that records when it ran and with which environment, one line per run.
  script(
    'record.sh',
    'echo "$(date +%s%3N) $FP_OPERATION $FP_OPERATION_ID $FP_EPOCH $FP_ROLE $FP_CLUSTER $FP_NODE" >> "$1"',
  );
  // A promote hook that records its start, then waits until the test releases it.
  script(
    'promote-wait.sh',
    'echo "$(date +%s%3N) $FP_OPERATION_ID $FP_EPOCH" >> "$1"',
    'i=0; while [ ! -f "$2" ]; do sleep 0.05; i=$((i+1)); [ $i -gt 400 ] && exit 3; done',
    'echo promoted',
  );
  script('nvidia-smi', 'echo "0, 35, 1024, 81920, 0"', 'echo "1, 87, 40000, 81920, [N/A]"');
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill('SIGKILL')));
  await Promise.all(proxies.map((p) => p.stop()));
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function script(name: string, ...lines: string[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${lines.join('\n')}\n`);
  chmodSync(file, 0o755);
  return file;
}

const file = (name: string) => path.join(dir, name);
const lines = (name: string) =>
  existsSync(file(name)) ? readFileSync(file(name), 'utf8').split('\n').filter(Boolean) : [];

async function declare(clusterId: string, nodes: [string, string]): Promise<void> {
  const put = await request(`${cp.host.url}${paths.cluster(clusterId)}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: {
      id: clusterId,
      kind: 'active-passive',
      nodes: [
        { id: nodes[0], role: 'active', site: { cloud: 'azure', region: 'westeurope' } },
        { id: nodes[1], role: 'standby', site: { cloud: 'oci', region: 'eu-frankfurt-1' } },
      ],
      detection: DETECTION,
    },
  });
  expect(put.status).toBe(201);
}

/** Issues the node's key as an operator would, and stores it as the agent's key file (mode 600). */
async function keyFile(clusterId: string, nodeId: string): Promise<{ file: string; key: string }> {
  const issued = await request(`${cp.host.url}${paths.nodeKey(clusterId, nodeId)}`, {
    method: 'POST',
    key: cp.adminKey,
  });
  expect(issued.status).toBe(201);
  const keyPath = file(`${clusterId}-${nodeId}.key`);
  writeFileSync(keyPath, `${issued.json.key as string}\n`, { mode: 0o600 });
  return { file: keyPath, key: issued.json.key as string };
}

function config(name: string, document: Record<string, unknown>): string {
  const configPath = file(`${name}.yaml`);
  writeFileSync(
    configPath,
    YAML.stringify({
      heartbeat: { initialIntervalMs: 250 },
      log: { level: 'debug' },
      stateDir: file(`${name}-state`),
      ...document,
    }),
  );
  return configPath;
}

const status = async (clusterId: string) =>
  (await request(`${cp.host.url}${paths.clusterStatus(clusterId)}`, { key: cp.functionKey })).json;

const nodeStatus = async (clusterId: string, nodeId: string) =>
  ((await status(clusterId)).nodes as any[]).find((n) => n.nodeId === nodeId);

function start(configPath: string): AgentProcess {
  const agent = startAgent(['--config', configPath]);
  agents.push(agent);
  return agent;
}

const heartbeatLogs = (agent: AgentProcess) => agent.logs.filter((r) => r.msg === 'heartbeat');

it('heartbeats over HTTPS (CA bundle) with its checks, takes the active role, and comes back standby after a crash with its sequence and epoch', async () => {
  await declare('hb', ['head-a', 'head-b']);
  const key = await keyFile('hb', 'head-a');
  const configPath = config('hb-a', {
    cluster: 'hb',
    node: 'head-a',
    controlPlane: { url: proxy.url, caFile: certs.caFile },
    key: { file: key.file, version: 1 },
    lease: { fenceMarginMs: 300 },
    checks: [
      { name: 'database', type: 'command', command: ['sh', '-c', 'echo "mysql ok"'] },
      { name: 'status', type: 'command', command: ['sh', '-c', 'echo "2 of 3 services"; exit 1'] },
      { name: 'failoverping', type: 'tcp', host: '127.0.0.1', port: proxy.port },
      { name: 'api', type: 'http', url: `${cp.host.url}${paths.health()}` },
      { name: 'gpu', type: 'gpu', command: [file('nvidia-smi')] },
    ],
    hooks: {
      promote: { command: [file('record.sh'), file('hb-promote.log')] },
      demote: { command: [file('record.sh'), file('hb-demote.log')] },
      fence: { command: [file('record.sh'), file('hb-fence.log')] },
    },
  });
  const agent = start(configPath);

  const node = await waitFor(
    async () => {
      const n = await nodeStatus('hb', 'head-a');
      return n?.reportedRole === 'active' && n.checks.length === 6 ? n : undefined;
    },
    { description: 'head-a reporting active with its checks', timeoutMs: 15_000 },
  );
  expect(node.checks).toEqual([
    { name: 'database', status: 'ok', detail: 'mysql ok' },
    { name: 'status', status: 'warn', detail: '2 of 3 services' },
    {
      name: 'failoverping',
      status: 'ok',
      detail: expect.stringMatching(/^connected to 127\.0\.0\.1:\d+ in \d+ ms$/),
    },
    { name: 'api', status: 'ok', detail: expect.stringMatching(/^HTTP 200 from /) },
    { name: 'gpu', status: 'ok', detail: '2 GPUs, busiest at 87%, no uncorrected ECC errors' },
    { name: 'hook:promote', status: 'ok', detail: expect.stringMatching(/^promote-1: 1 step ok/) },
  ]);
  expect(lines('hb-promote.log')).toEqual([
    expect.stringMatching(/^\d+ promote promote-1 1 active hb head-a$/),
  ]);
  // The promotion is acknowledged with its step (no operation runs for the cluster: recorded, not delivered).
  const acked = await agent.waitForLog(
    (r) => r.msg === 'command acknowledged' && r.commandId === 'promote-1',
    'the acknowledgement of promote-1',
  );
  expect(acked).toMatchObject({ outcome: 'ok', delivered: false });
  const recorded = await createServices(loadConfig(cp.settings)).commandAcks.get('hb', 'head-a', 'promote-1');
  expect(recorded?.event).toMatchObject({
    clusterId: 'hb',
    nodeId: 'head-a',
    type: 'promote',
    epoch: 1,
    outcome: 'ok',
    steps: [{ name: 'promote-1', exitCode: 0 }],
  });
  // The node key never reaches the logs.
  expect(agent.stdout()).not.toContain(key.key);

  // Crash while active (no chance to demote), then start again.
  const before = heartbeatLogs(agent);
  const lastSeq = Math.max(...before.map((r) => r.seq as number));
  expect(before.at(-1)).toMatchObject({ sentRole: 'active', sentEpoch: 1 });
  await agent.kill('SIGKILL');
  const restarted = start(configPath);
  const starting = await restarted.waitForLog((r) => r.msg === 'starting', 'the start log');
  expect(starting).toMatchObject({ role: 'active', highestEpoch: 1 });
  const first = await restarted.waitForLog(
    (r) => r.msg === 'heartbeat',
    'the first heartbeat after the restart',
  );
  expect(first.seq).toBeGreaterThan(lastSeq);
  // It says it demoted itself under epoch 1 (`demotedAtEpoch`), so the control plane keeps it active under epoch 2.
  expect(first).toMatchObject({ sentRole: 'standby', sentEpoch: 1, replyRole: 'active', replyEpoch: 2 });
  // No lease outlives the process that timed it: the restarted agent demoted and fenced before that heartbeat.
  expect(lines('hb-demote.log')).toEqual([
    expect.stringMatching(/ demote recovery-1-\d+ 1 standby hb head-a$/),
  ]);
  expect(lines('hb-fence.log')).toHaveLength(1);
  const demotedAt = restarted.logs.findIndex((r) => r.msg === 'standby');
  expect(demotedAt).toBeGreaterThanOrEqual(0);
  expect(demotedAt).toBeLessThan(restarted.logs.indexOf(first));
  // It takes the role again only under the new epoch: promote-2 runs once, never a second promote-1.
  await waitFor(async () => (await nodeStatus('hb', 'head-a'))?.reportedRole === 'active', {
    description: 'head-a active again under epoch 2',
  });
  expect(lines('hb-promote.log')).toEqual([
    expect.stringMatching(/ promote promote-1 1 /),
    expect.stringMatching(/ promote promote-2 2 /),
  ]);
  expect(restarted.logs.filter((r) => r.level === 'error')).toEqual([]);
  expect(restarted.logs.some((r) => r.msg === 'heartbeat failed')).toBe(false);
  await restarted.kill('SIGTERM');
});

it('runs a promote hook once although the command is delivered twice, and self-fences before the recorded lease expires when cut off', async () => {
  await declare('promo', ['node-a', 'node-b']);
  const key = await keyFile('promo', 'node-a');
  const own = await startTlsProxy({ key: certs.key, cert: certs.cert, target: cp.host.url });
  proxies.push(own);
  const configPath = config('promo-a', {
    cluster: 'promo',
    node: 'node-a',
    // Pinned with colons, upper case, as `openssl x509 -fingerprint -sha256` prints it.
    controlPlane: {
      url: own.url,
      pinnedSha256: certs.fingerprint.toUpperCase().replace(/(..)(?!$)/g, '$1:'),
    },
    key: { file: key.file, version: 1 },
    // Generous: under a loaded CI machine, spawning the hook process can take hundreds of ms.
    lease: { fenceMarginMs: 1500 },
    hooks: {
      promote: { command: [file('promote-wait.sh'), file('promo-promote.log'), file('promo-release')] },
      demote: { command: [file('record.sh'), file('promo-demote.log')] },
      fence: { command: [file('record.sh'), file('promo-fence.log')] },
    },
  });
  const agent = start(configPath);

  // The promote hook is running; the agent still says standby, so the control plane sends promote-1 again.
  await waitFor(() => lines('promo-promote.log').length === 1, { description: 'the promote hook to start' });
  await agent.waitForLog(
    (r) => r.msg === 'command already seen: not run again' && r.id === 'promote-1',
    'promote-1 delivered a second time',
  );
  expect(
    heartbeatLogs(agent).filter((r) => (r.commands as string[]).includes('promote-1')).length,
  ).toBeGreaterThanOrEqual(2);
  writeFileSync(file('promo-release'), '');
  const node = await waitFor(
    async () => {
      const n = await nodeStatus('promo', 'node-a');
      return n?.reportedRole === 'active' ? n : undefined;
    },
    { description: 'node-a reporting active' },
  );
  expect(node.checks).toEqual([
    { name: 'hook:promote', status: 'ok', detail: expect.stringMatching(/^promote-1: 1 step ok/) },
  ]);
  expect(lines('promo-promote.log')).toEqual([expect.stringMatching(/^\d+ promote-1 1$/)]);

  // Cut the agent off from the control plane.
  await own.stop();
  await waitFor(() => lines('promo-demote.log').length === 1, {
    description: 'the demote hook',
    timeoutMs: 10_000,
  });
  const recorded = await status('promo');
  const demotedAt = Number(lines('promo-demote.log')[0]?.split(' ')[0]);
  expect(recorded.leaseExpiresAt).not.toBeNull();
  expect(demotedAt).toBeLessThan(Date.parse(recorded.leaseExpiresAt as string));
  await waitFor(() => lines('promo-fence.log').length === 1, { description: 'the fence hook' });
  expect(lines('promo-demote.log')[0]).toMatch(/ demote self-fence-1-\d+ 1 standby promo node-a$/);
  expect(Number(lines('promo-fence.log')[0]?.split(' ')[0])).toBeGreaterThanOrEqual(demotedAt);
  await agent.waitForLog((r) => r.msg === 'standby', 'the agent back to standby');
  expect(agent.logs).toContainEqual(
    expect.objectContaining({ level: 'warn', msg: 'lease lapsed: self-fencing' }),
  );

  // `failover-agent status` shows it all from the state directory.
  const shown = await runAgent(['status', '--config', configPath]);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toMatch(/Agent: +running \(pid \d+\)/);
  expect(shown.stdout).toMatch(/Role: +standby/);
  expect(shown.stdout).toMatch(/Epochs: +highest seen 1, demoted under 1/);
  expect(shown.stdout).toMatch(/Lease: +none/);
  expect(shown.stdout).toMatch(/Last heartbeat: +FAILED .*cannot reach 127\.0\.0\.1:\d+: ECONNREFUSED/);
  expect(shown.stdout).toMatch(/promote +OK +promote-1: 1 step ok/);
  expect(shown.stdout).toMatch(/demote +OK +self-fence-1-\d+: 1 step ok/);
  expect(shown.stdout).toMatch(/fence +OK +self-fence-1-\d+: 1 step ok/);
  expect(shown.stdout).toMatch(/Commands: +promote-1 ok/);

  // SIGTERM: a graceful stop (it is standby: nothing to demote).
  expect(await agent.kill('SIGTERM')).toBe(0);
  expect(agent.logs.at(-1)).toMatchObject({ msg: 'stopped', role: 'standby' });
});

it('refuses a control plane whose certificate does not match the pin: sends nothing, says why, exits 3', async () => {
  await declare('pin', ['pin-a', 'pin-b']);
  const key = await keyFile('pin', 'pin-b');
  const impostor = await startTlsProxy({ key: certs.otherKey, cert: certs.otherCert, target: cp.host.url });
  proxies.push(impostor);
  const configPath = config('pin-b', {
    cluster: 'pin',
    node: 'pin-b',
    controlPlane: { url: impostor.url, pinnedSha256: certs.fingerprint, firstContactTimeoutMs: 1500 },
    key: { file: key.file, version: 1 },
  });
  const agent = start(configPath);
  const failure = await agent.waitForLog((r) => r.msg === 'heartbeat failed', 'the failed heartbeat');
  expect(failure.level).toBe('error');
  expect(failure.error).toMatch(/^the certificate of 127\.0\.0\.1:\d+ does not match the pinned fingerprint/);
  expect(failure.error).toContain(certs.otherFingerprint.slice(0, 2).toUpperCase());
  expect(await agent.exited).toBe(3);
  expect(agent.stderr()).toMatch(
    /cannot reach the control plane at https:\/\/127\.0\.0\.1:\d+ within 1500 ms: the certificate/,
  );
  expect(agent.stderr()).not.toMatch(/\n\s+at /);
  // Nothing was sent through the impostor, and the control plane recorded nothing for the node.
  expect(impostor.requests).toEqual([]);
  expect((await nodeStatus('pin', 'pin-b')).lastHeartbeatAgeMs).toBeNull();
});

it('goes on above the lastAcceptedSeq of the 409 when its state directory was lost', async () => {
  await declare('lost', ['lost-a', 'lost-b']);
  const key = await keyFile('lost', 'lost-b');
  const configPath = config('lost-b', {
    cluster: 'lost',
    node: 'lost-b',
    controlPlane: { url: proxy.url, caFile: certs.caFile },
    key: { file: key.file, version: 1 },
  });
  const agent = start(configPath);
  await agent.waitForLog((r) => r.msg === 'heartbeat' && (r.seq as number) >= 3, 'three accepted heartbeats');
  await agent.kill('SIGKILL');
  const lastSeq = Math.max(...heartbeatLogs(agent).map((r) => r.seq as number));
  // The state directory (and the sequence numbers it reserved) is gone: the agent starts again from 1.
  rmSync(file('lost-b-state'), { recursive: true, force: true });
  const restarted = start(configPath);
  const refused = await restarted.waitForLog((r) => r.msg === 'heartbeat failed', 'the refused heartbeat');
  expect(refused).toMatchObject({ httpStatus: 409, error: expect.stringContaining('ReplayedSequence') });
  const accepted = await restarted.waitForLog((r) => r.msg === 'heartbeat', 'an accepted heartbeat');
  expect(accepted.seq).toBeGreaterThan(lastSeq);
  // One refusal, not one per lost number: the next heartbeat already went above the number the 409 named.
  const failures = restarted.logs.filter((r) => r.msg.startsWith('heartbeat failed'));
  expect(failures).toHaveLength(1);
  await restarted.kill('SIGTERM');
});
