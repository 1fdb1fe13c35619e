import { signRequest } from '../../../shared/auth/signedRequest';
import { loadConfig } from '../../../shared/config/config';
import { createServices } from '../../../shared/services/services';
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

const keyVersions: Record<string, number> = {};
const endpoint = () => `${cp.host.url}${paths.agentHeartbeat()}`;
const send = (
  nodeId: string,
  seq: number,
  body: unknown,
  extra: Partial<Parameters<typeof agentRequest>[1]> = {},
) =>
  agentRequest(endpoint(), {
    clusterId: 'hb',
    nodeId,
    key: keys[nodeId] as Buffer,
    keyVersion: keyVersions[nodeId] ?? 1,
    seq,
    body,
    ...extra,
  });
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
      // its first healthy heartbeat as the active of 2 that verify it: told to heartbeat fast (a tenth) until verified
      heartbeatIntervalMs: 100,
      // peer leases (on by default): the epoch's promotable set, with the URL each node advertised (none yet)
      peers: { epoch: 1, nodes: [{ nodeId: 'head-b', url: null }] },
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
    expect(confused.json.commands).toEqual([
      { id: 'demote-1', type: 'demote', epoch: 1, clusterId: 'hb', nodeId: 'head-b' },
    ]);
    expect((await status()).nodes[1]).toMatchObject({
      nodeId: 'head-b',
      active: false,
      reportedRole: 'active',
    });
  });

  it("takes a standby's peer URL and promise: the active's next grant lists the URL, the state the promise", async () => {
    const standby = await send('head-b', 3, {
      ...heartbeat('standby'),
      peer: { url: 'http://10.1.0.2:7400', promise: { to: 'head-a', epoch: 1, remainingMs: 4000 } },
    });
    expect(standby.status).toBe(200);
    expect(standby.json.peers).toBeUndefined();
    expect(standby.json.revoked).toBeUndefined();
    const granted = await send('head-a', 2, heartbeat('active'));
    expect(granted.json.peers).toEqual({
      epoch: 1,
      nodes: [{ nodeId: 'head-b', url: 'http://10.1.0.2:7400' }],
    });
    const stored = await createServices(loadConfig(cp.settings)).clusters.getState('hb');
    expect(stored?.state.peerConfirmed).toMatchObject({ by: 'head-b', epoch: 1 });
    // A peer part the contract does not know is refused (strict body), recording nothing.
    const odd = await send('head-b', 4, {
      ...heartbeat('standby'),
      peer: { url: 'http://10.1.0.2:7400', x: 1 },
    });
    expect(odd.status).toBe(422);
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

  it('refuses a node that is not in the cluster, or a cluster that does not exist, with the 401 of a bad signature', async () => {
    const stranger = await agentRequest(endpoint(), {
      clusterId: 'hb',
      nodeId: 'intruder',
      key: keys['head-a'] as Buffer,
      seq: 1,
      body: heartbeat('standby'),
    });
    const badSignature = {
      status: 401,
      json: {
        error: {
          code: 'BadSignature',
          message: 'the request signature does not match a key of this cluster, node and key version',
        },
      },
    };
    expect(stranger).toEqual(badSignature);
    // A known node with a wrong key gets exactly the same answer: nothing tells which clusters or nodes exist.
    expect(await send('head-b', 25, heartbeat('standby'), { key: keys['head-a'] as Buffer })).toEqual(
      badSignature,
    );
    const noCluster = await agentRequest(endpoint(), {
      clusterId: 'nope',
      nodeId: 'head-a',
      key: keys['head-a'] as Buffer,
      seq: 1,
      body: heartbeat('standby'),
    });
    expect(noCluster).toEqual(badSignature);
  });

  it('refuses an oversized body with 413 and an invalid body with 422, recording nothing', async () => {
    // What the status shows of the node (all but the age, which grows on its own).
    const recorded = async () => {
      const { lastHeartbeatAgeMs: _age, ...rest } = (await status()).nodes[1];
      return rest;
    };
    const before = await recorded();
    expect(before).toMatchObject({ nodeId: 'head-b', reportedRole: expect.any(String) });
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
    // Nothing was written: the node reads as before, and the next valid heartbeat with sequence 30 is accepted.
    expect(await recorded()).toEqual(before);
    expect((await send('head-b', 30, heartbeat('standby'))).status).toBe(200);
  });

  it('accepts the previous key version during a rotation, and refuses versions never issued', async () => {
    const rotated = await request(`${cp.host.url}${paths.nodeKey('hb', 'head-b')}?rotate=true`, {
      method: 'POST',
      key: cp.adminKey,
    });
    const v2 = Buffer.from(rotated.json.key, 'base64');
    expect((await send('head-b', 40, heartbeat('standby'))).status).toBe(200); // still version 1
    expect((await send('head-b', 41, heartbeat('standby'), { key: v2, keyVersion: 2 })).status).toBe(200);
    expect((await send('head-b', 42, heartbeat('standby'), { key: v2, keyVersion: 3 })).status).toBe(401);
    // Once the node signed with version 2, version 1 is refused at once (its sequence is kept per key version).
    expect((await send('head-b', 43, heartbeat('standby'))).json.error.code).toBe('StaleKeyVersion');
    keys['head-b'] = v2;
    keyVersions['head-b'] = 2;
  });

  it('raises the epoch for an active that demoted itself under the current one, and grants under the new epoch', async () => {
    const before = (await status()).epoch;
    const refused = await send('head-a', 100, heartbeat('standby', before, { demotedAtEpoch: before }));
    expect(refused.json).toMatchObject({ role: 'active', epoch: before + 1, lease: { durationMs: 4000 } });
    expect(refused.json.commands).toEqual([
      { id: `promote-${before + 1}`, type: 'promote', epoch: before + 1, clusterId: 'hb', nodeId: 'head-a' },
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

describe('agent path limits and abuse', () => {
  const admin = (path: string, body?: unknown) =>
    request(`${cp.host.url}/api/v1/${path}`, {
      method: body === undefined ? 'POST' : 'PUT',
      key: cp.adminKey,
      ...(body === undefined ? {} : { body }),
    });
  const issue = async (cluster: string, node: string, rotate = false) =>
    Buffer.from(
      (await admin(`clusters/${cluster}/nodes/${node}/key${rotate ? '?rotate=true' : ''}`)).json.key,
      'base64',
    );
  const to = (cluster: string, nodeId: string, key: Buffer, seq: number, body: unknown, keyVersion = 1) =>
    agentRequest(endpoint(), { clusterId: cluster, nodeId, key, keyVersion, seq, body });
  const textStatus = async (cluster: string) =>
    (await request(`${cp.host.url}/api/v1/clusters/${cluster}/status?format=text`, { key: cp.functionKey }))
      .text;

  it('extends the active lease for a ~35 KB heartbeat (32 long checks, 64 GPUs): it no longer overflows a table property', async () => {
    expect((await admin('clusters/big-hb', twoNodeCluster('big-hb'))).status).toBe(201);
    const key = await issue('big-hb', 'head-a');
    const body = heartbeat('active', 1, {
      checks: Array.from({ length: 32 }, (_, i) => ({
        name: `check-${i}-`.padEnd(64, 'n'),
        status: 'warn',
        // nvidia-smi style output: each newline and tab is two characters once in JSON.
        detail: 'gpu\t0\n'.repeat(83).slice(0, 500),
      })),
      gpu: Array.from({ length: 64 }, (_, index) => ({
        index,
        utilizationPercent: 99.12345678901234,
        // The largest values the contract accepts, with many digits.
        memoryUsedMiB: 16777215.987654321,
        memoryTotalMiB: 16777215.987654321,
        eccErrors: 2147483647,
        xidErrors: 2147483647,
      })),
    });
    const size = JSON.stringify(body).length;
    // More than one table string property holds (64 KiB = 32,768 UTF-16 characters).
    expect(size).toBeGreaterThan(32_768);
    expect(size).toBeLessThan(64 * 1024);
    const r = await to('big-hb', 'head-a', key, 1, body);
    expect(r).toMatchObject({ status: 200, json: { role: 'active', lease: { durationMs: 4000 } } });
    const s = (await request(`${cp.host.url}/api/v1/clusters/big-hb/status`, { key: cp.functionKey })).json;
    expect(s.leaseRemainingMs).toBeGreaterThan(3000);
    expect(s.nodes[0].checks).toHaveLength(32);
  });

  it('bounds the sequence at 2^48 and lets a node that used it up recover through key rotation', async () => {
    expect((await admin('clusters/seq', twoNodeCluster('seq'))).status).toBe(201);
    const v1 = await issue('seq', 'head-b');
    const beyond = await to('seq', 'head-b', v1, 2 ** 53 - 1, heartbeat('standby'));
    expect(beyond).toMatchObject({ status: 401, json: { error: { code: 'MalformedSignatureHeaders' } } });
    expect((await to('seq', 'head-b', v1, 2 ** 48, heartbeat('standby'))).status).toBe(200);
    expect((await to('seq', 'head-b', v1, 2 ** 48, heartbeat('standby'))).status).toBe(409);
    const v2 = await issue('seq', 'head-b', true);
    expect((await to('seq', 'head-b', v2, 1, heartbeat('standby'), 2)).status).toBe(200);
    expect((await to('seq', 'head-b', v2, 1, heartbeat('standby'), 2)).json.error.code).toBe(
      'ReplayedSequence',
    );
  });

  it('refuses a demotedAtEpoch ahead of the cluster epoch (409 EpochAhead) and keeps the epoch', async () => {
    expect((await admin('clusters/ahead', twoNodeCluster('ahead'))).status).toBe(201);
    const key = await issue('ahead', 'head-a');
    const r = await to('ahead', 'head-a', key, 1, heartbeat('standby', 1, { demotedAtEpoch: 1_000_000 }));
    expect(r).toMatchObject({ status: 409, json: { error: { code: 'EpochAhead', currentEpoch: 1 } } });
    const s = (await request(`${cp.host.url}/api/v1/clusters/ahead/status`, { key: cp.functionKey })).json;
    expect(s.epoch).toBe(1);
  });

  it('prints node-supplied text in the text status without newlines or escape sequences', async () => {
    expect((await admin('clusters/forge', twoNodeCluster('forge'))).status).toBe(201);
    const key = await issue('forge', 'head-b');
    const forged =
      'ok\n* head-x               active   azure/forged                 last heartbeat 0ms\u001b[2J\u0007';
    const r = await to('forge', 'head-b', key, 1, {
      ...heartbeat('standby'),
      checks: [{ name: 'db\r\n* evil', status: 'ok', detail: forged }],
    });
    expect(r.status).toBe(200);
    const text = await textStatus('forge');
    // eslint-disable-next-line no-control-regex -- no control character but the line breaks may reach the terminal
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(text.split('\n').filter((line) => line.startsWith('*'))).toEqual([
      expect.stringMatching(/^\* head-a /),
    ]);
    expect(text).toContain('db\\x0d\\x0a* evil');
    expect(text).toContain('ok\\x0a* head-x');
  });

  it('applies a key rotation and a node removal at once (no 10 s cache)', async () => {
    const three = twoNodeCluster('cache');
    three.nodes.push({ id: 'head-c', role: 'standby', site: { cloud: 'azure', region: 'uksouth' } });
    expect((await admin('clusters/cache', three)).status).toBe(201);
    const v1 = await issue('cache', 'head-b');
    expect((await to('cache', 'head-b', v1, 1, heartbeat('standby'))).status).toBe(200);
    await issue('cache', 'head-b', true);
    await issue('cache', 'head-b', true);
    // Version 3 is current: version 1 is no longer "the previous one".
    expect((await to('cache', 'head-b', v1, 2, heartbeat('standby'))).status).toBe(401);
    const c = await issue('cache', 'head-c');
    expect((await to('cache', 'head-c', c, 1, heartbeat('standby'))).status).toBe(200);
    expect((await admin('clusters/cache', twoNodeCluster('cache'))).status).toBe(200);
    expect((await to('cache', 'head-c', c, 2, heartbeat('standby'))).status).toBe(401);
  });

  it('consumes the sequence of a signed GET: a replayed status request is refused with 409', async () => {
    const key = keys['head-a'] as Buffer;
    const path = '/api/v1/agent/arbitration/hb/1';
    const get = () =>
      fetch(`${cp.host.url}${path}`, {
        headers: signRequest({
          method: 'GET',
          path,
          body: '',
          clusterId: 'hb',
          nodeId: 'head-a',
          keyVersion: 1,
          timestamp: Date.now(),
          seq: 5000,
          key,
        }),
      });
    const first = await get();
    expect(first.status).not.toBe(409);
    const replay = await get();
    expect(replay.status).toBe(409);
    expect(((await replay.json()) as { error: { code: string } }).error.code).toBe('ReplayedSequence');
  });
});
