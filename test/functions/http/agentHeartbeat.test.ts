import { request } from '../../helpers/durableHttp';
import {
  agentRequest,
  startControlPlane,
  twoNodeCluster,
  type ControlPlane,
} from '../../helpers/controlPlane';
import { paths } from '../../../shared/contracts/routes';

let cp: ControlPlane;
const keys: Record<string, Buffer> = {};
const heartbeat = (role: 'active' | 'standby', epoch = 1, extra: Record<string, unknown> = {}) => ({
  role,
  epoch,
  checks: [
    { name: 'failoverping', status: 'ok' },
    { name: 'database', status: 'ok' },
  ],
  ...extra,
});

beforeAll(async () => {
  cp = await startControlPlane();
  const put = await request(`${cp.host.url}${paths.cluster('hb')}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: twoNodeCluster('hb'),
  });
  expect(put.status).toBe(201);
  for (const node of ['head-a', 'head-b']) {
    const issued = await request(`${cp.host.url}${paths.nodeKey('hb', node)}`, {
      method: 'POST',
      key: cp.adminKey,
    });
    keys[node] = Buffer.from(issued.json.key, 'base64');
  }
});
afterAll(async () => {
  await cp.stop();
});

const endpoint = () => `${cp.host.url}${paths.agentHeartbeat()}`;
const send = (
  nodeId: string,
  seq: number,
  body: unknown,
  extra: Partial<Parameters<typeof agentRequest>[1]> = {},
) => agentRequest(endpoint(), { clusterId: 'hb', nodeId, key: keys[nodeId] as Buffer, seq, body, ...extra });
const status = async () =>
  (await request(`${cp.host.url}${paths.clusterStatus('hb')}`, { key: cp.functionKey })).json;

describe('POST /api/v1/agent/heartbeat', () => {
  it('answers the active with its lease and the epoch, and records its checks', async () => {
    const r = await send('head-a', 1, heartbeat('active'));
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      role: 'active',
      epoch: 1,
      lease: { durationMs: 4000 },
      commands: [],
      heartbeatIntervalMs: 1000,
    });
    const s = await status();
    expect(s.leaseRemainingMs).toBeGreaterThan(3000);
    expect(s.nodes[0]).toMatchObject({
      nodeId: 'head-a',
      active: true,
      reportedRole: 'active',
      checks: heartbeat('active').checks,
    });
  });

  it('answers a standby with no lease, and tells a standby that believes it is active to demote', async () => {
    expect((await send('head-b', 1, heartbeat('standby'))).json).toMatchObject({
      role: 'standby',
      lease: null,
      commands: [],
    });
    const confused = await send('head-b', 2, heartbeat('active'));
    expect(confused.json.commands).toEqual([{ id: 'demote-1', type: 'demote', epoch: 1 }]);
    expect((await status()).nodes[1]).toMatchObject({
      nodeId: 'head-b',
      active: false,
      reportedRole: 'active',
    });
  });

  it('refuses a replayed or old sequence with 409 and records nothing', async () => {
    await send('head-b', 10, heartbeat('standby', 1, { replicationLagMs: 5 }));
    const replay = await send('head-b', 10, heartbeat('standby', 1, { replicationLagMs: 999 }));
    expect(replay.status).toBe(409);
    expect(replay.json.error.code).toBe('ReplayedSequence');
    expect((await send('head-b', 9, heartbeat('standby', 1, { replicationLagMs: 999 }))).status).toBe(409);
    expect((await status()).nodes[1].replicationLagMs).toBe(5);
  });

  it('refuses a bad signature, a missing signature and a stale timestamp with 401', async () => {
    const forged = await send('head-b', 20, heartbeat('standby'), { key: keys['head-a'] as Buffer });
    expect(forged).toMatchObject({ status: 401, json: { error: { code: 'BadSignature' } } });
    const unsigned = await fetch(endpoint(), { method: 'POST', body: JSON.stringify(heartbeat('standby')) });
    expect(unsigned.status).toBe(401);
    const stale = await send('head-b', 21, heartbeat('standby'), { timestamp: Date.now() - 10 * 60_000 });
    expect(stale).toMatchObject({ status: 401, json: { error: { code: 'TimestampOutOfTolerance' } } });
  });

  it('refuses a node that is not in the cluster, or a cluster that does not exist, with 403', async () => {
    const stranger = await agentRequest(endpoint(), {
      clusterId: 'hb',
      nodeId: 'intruder',
      key: keys['head-a'] as Buffer,
      seq: 1,
      body: heartbeat('standby'),
    });
    expect(stranger).toMatchObject({ status: 403, json: { error: { code: 'NodeNotInCluster' } } });
    const noCluster = await agentRequest(endpoint(), {
      clusterId: 'nope',
      nodeId: 'head-a',
      key: keys['head-a'] as Buffer,
      seq: 1,
      body: heartbeat('standby'),
    });
    expect(noCluster.status).toBe(403);
  });

  it('refuses an oversized body with 413 and an invalid body with 422, recording nothing', async () => {
    const before = (await status()).nodes[1].lastHeartbeatAgeMs;
    const big = await send(
      'head-b',
      30,
      heartbeat('standby', 1, { checks: [{ name: 'x', status: 'ok', detail: 'y'.repeat(70 * 1024) }] }),
    );
    expect(big.status).toBe(413);
    const invalid = await send('head-b', 31, { role: 'leader', epoch: -1 });
    expect(invalid.status).toBe(422);
    expect(invalid.json.error.problems.map((p: any) => p.path)).toEqual(
      expect.arrayContaining(['role', 'epoch']),
    );
    expect((await send('head-b', 32, 'not json')).status).toBe(422);
    // A duplicate key, or a number beyond a double (Infinity, which would be stored as null), names where it is.
    const duplicate = await send('head-b', 33, '{"role": "standby", "epoch": 1, "epoch": 99}');
    expect(duplicate).toMatchObject({
      status: 422,
      json: { error: { code: 'InvalidJson', path: '$.epoch' } },
    });
    expect(duplicate.json.error.message).toContain('duplicate key "epoch"');
    const infinite = await send('head-b', 34, '{"role": "standby", "epoch": 1, "replicationLagMs": 1e400}');
    expect(infinite).toMatchObject({ status: 422, json: { error: { path: '$.replicationLagMs' } } });
    const unbounded = await send('head-b', 35, heartbeat('standby', 1, { replicationLagMs: 1e308 }));
    expect(unbounded.json.error.problems).toEqual([expect.objectContaining({ path: 'replicationLagMs' })]);
    // Nothing was written: the next valid heartbeat with sequence 30 is still accepted.
    expect((await send('head-b', 30, heartbeat('standby'))).status).toBe(200);
    expect(before).not.toBeNull();
  });

  it('accepts the previous key version during a rotation, and refuses versions never issued', async () => {
    const rotated = await request(`${cp.host.url}${paths.nodeKey('hb', 'head-b')}?rotate=true`, {
      method: 'POST',
      key: cp.adminKey,
    });
    const v2 = Buffer.from(rotated.json.key, 'base64');
    expect((await send('head-b', 40, heartbeat('standby'))).status).toBe(200); // still version 1
    expect((await send('head-b', 41, heartbeat('standby'), { key: v2, keyVersion: 2 })).status).toBe(200);
    expect((await send('head-b', 42, heartbeat('standby'), { key: v2, keyVersion: 3 })).status).toBe(403);
  });

  it('raises the epoch for an active that demoted itself under the current one, and grants under the new epoch', async () => {
    const before = (await status()).epoch;
    const refused = await send('head-a', 100, heartbeat('standby', before, { demotedAtEpoch: before }));
    expect(refused.json).toMatchObject({ role: 'active', epoch: before + 1, lease: { durationMs: 4000 } });
    expect(refused.json.commands).toEqual([
      { id: `promote-${before + 1}`, type: 'promote', epoch: before + 1 },
    ]);
    // Once it is active under the new epoch, heartbeats keep that epoch: no further raise.
    expect((await send('head-a', 101, heartbeat('active', before + 1))).json).toMatchObject({
      role: 'active',
      epoch: before + 1,
      commands: [],
    });
    // A node claiming an epoch ahead of the cluster's is refused, demoted or not.
    const ahead = await send('head-a', 103, heartbeat('active', before + 2, { demotedAtEpoch: before + 2 }));
    expect(ahead).toMatchObject({ status: 409, json: { error: { code: 'EpochAhead' } } });
    // A standby's demotion changes nothing.
    expect(
      (await send('head-b', 102, heartbeat('standby', before + 1, { demotedAtEpoch: before + 1 }))).json,
    ).toMatchObject({ role: 'standby', epoch: before + 1 });
    expect((await status()).epoch).toBe(before + 1);
  });

  it('reports the last accepted sequence in a replay rejection, and GPU health in the status', async () => {
    const gpu = [
      { index: 0, utilizationPercent: 97, memoryUsedMiB: 70000, memoryTotalMiB: 81920, eccErrors: 0 },
    ];
    await send('head-b', 200, heartbeat('standby', 2, { gpu }));
    const replay = await send('head-b', 150, heartbeat('standby', 2));
    expect(replay.json.error).toMatchObject({ code: 'ReplayedSequence', lastAcceptedSeq: 200 });
    expect((await status()).nodes[1].gpu).toEqual(gpu);
  });
});
