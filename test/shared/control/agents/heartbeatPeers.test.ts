import type { RunningAzurite } from '../../../../devhost';
import { declareCluster } from '../../../../shared/control/clusters/clusterAdmin';
import { hastenHeartbeats } from '../../../../shared/control/agents/hastenHeartbeats';
import { detectFailures } from '../../../../shared/control/detection/failureDetector';
import { heartbeatReplySchema, type HeartbeatReply } from '../../../../shared/contracts/agentApi';
import { confirmFenced, promote, revoke } from '../../../../shared/domain/decisions';
import type { ClusterState } from '../../../../shared/domain/clusterState';
import { MAX_PROMISE_MS, promiseMarginMs } from '../../../../shared/domain/peerPromises';
import type { Services } from '../../../../shared/services/services';
import { servicesOnAzurite } from '../../../helpers/servicesOnAzurite';

/**
 * Peer promises on the heartbeat path (issue 15): the promotable set each epoch records, the `peers` and `revoked`
 * of the answers, the `peer` part of the heartbeat rows, and a standby's promise to the active recorded in the state
 * (`peerConfirmed`) — at most about one extra state write per heartbeat interval.
 */
let azurite: RunningAzurite;
let services: Services;
const T0 = Date.UTC(2031, 10, 1);
let clock = T0;
let seq = 0;

beforeAll(async () => {
  ({ azurite, services } = await servicesOnAzurite('HbPeers', () => clock));
});
afterAll(async () => {
  await azurite.stop();
});
afterEach(() => {
  jest.restoreAllMocks();
});

const A = 'http://10.0.0.1:7400';
const B = 'http://10.0.0.2:7400';

async function beat(
  clusterId: string,
  nodeId: string,
  role: 'active' | 'standby',
  extra: Record<string, unknown> = {},
  epoch = 1,
  on: Services = services,
): Promise<HeartbeatReply> {
  const outcome = await on.agents.heartbeats.handle(
    { ok: true, clusterId, nodeId, keyVersion: 1, seq: ++seq, timestamp: clock },
    Buffer.from(JSON.stringify({ role, epoch, checks: [{ name: 'ping', status: 'ok' }], ...extra })),
  );
  if (!outcome.ok) throw new Error(JSON.stringify(outcome));
  return outcome.reply;
}

const document = (id: string, nodes = ['head-a', 'head-b'], detection: Record<string, unknown> = {}) => ({
  id,
  kind: 'active-passive',
  nodes: nodes.map((n, i) => ({
    id: n,
    role: i === 0 ? 'active' : 'standby',
    site: { cloud: 'on-prem', region: `hall-${i}` },
  })),
  detection,
});

async function declare(id: string, nodes?: string[], detection?: Record<string, unknown>) {
  const declared = await declareCluster(services, id, document(id, nodes, detection), 'test');
  if (!declared.ok) throw new Error(JSON.stringify(declared));
}

const stateOf = async (id: string): Promise<ClusterState> => (await services.clusters.getState(id))!.state;

/** Replaces the stored state with `change(state)` (If-Match), as another writer would. */
async function rewrite(id: string, change: (s: ClusterState) => ClusterState): Promise<void> {
  const stored = (await services.clusters.getState(id))!;
  const write = await services.clusters.replaceState(change(stored.state), stored.etag);
  if (!write.ok) throw new Error('lost the race');
}

const writes = () => ({
  state: jest.spyOn(services.clusters, 'replaceState'),
  rows: jest.spyOn(services.heartbeats, 'put'),
  lists: jest.spyOn(services.heartbeats, 'listForCluster'),
});

describe('the promotable set of an epoch', () => {
  it('is recorded at declaration: every node but the active, sorted; none with peer leases off', async () => {
    clock = T0;
    await declare('ps1', ['head-a', 'node-c', 'head-b']);
    expect((await stateOf('ps1')).promotable).toEqual(['head-b', 'node-c']);
    await declare('ps2', ['head-a', 'head-b'], { peerLeases: false });
    expect((await stateOf('ps2')).promotable).toBeUndefined();
  });

  it('is recorded with the first grant of an epoch that began without one, in the same write, and never changed', async () => {
    clock = T0;
    await declare('ps3', ['head-a', 'head-b']);
    // A state from before peer leases (or a promotion that did not record the set).
    await rewrite('ps3', ({ promotable: _gone, ...s }) => s);
    clock += 1500; // past the cached state
    const spies = writes();
    const reply = await beat('ps3', 'head-a', 'active');
    expect(spies.state).toHaveBeenCalledTimes(1);
    expect(spies.rows).not.toHaveBeenCalled();
    expect(reply.peers).toEqual({ epoch: 1, nodes: [{ nodeId: 'head-b', url: null }] });
    expect((await stateOf('ps3')).promotable).toEqual(['head-b']);
    // A node added under the epoch is not promotable under it: the set stays as the epoch began.
    await declare('ps3', ['head-a', 'head-b', 'node-c']);
    clock += 1500;
    expect((await beat('ps3', 'head-a', 'active')).peers?.nodes.map((n) => n.nodeId)).toEqual(['head-b']);
    expect((await stateOf('ps3')).promotable).toEqual(['head-b']);
  });

  it('is not recorded by a grant while the document has peer leases off, and no answer carries peers', async () => {
    clock = T0;
    await declare('ps4', ['head-a', 'head-b'], { peerLeases: false });
    await beat('ps4', 'head-b', 'standby', { peer: { url: B } });
    const reply = await beat('ps4', 'head-a', 'active');
    expect(reply.lease).not.toBeNull();
    expect(reply.peers).toBeUndefined();
    expect((await stateOf('ps4')).promotable).toBeUndefined();
  });

  it('a new epoch of the same active (it demoted itself) records the set of the document then', async () => {
    clock = T0;
    await declare('ps5', ['head-a', 'head-b']);
    await beat('ps5', 'head-a', 'active');
    await declare('ps5', ['head-a', 'head-b', 'node-c']);
    clock += 1500;
    const reply = await beat('ps5', 'head-a', 'standby', { demotedAtEpoch: 1 });
    expect(reply.epoch).toBe(2);
    expect(reply.peers).toEqual({
      epoch: 2,
      nodes: [
        { nodeId: 'head-b', url: null },
        { nodeId: 'node-c', url: null },
      ],
    });
    expect((await stateOf('ps5')).promotable).toEqual(['head-b', 'node-c']);
  });
});

describe('heartbeat answers and rows', () => {
  it("a grant lists the promotable nodes with the peer URL each last advertised; a standby's answer has none", async () => {
    clock = T0;
    await declare('pr1', ['head-a', 'head-b', 'node-c']);
    const standby = await beat('pr1', 'head-b', 'standby', { peer: { url: B } });
    expect(standby.peers).toBeUndefined();
    expect(standby.revoked).toBeUndefined();
    const row = await services.heartbeats.get('pr1', 'head-b');
    expect(row?.record.peer).toEqual({ url: B });
    const reply = await beat('pr1', 'head-a', 'active', { peer: { url: A } });
    // What the agent reads the answer with.
    expect(heartbeatReplySchema.parse(reply)).toEqual(reply);
    expect(reply.peers).toEqual({
      epoch: 1,
      nodes: [
        { nodeId: 'head-b', url: B },
        { nodeId: 'node-c', url: null },
      ],
    });
    expect((await stateOf('pr1')).activeHeartbeat?.peer).toEqual({ url: A });
    // A URL advertised later reaches the next grant: from this process's heartbeats at once.
    await beat('pr1', 'node-c', 'standby', { peer: { url: 'http://10.0.0.3:7400' } });
    expect((await beat('pr1', 'head-a', 'active')).peers?.nodes[1]).toEqual({
      nodeId: 'node-c',
      url: 'http://10.0.0.3:7400',
    });
  });

  it('keeps one storage write per steady-state heartbeat: the rows are read at most once per 10 s', async () => {
    clock = T0;
    await declare('pr2', ['head-a', 'head-b']);
    await beat('pr2', 'head-b', 'standby', { peer: { url: B } });
    await beat('pr2', 'head-a', 'active');
    const spies = writes();
    for (let i = 0; i < 20; i++) {
      clock += 1000;
      expect((await beat('pr2', 'head-a', 'active')).peers?.nodes).toEqual([{ nodeId: 'head-b', url: B }]);
      await beat('pr2', 'head-b', 'standby', { peer: { url: B } });
    }
    expect(spies.state).toHaveBeenCalledTimes(20); // the active's
    expect(spies.rows).toHaveBeenCalledTimes(20); // the standby's
    expect(spies.lists.mock.calls.length).toBeLessThanOrEqual(2);
  });

  it('tells every node when the epoch of its answer is revoked', async () => {
    clock = T0;
    await declare('pr3', ['head-a', 'head-b']);
    expect((await beat('pr3', 'head-a', 'active')).revoked).toBeUndefined();
    await rewrite('pr3', (s) => revoke(s, clock, 'failover'));
    clock += 1500;
    const standby = await beat('pr3', 'head-b', 'standby');
    expect(standby).toMatchObject({ epoch: 1, revoked: true });
    const former = await beat('pr3', 'head-a', 'active');
    expect(former).toMatchObject({ role: 'standby', epoch: 1, revoked: true, lease: null });
    expect(former.peers).toBeUndefined();
    expect(standby.fenced).toBeUndefined();
    // Once the old active is confirmed fenced, the standbys may release their promises under the epoch early.
    await rewrite('pr3', (s) => confirmFenced(s, clock, 'the cloud shows head-a stopped (epoch 1)'));
    clock += 1500;
    expect(await beat('pr3', 'head-b', 'standby')).toMatchObject({ epoch: 1, revoked: true, fenced: true });
  });
});

describe("a standby's promise to the active", () => {
  const promise = (to: string, remainingMs: number, epoch = 1) => ({
    peer: { url: B, promise: { to, epoch, remainingMs } },
  });

  it('is recorded in the state, at most once per heartbeat interval, and not for another node or epoch', async () => {
    clock = T0;
    await declare('pc1', ['head-a', 'head-b']);
    await beat('pc1', 'head-a', 'active');
    clock += 3000; // the active's heartbeats stop reaching the control plane
    const spies = writes();
    await beat('pc1', 'head-b', 'standby', promise('head-a', 4000));
    expect((await stateOf('pc1')).peerConfirmed).toEqual({
      by: 'head-b',
      epoch: 1,
      until: clock + 4000,
      at: clock,
    });
    expect(spies.state).toHaveBeenCalledTimes(1);
    // Within the interval: no second write.
    clock += 500;
    await beat('pc1', 'head-b', 'standby', promise('head-a', 4000));
    expect(spies.state).toHaveBeenCalledTimes(1);
    // More than an interval later: renewed.
    clock += 600;
    await beat('pc1', 'head-b', 'standby', promise('head-a', 4000));
    expect(spies.state).toHaveBeenCalledTimes(2);
    expect((await stateOf('pc1')).peerConfirmed).toEqual({
      by: 'head-b',
      epoch: 1,
      until: clock + 4000,
      at: clock,
    });
    // A promise to somebody else, or under another epoch, confirms nothing.
    clock += 2000;
    await beat('pc1', 'head-b', 'standby', promise('node-x', 4000));
    await beat('pc1', 'head-b', 'standby', promise('head-a', 4000, 2));
    expect(spies.state).toHaveBeenCalledTimes(2);
    expect(spies.rows).toHaveBeenCalledTimes(5);
  });

  it('is never recorded under a revoked epoch, and never longer than the longest promise a node gives', async () => {
    clock = T0;
    await declare('pc2', ['head-a', 'head-b']);
    await beat('pc2', 'head-a', 'active');
    clock += 1500;
    await beat('pc2', 'head-b', 'standby', promise('head-a', 3_600_000));
    expect((await stateOf('pc2')).peerConfirmed?.until).toBe(
      clock + MAX_PROMISE_MS + promiseMarginMs(MAX_PROMISE_MS),
    );
    await rewrite('pc2', ({ peerConfirmed: _gone, ...s }) => revoke(s, clock, 'failover'));
    clock += 1500;
    await beat('pc2', 'head-b', 'standby', promise('head-a', 4000));
    expect((await stateOf('pc2')).peerConfirmed).toBeUndefined();
  });

  it('a state changed behind the cache costs a re-read: the write lands on the fresh state, never over it', async () => {
    clock = T0;
    await declare('pc3', ['head-a', 'head-b']);
    await beat('pc3', 'head-a', 'active');
    clock += 1500;
    await beat('pc3', 'head-b', 'standby'); // caches the state
    // Another writer changes the state (a plan is shown) after this process cached it.
    expect(await hastenHeartbeats(services, 'pc3', [], clock + 60_000)).toBe(true);
    await beat('pc3', 'head-b', 'standby', promise('head-a', 4000));
    const state = await stateOf('pc3');
    expect(state.hastenUntil).toBe(clock + 60_000);
    expect(state.peerConfirmed).toEqual({ by: 'head-b', epoch: 1, until: clock + 4000, at: clock });
  });

  it('keeps the detector from detecting the silent active until the promise ends', async () => {
    clock = T0;
    await declare('pc4', ['head-a', 'head-b']);
    await beat('pc4', 'head-a', 'active');
    clock += 4000;
    await beat('pc4', 'head-b', 'standby', promise('head-a', 4000));
    clock += 3000; // 7 s of silence: past the 5 s window, but confirmed alive until T0 + 8 s
    expect((await detectFailures(services)).filter((d) => d.clusterId === 'pc4')).toEqual([]);
    clock += 1000; // the confirmation ended
    const detections = (await detectFailures(services)).filter((d) => d.clusterId === 'pc4');
    expect(detections).toMatchObject([{ activeNodeId: 'head-a', epoch: 1, created: true }]);
  });

  it('is dropped by a promotion: a confirmation of the old epoch confirms nothing under the new one', async () => {
    clock = T0;
    await declare('pc5', ['head-a', 'head-b']);
    await beat('pc5', 'head-a', 'active');
    clock += 1500;
    await beat('pc5', 'head-b', 'standby', promise('head-a', 4000));
    expect((await stateOf('pc5')).peerConfirmed).toBeDefined();
    await rewrite('pc5', (s) =>
      promote({ ...revoke(s, clock, 'failover'), fenced: true }, 'head-b', clock, 500, 'failover', {
        promotable: ['head-a'],
      }),
    );
    const state = await stateOf('pc5');
    expect(state.peerConfirmed).toBeUndefined();
    expect(state.promotable).toEqual(['head-a']);
  });
});
