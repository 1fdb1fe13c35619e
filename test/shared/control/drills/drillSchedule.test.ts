import { randomBytes } from 'node:crypto';
import { startAzurite, type RunningAzurite } from '../../../../devhost';
import { loadConfig } from '../../../../shared/config/config';
import { declareCluster } from '../../../../shared/control/clusters/clusterAdmin';
import { refuse } from '../../../../shared/control/common/outcome';
import { runDrillSchedule, type DrillScheduleRound } from '../../../../shared/control/drills/drillSchedule';
import type { DrillRequest, StartedDrill } from '../../../../shared/control/drills/drillTypes';
import { slotDrillId } from '../../../../shared/domain/drillSchedule';
import { StorageUnavailableError } from '../../../../shared/errors';
import { createServices, type Services } from '../../../../shared/services/services';
import { createTableClients, ensureTables, tableNames } from '../../../../shared/stores/tableClients';
import { twoNodeCluster } from '../../../helpers/controlPlane';

const EVERY_5_MIN = '0 */5 * * * *';
const at = (iso: string) => Date.parse(iso);

let azurite: RunningAzurite;
let clock = at('2030-01-01T10:01:00Z');
/** Two "host instances": separate services (caches, table clients) on the same tables and the test's clock. */
const hosts: Services[] = [];
/** Every start any host made, in order. */
const starts: (DrillRequest & { host: number })[] = [];
/** How a start for a cluster behaves (default: started). */
const behaviour = new Map<string, (request: DrillRequest) => StartedDrill>();

const startOn =
  (host: number) =>
  async (request: DrillRequest): Promise<StartedDrill> => {
    starts.push({ ...request, host });
    await Promise.resolve(); // a real start awaits storage and the durable client: let the other rounds interleave
    const answer = behaviour.get(request.clusterId);
    return answer ? answer(request) : { ok: true, drillId: request.drillId ?? '', started: true };
  };

beforeAll(async () => {
  azurite = await startAzurite({ inMemory: true });
  const config = loadConfig({
    AzureWebJobsStorage: azurite.connectionString,
    NODE_KEY_MASTER: randomBytes(32).toString('base64'),
    TABLE_PREFIX: 'DrillSched',
  });
  await ensureTables(createTableClients(config.storage, tableNames(config.tablePrefix)));
  for (let i = 0; i < 2; i++) hosts.push(createServices(config, () => clock));
});
afterAll(async () => {
  await azurite.stop();
});

async function declare(id: string, schedule?: string): Promise<void> {
  const document = { ...twoNodeCluster(id), ...(schedule ? { drill: { schedule } } : {}) };
  const declared = await declareCluster(hosts[0]!, id, document, 'test');
  expect(declared.ok).toBe(true);
}

/** Both hosts run `times` rounds each, all at once, at the current clock. */
async function race(times = 2): Promise<DrillScheduleRound[]> {
  const rounds = hosts.flatMap((host, i) =>
    Array.from({ length: times }, () => runDrillSchedule(host, startOn(i), { hostId: `host-${i}` })),
  );
  return Promise.all(rounds);
}

const startsOf = (clusterId: string) => starts.filter((s) => s.clusterId === clusterId);

describe('drill schedule', () => {
  it('starts each slot exactly once with two hosts racing, never a cluster without a schedule, nor a slot from before the declaration', async () => {
    await declare('sched', EVERY_5_MIN); // at 10:01: the 10:00 slot was due before the cluster existed
    await declare('plain');
    // 10:01 → 10:31 in steps of 20 s: the rounds cross the 10:05 … 10:30 boundaries.
    const summaries: DrillScheduleRound[] = [];
    while (clock < at('2030-01-01T10:31:00Z')) {
      summaries.push(...(await race()));
      clock += 20_000;
    }
    const expected = ['10:05', '10:10', '10:15', '10:20', '10:25', '10:30'].map((t) =>
      at(`2030-01-01T${t}:00Z`),
    );
    expect(startsOf('sched').map((s) => s.drillId)).toEqual(expected.map(slotDrillId));
    for (const [i, start] of startsOf('sched').entries())
      expect(start).toMatchObject({
        clusterId: 'sched',
        actor: 'schedule',
        trigger: { kind: 'schedule', reference: new Date(expected[i]!).toISOString() },
      });
    expect(startsOf('plain')).toEqual([]);
    // The summaries agree: six starts in all, and the race was real (losers saw the slot claimed elsewhere).
    const sched = summaries.flatMap((r) => r.slots).filter((s) => s.clusterId === 'sched');
    expect(sched.filter((s) => s.outcome === 'started')).toHaveLength(6);
    expect(sched.filter((s) => s.outcome === 'claimed-elsewhere').length).toBeGreaterThan(0);
  });

  it('after downtime spanning five slots starts one drill, for the latest slot', async () => {
    const before = startsOf('sched').length;
    clock = at('2030-01-01T10:57:30Z'); // 10:35, 10:40, 10:45, 10:50 and 10:55 were missed
    await race(3);
    await race(3);
    expect(
      startsOf('sched')
        .slice(before)
        .map((s) => s.drillId),
    ).toEqual([slotDrillId(at('2030-01-01T10:55:00Z'))]);
    clock = at('2030-01-01T10:59:59Z');
    await race();
    expect(startsOf('sched')).toHaveLength(before + 1);
    clock = at('2030-01-01T11:00:00Z');
    await race();
    expect(
      startsOf('sched')
        .slice(before)
        .map((s) => s.drillId),
    ).toEqual([slotDrillId(at('2030-01-01T10:55:00Z')), slotDrillId(at('2030-01-01T11:00:00Z'))]);
  });

  it('a cluster declared between slots starts nothing until its first slot after the declaration', async () => {
    clock = at('2030-01-01T11:07:00Z'); // the 11:05 slot is due for the older cluster, not for this one
    await declare('late', EVERY_5_MIN);
    await race();
    clock = at('2030-01-01T11:09:59Z');
    await race();
    expect(startsOf('late')).toEqual([]);
    clock = at('2030-01-01T11:10:00Z');
    await race();
    expect(startsOf('late').map((s) => s.drillId)).toEqual([slotDrillId(at('2030-01-01T11:10:00Z'))]);
  });

  it("retries a start that failed for a temporary reason, keeps a refused or broken one (audited), and one cluster's failure does not stop the others", async () => {
    clock = at('2030-01-01T11:11:00Z');
    await declare('flaky', EVERY_5_MIN);
    await declare('refused', EVERY_5_MIN);
    await declare('broken', EVERY_5_MIN);
    let flakyFailures = 1;
    behaviour.set('flaky', (request) => {
      if (flakyFailures-- > 0) throw new StorageUnavailableError('storage did not answer for the drill');
      return { ok: true, drillId: request.drillId ?? '', started: true };
    });
    behaviour.set('refused', () =>
      refuse('invalid', 'FailoverNotAllowed', 'a failover drill needs drill.allowFailover'),
    );
    behaviour.set('broken', () => {
      throw new Error('the drill request could not be built');
    });
    const slot = at('2030-01-01T11:15:00Z');
    clock = slot;
    const first = await race(1);
    // The others started their slot although three clusters failed or were refused.
    expect(startsOf('late').map((s) => s.drillId)).toContain(slotDrillId(slot));
    expect(startsOf('sched').map((s) => s.drillId)).toContain(slotDrillId(slot));
    const failed = first.flatMap((r) => r.slots).filter((s) => s.outcome === 'failed');
    expect(failed.map((s) => s.clusterId).sort()).toEqual(['broken', 'flaky']);
    expect(first.flatMap((r) => r.slots).filter((s) => s.outcome === 'refused')).toMatchObject([
      { clusterId: 'refused', detail: 'FailoverNotAllowed' },
    ]);
    clock += 30_000;
    await race();
    clock += 30_000;
    await race();
    // The temporary failure was released and retried under the same drill id; the others were not retried.
    expect(startsOf('flaky').map((s) => s.drillId)).toEqual([slotDrillId(slot), slotDrillId(slot)]);
    expect(startsOf('refused').map((s) => s.drillId)).toEqual([slotDrillId(slot)]);
    expect(startsOf('broken').map((s) => s.drillId)).toEqual([slotDrillId(slot)]);
    const audit = hosts[0]!.audit;
    expect((await audit.recent('refused')).map((e) => e.action)).toContain('drill-schedule-refused');
    expect((await audit.recent('broken')).find((e) => e.action === 'drill-schedule-failed')).toMatchObject({
      actor: 'schedule',
      detail: { drillId: slotDrillId(slot), error: 'the drill request could not be built' },
    });
    expect((await audit.recent('flaky')).map((e) => e.action)).not.toContain('drill-schedule-failed');
  });
});
