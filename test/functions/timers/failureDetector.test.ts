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

it('the timer trigger records a detection once the active stays silent past the policy', async () => {
  const detection = { heartbeatIntervalMs: 200, missedHeartbeats: 2, leaseMs: 1000, driftMarginMs: 50 };
  expect(
    (
      await request(`${cp.host.url}${paths.cluster('quiet')}`, {
        method: 'PUT',
        key: cp.adminKey,
        body: twoNodeCluster('quiet', detection),
      })
    ).status,
  ).toBe(201);
  // The active heartbeats once (an active never heard from is not detected), then goes silent.
  const issued = await request(`${cp.host.url}${paths.nodeKey('quiet', 'head-a')}`, {
    method: 'POST',
    key: cp.adminKey,
  });
  const heartbeat = await agentRequest(`${cp.host.url}${paths.agentHeartbeat()}`, {
    clusterId: 'quiet',
    nodeId: 'head-a',
    key: Buffer.from(issued.json.key, 'base64'),
    seq: 1,
    body: { role: 'active', epoch: 1, checks: [] },
  });
  expect(heartbeat.json).toMatchObject({ role: 'active', epoch: 1 });
  const deadline = Date.now() + 15_000;
  let running: any[] = [];
  while (Date.now() < deadline) {
    running = (await request(`${cp.host.url}${paths.clusterStatus('quiet')}`, { key: cp.functionKey })).json
      .runningOperations;
    if (running.length > 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(running).toEqual([
    expect.objectContaining({
      operationId: expect.stringMatching(/^detect-1-\d+$/),
      kind: 'failure-detected',
      status: 'pending',
    }),
  ]);
});
