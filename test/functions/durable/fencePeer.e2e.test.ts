import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { paths } from '../../../shared/contracts/routes';
import { assertBuilt, startAgent, type AgentProcess } from '../../agent/helpers/agentProcess';
import { startControlPlane, type ControlPlane } from '../../helpers/controlPlane';
import { request } from '../../helpers/durableHttp';
import { waitFor } from '../../helpers/waitFor';

/**
 * The BCM way of fencing, end to end: two on-prem head nodes (no cloud to power anything off) whose standby is the
 * cluster's fencer. Real agent processes against the control plane in the devhost; the active's agent is killed;
 * the detector's failover asks the standby's agent to fence it (`fence-peer`, its hook standing in for ipmitool);
 * the acknowledgement fences the revoked epoch, so the standby is promoted long before the dead active's lease
 * (8 s here) would have run out.
 */
const DETECTION = { heartbeatIntervalMs: 250, missedHeartbeats: 4, leaseMs: 8000, driftMarginMs: 250 };

let cp: ControlPlane;
let dir: string;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'fp-fence-peer-'));
  cp = await startControlPlane();
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill('SIGKILL')));
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const file = (name: string) => path.join(dir, name);
function script(name: string, ...lines: string[]): string {
  writeFileSync(file(name), `#!/bin/sh\n${lines.join('\n')}\n`);
  chmodSync(file(name), 0o755);
  return file(name);
}
const api = async (route: string) => (await request(`${cp.host.url}${route}`, { key: cp.functionKey })).json;

async function agentFor(nodeId: string, extra: Record<string, unknown>): Promise<AgentProcess> {
  const issued = await request(`${cp.host.url}${paths.nodeKey('bcm', nodeId)}`, {
    method: 'POST',
    key: cp.adminKey,
  });
  expect(issued.status).toBe(201);
  writeFileSync(file(`${nodeId}.key`), `${issued.json.key as string}\n`, { mode: 0o600 });
  const record = script(
    `${nodeId}-record.sh`,
    `echo "$FP_OPERATION $FP_EPOCH" >> ${file(`${nodeId}-hooks.log`)}`,
  );
  writeFileSync(
    file(`${nodeId}.yaml`),
    YAML.stringify({
      cluster: 'bcm',
      node: nodeId,
      controlPlane: { url: cp.host.url, allowInsecureHttp: true },
      key: { file: file(`${nodeId}.key`), version: 1 },
      heartbeat: { initialIntervalMs: 250 },
      stateDir: file(`${nodeId}-state`),
      log: { level: 'debug' },
      hooks: {
        promote: { command: [record] },
        demote: { command: [record] },
        fence: { command: [record] },
      },
      ...extra,
    }),
  );
  const agent = startAgent(['--config', file(`${nodeId}.yaml`)]);
  agents.push(agent);
  return agent;
}

it('the fencer powers the dead active off through its fence-peer hook and the standby takes over before the lease would end', async () => {
  const declared = await request(`${cp.host.url}${paths.cluster('bcm')}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: {
      id: 'bcm',
      kind: 'active-passive',
      nodes: [
        { id: 'head-a', role: 'active', site: { cloud: 'on-prem', region: 'hall-1' } },
        { id: 'head-b', role: 'standby', site: { cloud: 'on-prem', region: 'hall-1' } },
      ],
      detection: DETECTION,
      failover: { fencerNodeId: 'head-b', cooldownMs: 0 },
    },
  });
  expect(declared.status).toBe(201);
  // head-b's fence-peer hook: what ipmitool would do, recorded with what it was told
  const fencePeer = script(
    'fence-peer.sh',
    `echo "$FP_TARGET_NODE $FP_EPOCH $FP_BMC_ADDRESS" >> ${file('fence-peer.log')}`,
    'echo "Chassis Power Control: Down/Off"',
  );
  const headA = await agentFor('head-a', {});
  await agentFor('head-b', {
    hooks: {
      promote: {
        command: [script('b-promote.sh', `echo "promote $FP_EPOCH" >> ${file('head-b-hooks.log')}`)],
      },
      demote: { command: ['true'] },
      fence: { command: ['true'] },
      fencePeer: { command: [fencePeer] },
    },
    peers: { 'head-a': { bmc: { address: 'head-a-ipmi.hall-1', user: 'fencer' } } },
  });
  await waitFor(
    async () => {
      const status = await api(paths.clusterStatus('bcm'));
      return (
        status.activeNodeId === 'head-a' &&
        status.leaseRemainingMs > 0 &&
        status.nodes.every((n: any) => n.lastHeartbeatAgeMs !== null)
      );
    },
    { timeoutMs: 20_000, description: 'head-a active and both agents heard' },
  ).catch(async (error: Error) => {
    throw new Error(
      `${error.message}\n${JSON.stringify(await api(paths.clusterStatus('bcm')))}\n${agents.map((a) => a.stderr().slice(-1000) + a.stdout().slice(-1500)).join('\n---\n')}`,
    );
  });

  await headA.kill('SIGKILL');
  const killedAt = Date.now();
  const operation = await waitFor(
    async () => {
      const { operations } = await api(paths.operations('bcm'));
      const failover = (operations as any[]).find((o) => o.kind === 'failover' && o.status === 'succeeded');
      return failover ? (await api(paths.operation('bcm', failover.operationId))).operation : undefined;
    },
    { timeoutMs: 30_000, description: 'a succeeded failover' },
  );
  expect(operation).toMatchObject({ toEpoch: 2, trigger: { kind: 'detector' } });
  const steps = operation.steps as any[];
  const ids = steps.map((s) => s.id);
  expect(ids).toEqual(
    expect.arrayContaining([
      'revoke-1',
      'ack-head-b-fence-peer-head-a-1',
      'fenced-head-a-1',
      'promote-head-b-2',
      'verify-head-b-2',
    ]),
  );
  expect(steps.find((s) => s.id === 'fenced-head-a-1').detail.evidence).toBe(
    'head-b fenced head-a through its fence-peer hook (epoch 1)',
  );
  // the hook ran once, told which node, which epoch and which BMC
  expect(readFileSync(file('fence-peer.log'), 'utf8').trim().split('\n')).toEqual([
    'head-a 1 head-a-ipmi.hall-1',
  ]);
  expect(steps.find((s) => s.id === 'ack-head-b-fence-peer-head-a-1')).toMatchObject({
    outcome: 'ok',
    detail: {
      hookSteps: [expect.objectContaining({ exitCode: 0, outputTail: expect.stringContaining('Down/Off') })],
    },
  });
  // promoted well before the dead active's lease (8 s from its last heartbeat) plus the margin would have ended
  const promotedAt = steps.find((s) => s.id === 'promote-head-b-2').startedAt as number;
  expect(promotedAt - killedAt).toBeLessThan(DETECTION.leaseMs);
  // head-b is the verified active, its promote hook ran once under epoch 2
  const status = await api(paths.clusterStatus('bcm'));
  expect(status).toMatchObject({ activeNodeId: 'head-b', epoch: 2 });
  expect(existsSync(file('head-b-hooks.log')) && readFileSync(file('head-b-hooks.log'), 'utf8').trim()).toBe(
    'promote 2',
  );
});
