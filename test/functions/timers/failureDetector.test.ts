import { request } from '../../helpers/durableHttp';
import { startControlPlane, twoNodeCluster, type ControlPlane } from '../../helpers/controlPlane';
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
  const deadline = Date.now() + 15_000;
  let running: any[] = [];
  while (Date.now() < deadline) {
    running = (await request(`${cp.host.url}${paths.clusterStatus('quiet')}`, { key: cp.functionKey })).json
      .runningOperations;
    if (running.length > 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(running).toEqual([
    expect.objectContaining({ operationId: 'detect-1', kind: 'failure-detected', status: 'pending' }),
  ]);
});
