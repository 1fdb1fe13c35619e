import { Activities, InstanceIds } from '../../orchestrations/contracts';
import { spilloverOrchestrator } from '../../orchestrations/spillover';
import type { RoundPlan, SpilloverInput, SpilloverResult } from '../../shared/control/pools/spilloverTypes';
import { only, OrchestratorDriver } from '../helpers/orchestratorDriver';

type Activity = { name: string; input: unknown };
const T0 = Date.UTC(2031, 7, 1);
const input: SpilloverInput = {
  clusterId: 'c',
  poolId: 'gpu',
  operationId: 'spill-gpu-x',
  trigger: { kind: 'api' },
  actor: 'admin',
  reason: 'demand set to 10',
  requestedAt: T0,
};
const driver = () =>
  new OrchestratorDriver(spilloverOrchestrator, {
    instanceId: InstanceIds.poolOperation('c', 'gpu'),
    input,
    startAt: T0,
    activities: Object.values(Activities),
  });
const plan = (p: Partial<RoundPlan>): RoundPlan => ({
  demand: 10,
  placed: 0,
  add: [],
  remove: [],
  skipped: [],
  shortfall: 0,
  ...p,
});
const result = (r: Partial<SpilloverResult> = {}): SpilloverResult => ({
  status: 'succeeded',
  demand: 10,
  placed: 10,
  shortfall: 0,
  reason: '10 of 10 placed',
  rounds: 2,
  ...r,
});

/** Begun, headroom read for every site: the first plan. */
async function firstPlan(d: OrchestratorDriver, spillBackBatch = 0) {
  const begin = only(await d.turn(), 'activity', Activities.beginSpillover);
  const refresh = only(
    await d.completeActivity(begin.taskId, { ok: true, maxRounds: 8, spillBackBatch }).turn(),
    'activity',
    Activities.refreshHeadroom,
  );
  expect(refresh).toMatchObject({ input: { round: 1, sites: 'all' } });
  return only(
    await d.completeActivity(refresh.taskId, { read: ['we', 'ne', 'fra'], failed: [] }).turn(),
    'activity',
    Activities.planSpillover,
  );
}

describe('the spillover orchestrator', () => {
  it('provisions every site of the plan at once, then plans again without re-reading headroom, and ends', async () => {
    const d = driver();
    const planned = await firstPlan(d);
    const fanOut = await d
      .completeActivity(
        planned.taskId,
        plan({
          add: [
            { siteId: 'we', count: 4 },
            { siteId: 'ne', count: 6 },
          ],
        }),
      )
      .turn();
    expect(
      fanOut.dispatches.map((x) => [
        x.kind,
        (x as Activity).name,
        ((x as Activity).input as { siteId: string }).siteId,
      ]),
    ).toEqual([
      ['activity', Activities.provisionSite, 'we'],
      ['activity', Activities.provisionSite, 'ne'],
    ]);
    const [we, ne] = fanOut.dispatches;
    d.completeActivity(we!.taskId, { outcome: 'placed', siteId: 'we', nodeIds: ['a', 'b', 'c', 'd'] });
    const next = only(
      await d
        .completeActivity(ne!.taskId, {
          outcome: 'cooled',
          siteId: 'ne',
          kind: 'allocationFailed',
          until: 1,
          message: 'm',
        })
        .turn(),
      'activity',
    );
    // A cooled site is out of the next plan; the other sites' headroom is known: no read, plan again at once.
    expect(next).toMatchObject({ name: Activities.planSpillover, input: { round: 2 } });
    const fra = only(
      await d.completeActivity(next.taskId, plan({ placed: 4, add: [{ siteId: 'fra', count: 6 }] })).turn(),
      'activity',
      Activities.provisionSite,
    );
    const third = only(
      await d.completeActivity(fra.taskId, { outcome: 'placed', siteId: 'fra', nodeIds: ['e'] }).turn(),
      'activity',
      Activities.planSpillover,
    );
    const finish = only(
      await d.completeActivity(third.taskId, plan({ placed: 10 })).turn(),
      'activity',
      Activities.finishSpillover,
    );
    expect(finish).toMatchObject({ input: { rounds: 3 } });
    expect(await d.completeActivity(finish.taskId, result({ rounds: 3 })).turn()).toMatchObject({
      done: true,
      output: result({ rounds: 3 }),
    });
  });

  it('waits out a throttle on a durable timer for its Retry-After, then plans again', async () => {
    const d = driver();
    const planned = await firstPlan(d);
    const provision = only(
      await d.completeActivity(planned.taskId, plan({ add: [{ siteId: 'we', count: 2 }] })).turn(),
      'activity',
    );
    const timer = only(
      await d
        .completeActivity(provision.taskId, {
          outcome: 'throttled',
          siteId: 'we',
          retryAfterMs: 7000,
          message: '429',
        })
        .turn(),
      'timer',
    );
    expect(timer).toMatchObject({ fireAt: d.now + 7000 });
    const again = only(await d.fireTimer(timer).turn(), 'activity', Activities.planSpillover);
    expect(again).toMatchObject({ input: { round: 2 } });
  });

  it('removes from the sites of the plan when the demand dropped, all at once', async () => {
    const d = driver();
    const planned = await firstPlan(d);
    const turn = await d
      .completeActivity(
        planned.taskId,
        plan({
          demand: 5,
          placed: 10,
          remove: [
            { siteId: 'fra', count: 2 },
            { siteId: 'ne', count: 3 },
          ],
        }),
      )
      .turn();
    expect(turn.dispatches.map((x) => [(x as Activity).name, (x as Activity).input])).toEqual([
      [
        Activities.releaseSite,
        expect.objectContaining({ siteId: 'fra', count: 2, reason: expect.stringContaining('scale-in') }),
      ],
      [Activities.releaseSite, expect.objectContaining({ siteId: 'ne', count: 3 })],
    ]);
  });

  it('spills back once the demand is met: replacements first, then only the nodes they replace', async () => {
    const d = driver();
    const planned = await firstPlan(d, 4);
    const back = only(
      await d.completeActivity(planned.taskId, plan({ placed: 10 })).turn(),
      'activity',
      Activities.planSpillBack,
    );
    const replacements = only(
      await d
        .completeActivity(back.taskId, { moves: [{ from: 'fra', to: 'ne', nodeIds: ['x', 'y', 'z'] }] })
        .turn(),
      'activity',
    );
    expect(replacements).toMatchObject({
      name: Activities.provisionSite,
      input: { siteId: 'ne', count: 3, purpose: 'spill-back' },
    });
    // Only two replacements came up: only two nodes are removed.
    const removal = only(
      await d
        .completeActivity(replacements.taskId, { outcome: 'placed', siteId: 'ne', nodeIds: ['n1', 'n2'] })
        .turn(),
      'activity',
    );
    expect(removal).toMatchObject({
      name: Activities.releaseSite,
      input: { siteId: 'fra', nodeIds: ['x', 'y'] },
    });
    const after = only(
      await d
        .completeActivity(removal.taskId, { outcome: 'released', siteId: 'fra', nodeIds: ['x', 'y'] })
        .turn(),
      'activity',
    );
    expect(after).toMatchObject({ name: Activities.planSpillover, input: { round: 2 } });
    // One spill-back per run: the next empty plan ends it.
    const finish = only(await d.completeActivity(after.taskId, plan({ placed: 10 })).turn(), 'activity');
    expect(finish).toMatchObject({ name: Activities.finishSpillover });
  });

  it('ends with what it has after the rounds run out, saying so', async () => {
    const d = driver();
    const begin = only(await d.turn(), 'activity');
    let next = only(
      await d.completeActivity(begin.taskId, { ok: true, maxRounds: 2, spillBackBatch: 0 }).turn(),
      'activity',
    );
    next = only(await d.completeActivity(next.taskId, { read: [], failed: [] }).turn(), 'activity');
    for (let round = 1; round <= 2; round++) {
      const provision = only(
        await d.completeActivity(next.taskId, plan({ add: [{ siteId: 'we', count: 1 }] })).turn(),
        'activity',
      );
      const timer = only(
        await d
          .completeActivity(provision.taskId, {
            outcome: 'throttled',
            siteId: 'we',
            retryAfterMs: 10,
            message: '429',
          })
          .turn(),
        'timer',
      );
      next = only(await d.fireTimer(timer).turn(), 'activity');
    }
    expect(next).toMatchObject({
      name: Activities.finishSpillover,
      input: { rounds: 2, note: 'throttled by we' },
    });
  });

  it('a refused start ends at once with its result', async () => {
    const d = driver();
    const begin = only(await d.turn(), 'activity');
    const refused = result({ status: 'refused', code: 'PoolNotFound', placed: 0, demand: 0, rounds: 0 });
    expect(await d.completeActivity(begin.taskId, { ok: false, result: refused }).turn()).toMatchObject({
      done: true,
      output: refused,
    });
  });
});
