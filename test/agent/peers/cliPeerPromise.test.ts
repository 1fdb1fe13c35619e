import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { systemClock } from '../../../agent/clock';
import { PeerClient } from '../../../agent/peers/peerClient';
import { PROMISES_FILE, readBootId } from '../../../agent/peers/promiseStore';
import { promiseMarginMs } from '../../../shared/domain/peerPromises';
import { assertBuilt, runAgent, startAgent, type AgentProcess } from '../helpers/agentProcess';

/**
 * The built agent (bin/failover-agent.js) as a real process: it serves the peer listener, persists a promise before
 * answering, and a new process over the same state directory — after a SIGKILL — is still bound, for what was left
 * of the promise on this boot's CLOCK_MONOTONIC. No control plane is reachable (it keeps trying).
 */

const peerKey = randomBytes(32);
let dir: string;
const agents: AgentProcess[] = [];

beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'fp-agent-peer-e2e-'));
  writeFileSync(path.join(dir, 'node.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
  writeFileSync(path.join(dir, 'peer.key'), peerKey.toString('base64'), { mode: 0o600 });
  writeFileSync(
    path.join(dir, 'agent.yaml'),
    [
      'cluster: c1',
      'node: n2',
      'controlPlane:',
      '  url: http://127.0.0.1:9',
      '  allowInsecureHttp: true',
      '  firstContactTimeoutMs: 0',
      '  requestTimeoutMs: 500',
      'key: { file: node.key }',
      'stateDir: state',
      'heartbeat: { initialIntervalMs: 200, maxBackoffMs: 400 }',
      'peerListener: { address: 127.0.0.1, port: 0, keyFile: peer.key }',
      'log: { level: debug }',
    ].join('\n'),
  );
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill('SIGKILL')));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<{ agent: AgentProcess; url: string }> {
  const agent = startAgent(['run', '--config', path.join(dir, 'agent.yaml')]);
  agents.push(agent);
  const started = await agent.waitForLog((r) => r.msg === 'peer listener started', 'the peer listener');
  return { agent, url: `http://127.0.0.1:${String(started.port)}` };
}

const client = (nodeId: string) => {
  let seq = 0;
  return new PeerClient({
    clusterId: 'c1',
    nodeId,
    key: peerKey,
    nextSeq: () => Promise.resolve(++seq),
    clock: systemClock,
  });
};

it('gives a promise, keeps it on disk and is still bound after a SIGKILL and a restart', async () => {
  const first = await start();
  const n1 = client('n1');
  const duration = 60_000;
  const full = duration + promiseMarginMs(duration);
  const askedAt = Date.now();
  const granted = await n1.askPromise(
    { nodeId: 'n2', url: first.url },
    { epoch: 3, durationMs: duration },
    5000,
  );
  expect(granted).toMatchObject({
    ok: true,
    status: 200,
    answer: { granted: true, epoch: 3, durationMs: duration },
  });

  // On disk before the answer, with this boot's id.
  const saved = JSON.parse(readFileSync(path.join(dir, 'state', PROMISES_FILE), 'utf8')) as {
    bootId: string | null;
    promises: { to: string; epoch: number }[];
  };
  expect(saved.bootId).toBe(readBootId());
  expect(saved.promises).toEqual([expect.objectContaining({ to: 'n1', epoch: 3 }) as unknown]);
  // The highest epoch was raised with it.
  const state = JSON.parse(readFileSync(path.join(dir, 'state', 'state.json'), 'utf8')) as {
    highestEpoch: number;
  };
  expect(state.highestEpoch).toBe(3);

  await first.agent.kill('SIGKILL');
  const second = await start();
  const bound = await second.agent.waitForLog(
    (r) => r.msg === 'bound by a promise given before the restart: no promotion until it ends',
    'the restarted agent bound by the promise',
  );
  expect(bound).toMatchObject({ to: 'n1', epoch: 3 });
  // Same boot: exactly what was left (not the full length again).
  const elapsed = Date.now() - askedAt;
  expect(bound.remainingMs).toBeLessThanOrEqual(full);
  expect(bound.remainingMs).toBeGreaterThan(full - elapsed - 2000);
  if (readBootId() !== null) expect(bound.remainingMs).toBeLessThan(full - 1);

  // Bound to n1 under epoch 3: n3 gets no promise under that epoch.
  const n3 = await client('n3').askPromise(
    { nodeId: 'n2', url: second.url },
    { epoch: 3, durationMs: 5000 },
    5000,
  );
  expect(n3).toMatchObject({ ok: true, status: 409, answer: { granted: false, code: 'bound-to-another' } });

  // `failover-agent status` shows the promise.
  const status = await waitForStatus();
  expect(status).toMatch(/Promise given: {3}to n1 under epoch 3 until/);
  await second.agent.kill('SIGTERM');
});

async function waitForStatus(): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { stdout } = await runAgent(['status', '--config', path.join(dir, 'agent.yaml')]);
    if (stdout.includes('Promise given:') || Date.now() > deadline) return stdout;
    await new Promise((r) => setTimeout(r, 100));
  }
}
