import { InstanceIds, Orchestrations } from '../../../orchestrations/contracts';
import { paths } from '../../../shared/contracts/routes';
import type { ClusterOperationInput } from '../../../shared/control/operations/clusterOperationTypes';
import { request } from '../../helpers/durableHttp';
import { agentRequest, startControlPlane, type ControlPlane } from '../../helpers/controlPlane';

/**
 * A planned make-active end to end through the devhost: the orchestration, the heartbeat path that turns the state
 * into commands, signed acknowledgements, the witness and the operation record. The two agents are played by the
 * test with signed requests, as the real agent sends them.
 */
let cp: ControlPlane;
const keys: Record<string, Buffer> = {};
const seq: Record<string, number> = { 'head-a': 0, 'head-b': 0 };

beforeAll(async () => {
  cp = await startControlPlane();
  const declared = await request(`${cp.host.url}${paths.cluster('e2e')}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: {
      id: 'e2e',
      kind: 'active-passive',
      nodes: [
        { id: 'head-a', role: 'active', site: { cloud: 'on-prem', region: 'hall-1' } },
        { id: 'head-b', role: 'standby', site: { cloud: 'on-prem', region: 'hall-2' } },
      ],
      detection: { heartbeatIntervalMs: 250, missedHeartbeats: 8, leaseMs: 4000, driftMarginMs: 500 },
      failover: { rpoObjectiveMs: 1000 },
    },
  });
  expect(declared.status).toBe(201);
  for (const node of ['head-a', 'head-b']) {
    const issued = await request(`${cp.host.url}${paths.nodeKey('e2e', node)}`, {
      method: 'POST',
      key: cp.adminKey,
    });
    keys[node] = Buffer.from(issued.json.key, 'base64');
  }
});
afterAll(async () => {
  await cp.stop();
});

const signed = (nodeId: string, path: string, body: unknown) =>
  agentRequest(`${cp.host.url}${path}`, {
    clusterId: 'e2e',
    nodeId,
    key: keys[nodeId] as Buffer,
    seq: (seq[nodeId] = (seq[nodeId] ?? 0) + 1),
    body,
  });
const heartbeat = (nodeId: string, role: 'active' | 'standby', epoch: number) =>
  signed(nodeId, paths.agentHeartbeat(), {
    role,
    epoch,
    checks: [{ name: 'ping', status: 'ok' }],
    replicationLagMs: 20,
  });
const ack = (nodeId: string, command: { id: string; type: string; epoch: number }) =>
  signed(nodeId, paths.agentAck(), {
    commandId: command.id,
    type: command.type,
    epoch: command.epoch,
    outcome: 'ok',
    steps: [{ name: command.type, exitCode: 0, durationMs: 40, outputTail: `${command.type} done` }],
  });

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it('switches the active role to the target on its acknowledgements, records every step, and verifies it', async () => {
  expect((await heartbeat('head-a', 'active', 1)).json).toMatchObject({
    role: 'active',
    lease: { durationMs: 4000 },
  });
  expect((await heartbeat('head-b', 'standby', 1)).json).toMatchObject({ role: 'standby' });

  const input: ClusterOperationInput = {
    clusterId: 'e2e',
    operationId: 'make-active-e2e',
    kind: 'make-active',
    targetNodeId: 'head-b',
    force: false,
    trigger: { kind: 'api' },
    actor: 'admin',
    reason: 'maintenance of head-a',
    avoidRegions: [],
    requestedAt: Date.now(),
  };
  const code = cp.host.keys.systemKeys.durabletask_extension;
  const api = `${cp.host.url}/runtime/webhooks/durabletask`;
  const instanceId = InstanceIds.clusterOperation('e2e');
  const started = await request(
    `${api}/orchestrators/${Orchestrations.clusterOperation}/${instanceId}?code=${code}`,
    {
      method: 'POST',
      body: input,
    },
  );
  expect(started.status).toBe(202);

  // head-a keeps heartbeating as active until its answer tells it to demote (its lease was revoked), then does.
  const demote = await until(
    'the demote command',
    () => heartbeat('head-a', 'active', 1),
    (r) => r.json?.commands?.some((c: { type: string }) => c.type === 'demote'),
  );
  expect(demote.json).toMatchObject({ role: 'standby', lease: null });
  const demoteCommand = demote.json.commands.find((c: { type: string }) => c.type === 'demote');
  expect(demoteCommand).toMatchObject({ id: 'demote-1', epoch: 1, clusterId: 'e2e', nodeId: 'head-a' });
  expect((await ack('head-a', demoteCommand)).json).toMatchObject({ recorded: true });
  await heartbeat('head-a', 'standby', 1);

  // head-b is told to take over under epoch 2, acknowledges, and heartbeats as the active.
  const promote = await until(
    'the promote command',
    () => heartbeat('head-b', 'standby', 1),
    (r) => r.json?.role === 'active',
  );
  const promoteCommand = promote.json.commands.find((c: { type: string }) => c.type === 'promote');
  expect(promoteCommand).toMatchObject({ id: 'promote-2', epoch: 2, nodeId: 'head-b' });
  await ack('head-b', promoteCommand);
  expect((await heartbeat('head-b', 'active', 2)).json).toMatchObject({ role: 'active', epoch: 2 });

  // It keeps heartbeating as the active (the operation verifies it by two healthy heartbeats as the active).
  const done = await until(
    'the operation to end',
    async () => {
      await heartbeat('head-b', 'active', 2);
      return (await request(`${api}/instances/${instanceId}?code=${code}`)).json;
    },
    (s) => s?.runtimeStatus === 'Completed',
  );
  expect(done.output).toMatchObject({ status: 'succeeded', activeNodeId: 'head-b', epoch: 2 });

  const operation = (
    await request(`${cp.host.url}${paths.operation('e2e', 'make-active-e2e')}`, { key: cp.functionKey })
  ).json.operation;
  expect(operation).toMatchObject({ status: 'succeeded', toEpoch: 2, kind: 'make-active', actor: 'admin' });
  const ids = operation.steps.map((s: { id: string }) => s.id) as string[];
  // The runbook in order; an acknowledgement is recorded when a turn reads it: the demote command goes out with the
  // revocation (the heartbeat path tells a revoked active), so its ack may be read before the demote step is recorded.
  expect(ids.filter((id) => !id.startsWith('ack-'))).toEqual([
    'revoke-1',
    'demote-head-a-1',
    'fenced-head-a-1',
    'promote-head-b-2',
    'verify-head-b-2',
  ]);
  const at = (id: string) => ids.indexOf(id);
  expect(at('ack-head-a-demote-1')).toBeGreaterThan(at('revoke-1'));
  expect(at('ack-head-a-demote-1')).toBeLessThan(at('fenced-head-a-1'));
  expect(at('ack-head-b-promote-2')).toBeGreaterThan(at('promote-head-b-2'));
  expect(at('ack-head-b-promote-2')).toBeLessThan(at('verify-head-b-2'));
  // the agents' acknowledgements are on the record with their hook steps
  expect(operation.steps.find((s: { id: string }) => s.id === 'ack-head-b-promote-2')).toMatchObject({
    outcome: 'ok',
    detail: { hookSteps: [{ name: 'promote', exitCode: 0, durationMs: 40, outputTail: 'promote done' }] },
  });
  const status = (await request(`${cp.host.url}${paths.clusterStatus('e2e')}`, { key: cp.functionKey })).json;
  expect(status).toMatchObject({
    epoch: 2,
    activeNodeId: 'head-b',
    witness: { epoch: 2, activeNodeId: 'head-b' },
  });
  // head-a, still heartbeating under epoch 1, stays a standby: the old active never acts again.
  expect((await heartbeat('head-a', 'standby', 1)).json).toMatchObject({
    role: 'standby',
    epoch: 2,
    lease: null,
  });
});
