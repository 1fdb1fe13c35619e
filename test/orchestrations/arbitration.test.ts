import { arbitrationOrchestrator } from '../../orchestrations/arbitration';
import { Activities, Events, InstanceIds } from '../../orchestrations/contracts';
import type { ArbitrationDecision } from '../../shared/control/arbitration/arbitration';
import { only, OrchestratorDriver } from '../helpers/orchestratorDriver';

const T0 = Date.UTC(2031, 5, 1);
const input = { clusterId: 'pair', epoch: 3, windowMs: 500 };
const vote = (nodeId: string, priority = 100) => ({ nodeId, priority, checks: [] });

function driver() {
  return new OrchestratorDriver(arbitrationOrchestrator, {
    instanceId: InstanceIds.arbitration('pair', 3),
    input,
    startAt: T0,
    activities: Object.values(Activities),
  });
}

describe('arbitration orchestrator (given this history, expect these actions)', () => {
  it('first waits for votes until the window ends, deciding nothing', async () => {
    const d = driver();
    const turn = await d.turn();
    expect(turn.done).toBe(false);
    // Only the window timer is scheduled (waiting for an event schedules nothing).
    expect(turn.dispatches).toEqual([{ kind: 'timer', taskId: 0, fireAt: T0 + 500 }]);
  });

  it('gathers every vote of the window and passes them all to the decision, with its instance as decider', async () => {
    const d = driver();
    const window = only(await d.turn(), 'timer');
    d.advanceTo(T0 + 100).raiseEvent(Events.arbitrationVote, vote('ase-1'));
    // A vote cancels the window timer and waits again, for the same deadline.
    const second = await d.turn();
    expect(second.dispatches).toEqual([{ kind: 'timer', taskId: 1, fireAt: T0 + 500 }]);
    expect(second.customStatus).toEqual({ votes: ['ase-1'] });
    d.advanceTo(T0 + 200).raiseEvent(Events.arbitrationVote, vote('ase-2', 10));
    const third = only(await d.turn(), 'timer');
    expect(third).toMatchObject({ fireAt: window.kind === 'timer' ? window.fireAt : -1 });
    const decide = only(await d.fireTimer(third).turn(), 'activity', Activities.decideArbitration);
    expect(decide).toMatchObject({
      input: {
        clusterId: 'pair',
        epoch: 3,
        votes: [vote('ase-1'), vote('ase-2', 10)],
        decider: 'arbitrate-pair-3',
      },
    });
  });

  it('decides with no votes when none arrive in the window', async () => {
    const d = driver();
    const window = only(await d.turn(), 'timer');
    const decide = only(await d.fireTimer(window).turn(), 'activity', Activities.decideArbitration);
    expect(decide).toMatchObject({ input: { votes: [] } });
  });

  it('returns a decision made at once, without waiting', async () => {
    const d = driver();
    const window = only(await d.turn(), 'timer');
    const decide = only(await d.fireTimer(window).turn(), 'activity');
    const decided: ArbitrationDecision = {
      outcome: 'decided',
      winner: 'ase-1',
      losers: ['ase-2'],
      epoch: 4,
      reason: 'kept',
    };
    const last = await d.completeActivity(decide.taskId, decided).turn();
    expect(last.done).toBe(true);
    expect(last.output).toEqual(decided);
    expect(last.dispatches).toEqual([]);
  });

  it("waits out the old active's lease with a durable timer at retryAt, then completes the promotion", async () => {
    const d = driver();
    const window = only(await d.turn(), 'timer');
    const decide = only(await d.fireTimer(window).turn(), 'activity');
    const retryAt = T0 + 9_000;
    const wait = only(
      await d
        .completeActivity(decide.taskId, { outcome: 'waiting', winner: 'ase-2', losers: ['ase-1'], retryAt })
        .turn(),
      'timer',
    );
    expect(wait).toMatchObject({ fireAt: retryAt });
    const complete = only(await d.fireTimer(wait).turn(), 'activity', Activities.completeArbitration);
    expect(complete).toMatchObject({
      input: { clusterId: 'pair', epoch: 3, winner: 'ase-2', losers: ['ase-1'], decider: 'arbitrate-pair-3' },
    });
    const decided = { outcome: 'decided', winner: 'ase-2', losers: ['ase-1'], epoch: 4, reason: 'promoted' };
    const last = await d.completeActivity(complete.taskId, decided).turn();
    expect(last).toMatchObject({ done: true, output: decided });
  });

  it('keeps waiting while the completion still answers waiting (a lease extended meanwhile)', async () => {
    const d = driver();
    const window = only(await d.turn(), 'timer');
    const decide = only(await d.fireTimer(window).turn(), 'activity');
    const first = only(
      await d
        .completeActivity(decide.taskId, {
          outcome: 'waiting',
          winner: 'b',
          losers: ['a'],
          retryAt: T0 + 5000,
        })
        .turn(),
      'timer',
    );
    const complete = only(await d.fireTimer(first).turn(), 'activity');
    const second = only(
      await d
        .completeActivity(complete.taskId, {
          outcome: 'waiting',
          winner: 'b',
          losers: ['a'],
          retryAt: T0 + 8000,
        })
        .turn(),
      'timer',
    );
    expect(second).toMatchObject({ fireAt: T0 + 8000 });
  });

  it('calls the decision with the witness retry policy, so faults are retried by the engine', async () => {
    const d = driver();
    const window = only(await d.turn(), 'timer');
    const turn = await d.fireTimer(window).turn();
    // The decision is called with the witness retry policy: a fault is retried by the engine, not the code.
    expect(
      d.history.some((e) => e.Name === Activities.decideArbitration && e._Retry?.maxNumberOfAttempts === 8),
    ).toBe(true);
    expect(turn.done).toBe(false);
  });
});
