import { startControlPlane, type ControlPlane } from '../../helpers/controlPlane';
import { request } from '../../helpers/durableHttp';

/** The library starts no demo fleet unless asked: the devhost tests and other apps see no demo agents or clusters. */

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
}, 60_000);
afterAll(async () => {
  await cp?.stop();
});

test('startDevhost without demo: no fleet, no demo clusters, the demo control answers 404 DemoNotRunning', async () => {
  expect(cp.host.demo).toBeUndefined();
  const control = await request(`${cp.host.url}/admin/devhost/demo`, { key: cp.adminKey });
  expect(control.status).toBe(404);
  expect(control.json.error.code).toBe('DemoNotRunning');
  expect((await request(`${cp.host.url}/admin/devhost/demo`)).status).toBe(401);
  const bcm = await request(`${cp.host.url}/api/v1/clusters/bcm-head/status`, { key: cp.adminKey });
  expect(bcm.status).toBe(404);
});
