import { Activities, InstanceIds } from '../../orchestrations/contracts';
import { drillOrchestrator } from '../../orchestrations/drill';
import type { DrillInput, DrillPlan, ValidateOutcome } from '../../shared/control/drills/drillTypes';
import { only, OrchestratorDriver } from '../helpers/orchestratorDriver';

const T0 = Date.UTC(2031, 7, 1);
const input = (mode: DrillInput['mode']): DrillInput => ({
  drillId: 'drill-x',
  clusterId: 'c',
  mode,
  targetNodeId: null,
  trigger: { kind: 'api' },
  actor: 'admin',
  requestedAt: T0,
});
const plan = (mode: DrillPlan['mode']): DrillPlan => ({
  mode,
  originalActive: 'a',
  target: 'b',
  epoch: 3,
  objectives: { rtoMs: 60_000, rpoMs: 0 },
  silenceMs: 20_000,
  legTimeoutMs: 10_000,
  pollMs: 250,
});
const validation: ValidateOutcome = { checks: [], prediction: { ms: 9000, parts: [] } };
const end = (result: string) => ({ drillId: 'drill-x', clusterId: 'c', result, reasons: [] });

const driver = (mode: DrillInput['mode']) =>
  new OrchestratorDriver(drillOrchestrator, {
    instanceId: InstanceIds.drill('c'),
    input: input(mode),
    startAt: T0,
    activities: Object.values(Activities),
  });

/** Begins a drill of `mode` that may act: the first activity after `beginDrill`. */
async function begun(d: OrchestratorDriver, mode: DrillPlan['mode']) {
  const begin = only(await d.turn(), 'activity');
  return only(
    await d.completeActivity(begin.taskId, { ok: true, plan: plan(mode), validation, proceed: true }).turn(),
    'activity',
  );
}
const begunSwitchover = (d: OrchestratorDriver) => begun(d, 'switchover');

/** The leg `there` started: the drill's first look at it. */
async function firstLook(d: OrchestratorDriver, there: { taskId: number }) {
  return only(
    await d.completeActivity(there.taskId, { ok: true, operationId: 'drill-x-there' }).turn(),
    'activity',
  );
}

describe('the drill orchestrator', () => {
  it('validate: checks, then writes the report; nothing is moved', async () => {
    const d = driver('validate');
    const begin = only(await d.turn(), 'activity');
    expect(begin).toMatchObject({ name: Activities.beginDrill, input: input('validate') });
    const finish = only(
      await d
        .completeActivity(begin.taskId, { ok: true, plan: plan('validate'), validation, proceed: false })
        .turn(),
      'activity',
    );
    expect(finish).toMatchObject({
      name: Activities.finishDrill,
      input: { legOperationIds: [], notes: [], validation },
    });
    expect(await d.completeActivity(finish.taskId, end('passed')).turn()).toMatchObject({
      done: true,
      output: end('passed'),
    });
  });

  it('switchover: there, watched until it ends, then back, then the report with both legs', async () => {
    const d = driver('switchover');
    const there = await begunSwitchover(d);
    expect(there).toMatchObject({ name: Activities.startDrillLeg, input: { leg: 'there', to: 'b' } });
    const look = only(
      await d.completeActivity(there.taskId, { ok: true, operationId: 'drill-x-there' }).turn(),
      'activity',
    );
    expect(look).toMatchObject({ name: Activities.observeDrill, input: { operationId: 'drill-x-there' } });
    // Still running: a durable timer, then another look.
    const waiting = await d
      .completeActivity(look.taskId, { done: false, waitingFor: 'drill-x-there: promote b' })
      .turn();
    expect(waiting.customStatus).toMatchObject({ drillId: 'drill-x', step: 'drill-x-there: promote b' });
    const timer = only(waiting, 'timer');
    expect(timer).toMatchObject({ kind: 'timer', fireAt: T0 + 250 });
    const again = only(await d.fireTimer(timer).turn(), 'activity');
    const back = only(
      await d.completeActivity(again.taskId, { done: true, status: 'succeeded', waitingFor: 'ended' }).turn(),
      'activity',
    );
    expect(back).toMatchObject({ name: Activities.startDrillLeg, input: { leg: 'back', to: 'a' } });
    const look2 = only(
      await d.completeActivity(back.taskId, { ok: true, operationId: 'drill-x-back' }).turn(),
      'activity',
    );
    const finish = only(
      await d.completeActivity(look2.taskId, { done: true, status: 'succeeded', waitingFor: 'ended' }).turn(),
      'activity',
    );
    expect(finish).toMatchObject({
      name: Activities.finishDrill,
      input: { legOperationIds: ['drill-x-there', 'drill-x-back'], notes: [] },
    });
  });

  it('switchover: a failover during the first leg aborts the drill: no leg back', async () => {
    const d = driver('switchover');
    const look = await firstLook(d, await begunSwitchover(d));
    const finish = only(
      await d
        .completeActivity(look.taskId, {
          done: true,
          status: 'failed',
          abort: 'a failover ran',
          waitingFor: 'aborted',
        })
        .turn(),
      'activity',
    );
    expect(finish).toMatchObject({
      name: Activities.finishDrill,
      input: { legOperationIds: ['drill-x-there'], abort: 'a failover ran' },
    });
  });

  it('switchover: a leg that cannot start (another operation runs) stops the drill as aborted', async () => {
    const d = driver('switchover');
    const there = await begunSwitchover(d);
    const finish = only(
      await d.completeActivity(there.taskId, { ok: false, reason: 'another operation was running' }).turn(),
      'activity',
    );
    expect(finish).toMatchObject({
      name: Activities.finishDrill,
      input: { legOperationIds: [], abort: 'another operation was running' },
    });
  });

  it('a leg that does not end in time is given up at the deadline and said so', async () => {
    const d = driver('switchover');
    const there = await begunSwitchover(d);
    let look = only(
      await d.completeActivity(there.taskId, { ok: true, operationId: 'drill-x-there' }).turn(),
      'activity',
    );
    for (;;) {
      const turn = await d.completeActivity(look.taskId, { done: false, waitingFor: 'promote b' }).turn();
      const next = turn.dispatches[0];
      if (next?.kind === 'activity') {
        expect(next).toMatchObject({
          name: Activities.finishDrill,
          input: { notes: ['the make-active of b did not end within 10000 ms'] },
        });
        expect(d.now).toBe(T0 + 10_000);
        return;
      }
      look = only(await d.fireTimer(only(turn, 'timer')).turn(), 'activity');
    }
  });

  it('failover: silence the active, watch the failover it causes, clear the silence, report', async () => {
    const d = driver('failover');
    const silence = await begun(d, 'failover');
    expect(silence).toMatchObject({ name: Activities.requestDrillSilence });
    const look = only(await d.completeActivity(silence.taskId, { requested: true }).turn(), 'activity');
    expect(look).toMatchObject({ kind: 'activity', name: Activities.observeDrill });
    expect(look).not.toHaveProperty('input.operationId');
    const clear = only(
      await d
        .completeActivity(look.taskId, {
          done: true,
          status: 'succeeded',
          failoverOperationId: 'failover-1',
          waitingFor: 'ended',
        })
        .turn(),
      'activity',
    );
    expect(clear).toMatchObject({ name: Activities.endDrillSilence });
    const finish = only(await d.completeActivity(clear.taskId, null).turn(), 'activity');
    expect(finish).toMatchObject({
      name: Activities.finishDrill,
      input: { legOperationIds: ['failover-1'] },
    });
  });

  it('failover: the silence is cleared even when the active could not be asked', async () => {
    const d = driver('failover');
    const silence = await begun(d, 'failover');
    const clear = only(
      await d.completeActivity(silence.taskId, { requested: false, reason: 'the cluster changed' }).turn(),
      'activity',
    );
    expect(clear).toMatchObject({ name: Activities.endDrillSilence });
    const finish = only(await d.completeActivity(clear.taskId, null).turn(), 'activity');
    expect(finish).toMatchObject({ input: { notes: ['the cluster changed'], legOperationIds: [] } });
  });
});
