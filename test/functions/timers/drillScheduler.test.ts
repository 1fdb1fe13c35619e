import { ManualClock } from '../../../devhost/clock';
import { paths } from '../../../shared/contracts/routes';
import { request } from '../../helpers/durableHttp';
import { startControlPlane, twoNodeCluster, type ControlPlane } from '../../helpers/controlPlane';
import { waitFor } from '../../helpers/waitFor';

/**
 * The drill timer in the running app (devhost, manual clock): a cluster's NCRONTAB slot starts one drill through
 * the real `startDrill`, under the slot's drill id and with the slot as its trigger; minutes without a slot start
 * nothing; the next slot starts the next drill.
 */
const T0 = Date.UTC(2031, 2, 3, 10, 0, 30);
const clock = new ManualClock(T0);
let cp: ControlPlane;

beforeAll(async () => {
  cp = await startControlPlane({}, { clock });
  const declared = await request(`${cp.host.url}${paths.cluster('sched')}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: { ...twoNodeCluster('sched'), drill: { schedule: '0 */5 * * * *' } },
  });
  expect(declared.status).toBe(201);
});
afterAll(async () => {
  await cp.stop();
});

const drills = async () =>
  (await request(`${cp.host.url}${paths.drills('sched')}`, { key: cp.functionKey })).json.drills as {
    drillId: string;
    trigger: { kind: string; reference?: string };
    mode: string;
  }[];

it('starts one drill per slot of the schedule, from the timer, with the slot as its trigger', async () => {
  clock.set(Date.UTC(2031, 2, 3, 10, 4, 0)); // a minute without a slot
  clock.set(Date.UTC(2031, 2, 3, 10, 5, 0));
  const slot = Date.UTC(2031, 2, 3, 10, 5, 0);
  const first = await waitFor(async () => ((d) => (d.length === 1 ? d : false))(await drills()), {
    timeoutMs: 30_000,
    description: 'the 10:05 drill',
  });
  expect(first[0]).toMatchObject({
    drillId: `drill-${slot.toString(36)}`,
    mode: 'validate',
    trigger: { kind: 'schedule', reference: new Date(slot).toISOString() },
  });
  clock.set(Date.UTC(2031, 2, 3, 10, 6, 0));
  clock.set(Date.UTC(2031, 2, 3, 10, 7, 0));
  clock.set(Date.UTC(2031, 2, 3, 10, 10, 0));
  const next = Date.UTC(2031, 2, 3, 10, 10, 0);
  const both = await waitFor(async () => ((d) => (d.length === 2 ? d : false))(await drills()), {
    timeoutMs: 30_000,
    description: 'the 10:10 drill',
  });
  expect(both.map((d) => d.drillId)).toEqual([`drill-${next.toString(36)}`, `drill-${slot.toString(36)}`]);
});
