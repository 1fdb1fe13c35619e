import { request } from '../../helpers/durableHttp';
import {
  agentRequest,
  startControlPlane,
  twoNodeCluster,
  type ControlPlane,
} from '../../helpers/controlPlane';
import { paths } from '../../../shared/contracts/routes';

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
});
afterAll(async () => {
  await cp.stop();
});

const detection = { heartbeatIntervalMs: 200, missedHeartbeats: 2, leaseMs: 1000, driftMarginMs: 50 };

/** Declares a cluster and returns a signed-heartbeat sender per node (sequence numbers kept). */
async function declare(clusterId: string, extra: Record<string, unknown> = {}) {
  const declared = await request(`${cp.host.url}${paths.cluster(clusterId)}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: { ...twoNodeCluster(clusterId, detection), ...extra },
  });
  expect(declared.status).toBe(201);
  const senders: Record<string, (body: unknown) => Promise<{ status: number; json: any }>> = {};
  for (const nodeId of ['head-a', 'head-b']) {
    const issued = await request(`${cp.host.url}${paths.nodeKey(clusterId, nodeId)}`, {
      method: 'POST',
      key: cp.adminKey,
    });
    const key = Buffer.from(issued.json.key, 'base64');
    let seq = 0;
    senders[nodeId] = (body) =>
      agentRequest(`${cp.host.url}${paths.agentHeartbeat()}`, { clusterId, nodeId, key, seq: ++seq, body });
  }
  return senders as Record<'head-a' | 'head-b', (body: unknown) => Promise<{ status: number; json: any }>>;
}

const operations = async (clusterId: string) =>
  (await request(`${cp.host.url}${paths.operations(clusterId)}`, { key: cp.functionKey })).json
    .operations as any[];

it('fails over when the active goes silent: detection, failover after the lease, the standby promoted and verified', async () => {
  const send = await declare('quiet');
  // The active heartbeats once (an active never heard from is not detected), then goes silent ("killed").
  const last = await send['head-a']({ role: 'active', epoch: 1, checks: [] });
  expect(last.json).toMatchObject({ role: 'active', epoch: 1 });
  const silentSince = Date.now();
  // The standby heartbeats like its agent: as standby until it is told it is active, then as the active.
  let role: 'standby' | 'active' = 'standby';
  let epoch = 1;
  let failover: any;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const answer = await send['head-b']({ role, epoch, checks: [{ name: 'ping', status: 'ok' }] });
    role = answer.json.role;
    epoch = answer.json.epoch;
    failover = (await operations('quiet')).find((o) => o.kind === 'failover');
    if (failover?.status === 'succeeded') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(failover).toMatchObject({
    status: 'succeeded',
    trigger: { kind: 'detector', reference: expect.stringMatching(/^detect-1-\d+$/) },
    actor: 'controller',
    toEpoch: 2,
  });
  const promoted = failover.steps.find((s: any) => s.id === 'promote-head-b-2');
  // Not before the silent active's lease (1 s from its last heartbeat) and the drift margin had passed.
  expect(promoted.startedAt - silentSince).toBeGreaterThanOrEqual(
    detection.leaseMs + detection.driftMarginMs - 100,
  );
  const status = (await request(`${cp.host.url}${paths.clusterStatus('quiet')}`, { key: cp.functionKey }))
    .json;
  expect(status).toMatchObject({ epoch: 2, activeNodeId: 'head-b' });
  // The detection ended with the failover it started, and nothing is left running.
  const detected = (await operations('quiet')).find((o) => o.kind === 'failure-detected');
  expect(detected).toMatchObject({ status: 'succeeded' });
  expect(status.runningOperations).toEqual([]);
  // The old active, back from the dead under epoch 1, gets no lease and is told to demote (the epoch in a standby's
  // answer may come from the heartbeat path's state cache, up to a second old: it grants nothing either way).
  const back = await send['head-a']({ role: 'active', epoch: 1, checks: [] });
  expect(back.json).toMatchObject({ role: 'standby', lease: null });
  expect(back.json.commands).toEqual([expect.objectContaining({ type: 'demote' })]);
});
