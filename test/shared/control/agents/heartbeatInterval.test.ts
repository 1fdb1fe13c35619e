import type { RunningAzurite } from '../../../../devhost';
import { declareCluster } from '../../../../shared/control/clusters/clusterAdmin';
import { hastenHeartbeats } from '../../../../shared/control/agents/hastenHeartbeats';
import { promote, revoke } from '../../../../shared/domain/decisions';
import type { Services } from '../../../../shared/services/services';
import { servicesOnAzurite } from '../../../helpers/servicesOnAzurite';

/**
 * The interval a heartbeat answer tells the agent: the document's in steady state, a tenth of it while it matters —
 * the active about to miss its window (so a standby sees the silence at once), a failover under way, a new active
 * not yet verified, a make-active plan just shown.
 */
let azurite: RunningAzurite;
let services: Services;
const T0 = Date.UTC(2031, 9, 1);
let clock = T0;
let seq = 0;

beforeAll(async () => {
  ({ azurite, services } = await servicesOnAzurite('Hbi', () => clock));
});
afterAll(async () => {
  await azurite.stop();
});

async function beat(clusterId: string, nodeId: string, role: 'active' | 'standby', epoch = 1) {
  const outcome = await services.agents.heartbeats.handle(
    { ok: true, clusterId, nodeId, keyVersion: 1, seq: ++seq, timestamp: clock },
    Buffer.from(JSON.stringify({ role, epoch, checks: [{ name: 'ping', status: 'ok' }] })),
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
      // 1 s heartbeats, 5 missed: the window is 5 s; urgent is 100 ms
    },
    'test',
  );
}

it('tells a standby to heartbeat fast only once the active is about to miss its window', async () => {
  clock = T0;
  await declare('hi1');
  // head-a heartbeats twice as the active; then it goes silent
  await beat('hi1', 'head-a', 'active');
  await beat('hi1', 'head-a', 'active');
  expect((await beat('hi1', 'head-b', 'standby')).heartbeatIntervalMs).toBe(1000);
  clock = T0 + 3500;
  expect((await beat('hi1', 'head-b', 'standby')).heartbeatIntervalMs).toBe(1000);
  clock = T0 + 4000; // one interval before the window ends
  expect((await beat('hi1', 'head-b', 'standby')).heartbeatIntervalMs).toBe(100);
  // the active heard again: back to normal
  await beat('hi1', 'head-a', 'active');
  clock += 1200; // past the standby's cached state
  expect((await beat('hi1', 'head-b', 'standby')).heartbeatIntervalMs).toBe(1000);
});

it('tells everybody to heartbeat fast while a failover is under way, and the new active until it is verified', async () => {
  clock = T0;
  await declare('hi2');
  await beat('hi2', 'head-a', 'active');
  const stored = (await services.clusters.getState('hi2'))!;
  await services.clusters.replaceState(revoke(stored.state, clock, 'failover'), stored.etag);
  clock += 1500; // past the cached state
  expect((await beat('hi2', 'head-b', 'standby')).heartbeatIntervalMs).toBe(100);
});

it('the active in steady state heartbeats at the document interval', async () => {
  clock = T0;
  await declare('hi3');
  expect((await beat('hi3', 'head-a', 'standby')).heartbeatIntervalMs).toBe(100); // granted, not yet verified
  expect((await beat('hi3', 'head-a', 'active')).heartbeatIntervalMs).toBe(100); // 1 of 2 healthy heartbeats
  expect((await beat('hi3', 'head-a', 'active')).heartbeatIntervalMs).toBe(1000); // verified
  expect((await beat('hi3', 'head-a', 'active')).heartbeatIntervalMs).toBe(1000);
});

it('hastens every node until the given time once a plan is shown, and a promotion ends it', async () => {
  clock = T0;
  await declare('hi4');
  await beat('hi4', 'head-a', 'active');
  await beat('hi4', 'head-a', 'active'); // verified
  expect((await beat('hi4', 'head-b', 'standby')).heartbeatIntervalMs).toBe(1000);
  expect(await hastenHeartbeats(services, 'hi4', ['head-a', 'head-b'], clock + 60_000)).toBe(true);
  // Both learn it at their next heartbeat: the standby's row was nudged, the active's write finds a new state.
  expect((await beat('hi4', 'head-b', 'standby')).heartbeatIntervalMs).toBe(100);
  expect((await beat('hi4', 'head-a', 'active')).heartbeatIntervalMs).toBe(100);
  // A second plan never shortens it.
  expect(await hastenHeartbeats(services, 'hi4', ['head-b'], clock + 1000)).toBe(true);
  expect((await services.clusters.getState('hi4'))!.state.hastenUntil).toBe(T0 + 60_000);
  clock = T0 + 60_000; // the operator never confirmed
  await beat('hi4', 'head-a', 'active');
  expect((await beat('hi4', 'head-a', 'active')).heartbeatIntervalMs).toBe(1000);
  clock += 1200;
  expect((await beat('hi4', 'head-b', 'standby')).heartbeatIntervalMs).toBe(1000);
});

it('a promotion clears the hint: the new active is urgent only until verified', async () => {
  clock = T0;
  await declare('hi5');
  await beat('hi5', 'head-a', 'active');
  await hastenHeartbeats(services, 'hi5', ['head-b'], clock + 60_000);
  const stored = (await services.clusters.getState('hi5'))!;
  const revoked = revoke(stored.state, clock, 'make-active');
  const written = await services.clusters.replaceState(
    promote({ ...revoked, fenced: true }, 'head-b', clock, 500, 'make-active'),
    stored.etag,
  );
  expect(written.ok).toBe(true);
  expect((await services.clusters.getState('hi5'))!.state.hastenUntil).toBeUndefined();
  clock += 1500;
  expect((await beat('hi5', 'head-b', 'active', 2)).heartbeatIntervalMs).toBe(100); // 1 of 2
  expect((await beat('hi5', 'head-b', 'active', 2)).heartbeatIntervalMs).toBe(1000); // verified: no hint left
});
