import { clusterOperationOrchestrator } from '../../orchestrations/clusterOperation';
import { Activities, InstanceIds } from '../../orchestrations/contracts';
import type { ClusterOperationInput } from '../../shared/control/operations/clusterOperationTypes';
import { only, OrchestratorDriver } from '../helpers/orchestratorDriver';

const T0 = Date.UTC(2031, 7, 1);
const input: ClusterOperationInput = {
  clusterId: 'c',
  operationId: 'make-active-x',
  kind: 'make-active',
  targetNodeId: 'b',
  force: false,
  trigger: { kind: 'api' },
  actor: 'admin',
  reason: 'maintenance',
  avoidRegions: [],
  requestedAt: T0,
};
const plan = {
  kind: 'make-active',
  clusterId: 'c',
  epoch: 1,
  oldActive: 'a',
  target: 'b',
  candidates: [],
  fencing: 'demote',
};

const driver = () =>
  new OrchestratorDriver(clusterOperationOrchestrator, {
    instanceId: InstanceIds.clusterOperation('c'),
    input,
    startAt: T0,
    activities: Object.values(Activities),
  });

describe('the cluster operation orchestrator', () => {
  it('begins by recording the operation and making its plan', async () => {
    const turn = await driver().turn();
    expect(turn.dispatches).toEqual([
      expect.objectContaining({ kind: 'activity', name: Activities.beginClusterOperation, input }),
    ]);
  });

  it('ends at once with the refusal when the operation cannot begin', async () => {
    const d = driver();
    const begin = only(await d.turn(), 'activity');
    const refused = {
      operationId: 'make-active-x',
      status: 'refused',
      reason: 'no such cluster',
      activeNodeId: null,
      epoch: 0,
    };
    const last = await d.completeActivity(begin.taskId, { ok: false, result: refused }).turn();
    expect(last).toMatchObject({ done: true, output: refused });
  });

  it('advances, waits with a durable timer until the time the step rules name, and carries the progress', async () => {
    const d = driver();
    const begin = only(await d.turn(), 'activity');
    const advance = only(
      await d.completeActivity(begin.taskId, { ok: true, plan, progress: {} }).turn(),
      'activity',
    );
    expect(advance).toMatchObject({
      name: Activities.advanceClusterOperation,
      input: { input, plan, progress: {} },
    });
    const progress = { fencingStartedAt: T0 + 5 };
    const wait = await d
      .completeActivity(advance.taskId, {
        next: 'wait',
        until: T0 + 4500,
        progress,
        waitingFor: 'the lease of a',
      })
      .turn();
    expect(wait.customStatus).toMatchObject({ operationId: 'make-active-x', step: 'the lease of a' });
    const timer = only(wait, 'timer');
    expect(timer).toMatchObject({ fireAt: T0 + 4500 });
    const next = only(await d.fireTimer(timer).turn(), 'activity');
    expect(next).toMatchObject({ name: Activities.advanceClusterOperation, input: { progress } });
    const result = {
      operationId: 'make-active-x',
      status: 'succeeded',
      reason: 'b is active',
      activeNodeId: 'b',
      epoch: 2,
    };
    const last = await d.completeActivity(next.taskId, { next: 'end', result }).turn();
    expect(last).toMatchObject({ done: true, output: result, customStatus: { step: 'ended', result } });
  });

  it('an agent acknowledgement ends a wait at once: the next turn starts before the timer fires', async () => {
    const d = driver();
    const begin = only(await d.turn(), 'activity');
    const advance = only(
      await d.completeActivity(begin.taskId, { ok: true, plan, progress: {} }).turn(),
      'activity',
    );
    const progress = { fencingStartedAt: T0 + 5 };
    const wait = await d
      .completeActivity(advance.taskId, { next: 'wait', until: T0 + 4500, progress, waitingFor: 'demotion' })
      .turn();
    only(wait, 'timer');
    const ack = {
      clusterId: 'c',
      nodeId: 'a',
      commandId: 'demote-1',
      type: 'demote',
      epoch: 1,
      outcome: 'ok',
    };
    const woken = await d.raiseEvent('ack', ack).turn();
    // the timer lost the race: the operation looks at the evidence now, with its progress
    expect(only(woken, 'activity')).toMatchObject({
      name: Activities.advanceClusterOperation,
      input: { progress },
    });
    expect(woken.dispatches.filter((x) => x.kind === 'timer')).toEqual([]);
  });

  it("the new active's verifying heartbeat (heard) ends a verify wait at once", async () => {
    const d = driver();
    const begin = only(await d.turn(), 'activity');
    const advance = only(
      await d.completeActivity(begin.taskId, { ok: true, plan, progress: {} }).turn(),
      'activity',
    );
    const progress = { promoted: { nodeId: 'b', epoch: 2, at: T0 } };
    only(
      await d
        .completeActivity(advance.taskId, {
          next: 'wait',
          until: T0 + 4000,
          progress,
          waitingFor: 'verify b',
        })
        .turn(),
      'timer',
    );
    const woken = await d.raiseEvent('heard', { clusterId: 'c', nodeId: 'b', epoch: 2 }).turn();
    expect(only(woken, 'activity')).toMatchObject({ input: { progress } });
  });

  it('calls its activities with the witness retry policy, so faults are retried by the engine', async () => {
    const d = driver();
    await d.turn();
    expect(
      d.history.some(
        (e) => e.Name === Activities.beginClusterOperation && e._Retry?.maxNumberOfAttempts === 8,
      ),
    ).toBe(true);
  });
});
