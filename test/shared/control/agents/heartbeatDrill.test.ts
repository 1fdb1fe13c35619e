import type { RunningAzurite } from '../../../../devhost';
import { declareCluster } from '../../../../shared/control/clusters/clusterAdmin';
import type { ClusterState } from '../../../../shared/domain/clusterState';
import { revoke } from '../../../../shared/domain/decisions';
import type { Services } from '../../../../shared/services/services';
import { servicesOnAzurite } from '../../../helpers/servicesOnAzurite';

/**
 * The heartbeat path's side of drills: the hooks an agent reports and its clock skew are recorded on the heartbeat
 * (the standby's row, the active's heartbeat in the state), and a failover drill's `drill-silence` command goes to
 * the named active only, under the drill's epoch, and never once the state is revoked.
 */
let azurite: RunningAzurite;
let services: Services;
const T0 = Date.UTC(2031, 9, 1);
let clock = T0;
let seq = 0;

beforeAll(async () => {
  ({ azurite, services } = await servicesOnAzurite('Hbd', () => clock));
});
afterAll(async () => {
  await azurite.stop();
});

async function beat(
  clusterId: string,
  nodeId: string,
  role: 'active' | 'standby',
  options: { epoch?: number; hooks?: string[]; timestamp?: number } = {},
) {
  const outcome = await services.agents.heartbeats.handle(
    { ok: true, clusterId, nodeId, keyVersion: 1, seq: ++seq, timestamp: options.timestamp ?? clock },
    Buffer.from(
      JSON.stringify({
        role,
        epoch: options.epoch ?? 1,
        checks: [{ name: 'ping', status: 'ok' }],
        ...(options.hooks ? { hooks: options.hooks } : {}),
      }),
    ),
  );
  if (!outcome.ok) throw new Error(JSON.stringify(outcome));
  return outcome.reply;
}

async function declare(id: string) {
  await declareCluster(
    services,
    id,
    {
      id,
      kind: 'active-passive',
      nodes: [
        { id: 'head-a', role: 'active', site: { cloud: 'on-prem', region: 'hall-1' } },
        { id: 'head-b', role: 'standby', site: { cloud: 'on-prem', region: 'hall-2' } },
      ],
    },
    'test',
  );
}

async function changeState(clusterId: string, change: (state: ClusterState) => ClusterState) {
  const stored = (await services.clusters.getState(clusterId))!;
  const written = await services.clusters.replaceState(change(stored.state), stored.etag);
  expect(written.ok).toBe(true);
  clock += 1500; // past the heartbeat path's cached state
}

const drillCommands = (reply: { commands: { type: string }[] }) =>
  reply.commands.filter((c) => c.type === 'drill-silence');

it('records the hooks and the clock skew on the standby row and on the active heartbeat in the state', async () => {
  clock = T0;
  await declare('hd1');
  await beat('hd1', 'head-a', 'active', { hooks: ['promote', 'demote', 'fence'], timestamp: clock - 250 });
  await beat('hd1', 'head-b', 'standby', { hooks: ['promote', 'fence-peer'], timestamp: clock + 400 });
  const state = (await services.clusters.getState('hd1'))!.state;
  expect(state.activeHeartbeat).toMatchObject({
    nodeId: 'head-a',
    hooks: ['promote', 'demote', 'fence'],
    clockSkewMs: 250,
  });
  const row = (await services.heartbeats.get('hd1', 'head-b'))!.record;
  expect(row).toMatchObject({ hooks: ['promote', 'fence-peer'], clockSkewMs: -400 });
  expect(await services.heartbeats.listForCluster('hd1')).toContainEqual(
    expect.objectContaining({ nodeId: 'head-b', hooks: ['promote', 'fence-peer'], clockSkewMs: -400 }),
  );
  // An agent that reports no hooks (an older one): none recorded, the skew still is.
  clock += 10;
  await beat('hd1', 'head-b', 'standby', { timestamp: clock });
  const older = (await services.heartbeats.get('hd1', 'head-b'))!.record;
  expect(older.hooks).toBeUndefined();
  expect(older.clockSkewMs).toBe(0);
});

it('sends drill-silence to the named active under the drill epoch, to nobody else, and not once revoked', async () => {
  clock = T0;
  await declare('hd2');
  await beat('hd2', 'head-a', 'active');
  expect(drillCommands(await beat('hd2', 'head-a', 'active'))).toEqual([]);
  await changeState('hd2', (s) => ({
    ...s,
    drillSilence: { nodeId: 'head-a', epoch: s.epoch, silenceMs: 8000, drillId: 'drill-k1' },
  }));
  const active = await beat('hd2', 'head-a', 'active');
  expect(active.role).toBe('active');
  expect(drillCommands(active)).toEqual([
    {
      id: 'drill-silence-drill-k1',
      type: 'drill-silence',
      epoch: 1,
      silenceMs: 8000,
      clusterId: 'hd2',
      nodeId: 'head-a',
    },
  ]);
  // Repeated in every answer to the active while the drill asks for it (the agent runs it once).
  expect(drillCommands(await beat('hd2', 'head-a', 'active'))).toHaveLength(1);
  // Never to the standby.
  expect(drillCommands(await beat('hd2', 'head-b', 'standby'))).toEqual([]);
  // Revoked (the silence was detected, a failover runs): no more.
  await changeState('hd2', (s) => revoke(s, clock, 'failover'));
  const revoked = await beat('hd2', 'head-a', 'active');
  expect(revoked.role).toBe('standby');
  expect(drillCommands(revoked)).toEqual([]);
});

it('sends nothing for a drill under an older epoch, or naming a node that is not the active', async () => {
  clock = T0;
  await declare('hd3');
  await beat('hd3', 'head-a', 'active');
  await changeState('hd3', (s) => ({
    ...s,
    epoch: 2,
    leaseExpiresAt: null,
    reason: 'raised for the test',
    drillSilence: { nodeId: 'head-a', epoch: 1, silenceMs: 8000, drillId: 'drill-old' },
  }));
  const current = await beat('hd3', 'head-a', 'active', { epoch: 2 });
  expect(current).toMatchObject({ role: 'active', epoch: 2 });
  expect(drillCommands(current)).toEqual([]);
  await changeState('hd3', (s) => ({
    ...s,
    drillSilence: { nodeId: 'head-b', epoch: 2, silenceMs: 8000, drillId: 'drill-b' },
  }));
  expect(drillCommands(await beat('hd3', 'head-b', 'standby', { epoch: 2 }))).toEqual([]);
  expect(drillCommands(await beat('hd3', 'head-a', 'active', { epoch: 2 }))).toEqual([]);
  // The same drill under the current epoch, naming the active: sent.
  await changeState('hd3', (s) => ({
    ...s,
    drillSilence: { nodeId: 'head-a', epoch: 2, silenceMs: 8000, drillId: 'drill-now' },
  }));
  expect(drillCommands(await beat('hd3', 'head-a', 'active', { epoch: 2 }))).toEqual([
    expect.objectContaining({ id: 'drill-silence-drill-now', epoch: 2 }),
  ]);
});
