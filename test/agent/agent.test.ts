import { Agent, type AgentSettings } from '../../agent/agent';
import type { StepResult } from '../../agent/hooks';
import { BOUNDS } from '../../shared/contracts/bounds';
import { initialState, MemoryStateStore, StateKeeper, type AgentState } from '../../agent/state';
import {
  demote,
  FakeChecks,
  FakeControlPlane,
  FakeHooks,
  grant,
  memoryLogger,
  promote,
  reply,
} from './helpers/fakes';
import { ManualClock } from './helpers/manualClock';

const settings: AgentSettings = {
  clusterId: 'bcm-head',
  nodeId: 'head-a',
  initialIntervalMs: 1000,
  jitterRatio: 0,
  maxBackoffMs: 30_000,
  fenceMarginMs: 0,
  shutdownTimeoutMs: 5000,
  demoteOnShutdown: true,
};

async function setup(options: { state?: Partial<AgentState>; settings?: Partial<AgentSettings> } = {}) {
  const clock = new ManualClock();
  const store = new MemoryStateStore();
  store.state = { ...initialState('bcm-head', 'head-a'), ...options.state };
  const controlPlane = new FakeControlPlane(clock);
  const hooks = new FakeHooks();
  const checks = new FakeChecks();
  const { log, records } = memoryLogger();
  const open = async () =>
    new Agent({
      settings: { ...settings, ...options.settings },
      client: controlPlane,
      checks,
      hooks,
      state: await StateKeeper.open(store, 'bcm-head', 'head-a'),
      writeStatus: () => Promise.resolve(),
      clock,
      log,
      random: () => 0.5,
    });
  const agent = await open();
  return { clock, store, controlPlane, hooks, checks, records, agent, open };
}

/** Promotes the agent under `epoch`: one heartbeat granting the lease with the promote command. */
async function makeActive(t: Awaited<ReturnType<typeof setup>>, epoch = 1, leaseMs = 4000) {
  t.controlPlane.answer(grant(epoch, leaseMs, [promote(epoch)]));
  await t.agent.heartbeatOnce();
  await t.agent.idle();
  expect(t.agent.role).toBe('active');
}

describe('commands', () => {
  it('becomes active through a promote command that comes with a lease', async () => {
    const t = await setup();
    t.controlPlane.answer(grant(1, 4000, [promote(1)]));
    expect(await t.agent.heartbeatOnce()).toBe(true);
    await t.agent.idle();
    expect(t.hooks.operations).toEqual(['promote:promote-1']);
    expect(t.hooks.runs[0]).toMatchObject({ epoch: 1, role: 'active' });
    expect(t.agent.role).toBe('active');
    expect(t.agent.holdsLease()).toBe(true);
    expect(t.store.state).toMatchObject({ role: 'active', roleEpoch: 1, highestEpoch: 1 });
    expect(t.store.state?.commands).toEqual([expect.objectContaining({ id: 'promote-1', status: 'ok' })]);
  });

  it('runs a command id at most once, even when it is delivered again while running and after a restart', async () => {
    const t = await setup();
    t.hooks.hold.add('promote');
    t.controlPlane.answer(grant(1, 4000, [promote(1)]), grant(1, 4000, [promote(1)]));
    await t.agent.heartbeatOnce();
    // While the promote hook runs, the agent still reports standby, so the control plane sends the command again.
    expect(t.agent.heartbeatBody().role).toBe('standby');
    await t.agent.heartbeatOnce();
    expect(t.hooks.runs).toHaveLength(1);
    // Recorded on disk before it ran: a crash now must not run it again.
    expect(t.store.state?.commands).toEqual([
      expect.objectContaining({ id: 'promote-1', status: 'running' }),
    ]);
    t.hooks.pending[0]?.finish();
    await t.agent.idle();
    expect(t.agent.role).toBe('active');

    const restarted = await t.open();
    await restarted.recover(); // it was active: demotes and fences first
    t.controlPlane.answer(grant(1, 4000, [promote(1)]));
    await restarted.heartbeatOnce();
    await restarted.idle();
    expect(t.hooks.operations.filter((o) => o.startsWith('promote'))).toEqual(['promote:promote-1']);
  });

  it('refuses commands under an epoch lower than the highest it has seen, and answers under an older epoch', async () => {
    const t = await setup();
    t.controlPlane.answer(reply({ epoch: 3 }));
    await t.agent.heartbeatOnce();
    t.controlPlane.answer(reply({ epoch: 3, commands: [demote(2)] }), grant(2, 4000, [promote(2)]));
    await t.agent.heartbeatOnce();
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.hooks.runs).toEqual([]);
    expect(t.agent.holdsLease()).toBe(false);
    expect(t.store.state?.commands).toEqual([
      expect.objectContaining({ id: 'demote-2', status: 'refused', detail: expect.stringMatching(/below/) }),
    ]);
    expect(t.records).toContainEqual(expect.objectContaining({ msg: 'answer under an older epoch ignored' }));
  });

  it('keeps the highest epoch across a restart, and refuses older commands after it', async () => {
    const t = await setup();
    t.controlPlane.answer(reply({ epoch: 5 }));
    await t.agent.heartbeatOnce();
    const restarted = await t.open();
    expect(restarted.heartbeatBody().epoch).toBe(5);
    t.controlPlane.answer(reply({ epoch: 5, commands: [promote(4)] }));
    await restarted.heartbeatOnce();
    expect(t.hooks.runs).toEqual([]);
  });

  it('demotes on a demote command, and refuses any grant under that epoch afterwards, even a late one', async () => {
    const t = await setup();
    await makeActive(t, 2);
    t.controlPlane.answer(reply({ epoch: 2, commands: [demote(2)] }));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.hooks.operations).toEqual(['promote:promote-2', 'demote:demote-2']);
    expect(t.agent.role).toBe('standby');
    expect(t.store.state).toMatchObject({ demotedEpoch: 2 });
    // A grant committed before the revocation, arriving late, with a fresh promote id: refused.
    t.controlPlane.answer(grant(2, 4000, [{ id: 'promote-2-again', type: 'promote', epoch: 2 }]));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.agent.holdsLease()).toBe(false);
    expect(t.agent.role).toBe('standby');
    expect(t.hooks.operations).toHaveLength(2);
    expect(t.store.state?.reports.promote).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/demoted/),
    });
    // The next epoch is accepted again.
    t.controlPlane.answer(grant(3, 4000, [promote(3)]));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.agent.role).toBe('active');
  });

  it('reports hook outcomes in the next heartbeat as checks named hook:<operation>', async () => {
    const t = await setup();
    t.checks.round = { checks: [{ name: 'database', status: 'ok', detail: 'up', durationMs: 3 }] };
    await t.agent.runChecks();
    await makeActive(t, 1);
    const body = t.agent.heartbeatBody();
    expect(body).toEqual({
      role: 'active',
      epoch: 1,
      checks: [
        { name: 'database', status: 'ok', detail: 'up' },
        { name: 'hook:promote', status: 'ok', detail: 'promote-1: ok' },
      ],
    });
  });

  it('rolls a failed promotion back with the demote hook and stays standby', async () => {
    const t = await setup();
    t.hooks.outcome.set('promote', 'fail');
    t.controlPlane.answer(grant(1, 4000, [promote(1)]));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.hooks.operations).toEqual(['promote:promote-1', 'demote:promote-1-rollback']);
    expect(t.agent.role).toBe('standby');
    expect(t.store.state?.commands[0]).toMatchObject({ id: 'promote-1', status: 'fail' });
  });

  it('demotes when the control plane answers standby to an active node', async () => {
    const t = await setup();
    await makeActive(t, 1);
    t.controlPlane.answer(reply({ epoch: 1 }));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.hooks.operations).toEqual(['promote:promote-1', expect.stringMatching(/^demote:standby-1-/)]);
    expect(t.agent.role).toBe('standby');
  });

  it('stops and undoes a promotion when the control plane answers standby meanwhile (revoked)', async () => {
    const t = await setup();
    t.hooks.hold.add('promote');
    t.controlPlane.answer(grant(1, 4000, [promote(1)]), reply({ epoch: 1 }));
    await t.agent.heartbeatOnce();
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.hooks.operations).toEqual(['promote:promote-1', 'demote:promote-1-rollback']);
    expect(t.agent.role).toBe('standby');
    expect(t.agent.holdsLease()).toBe(false);
  });

  it('keeps a lease granted under a newer epoch while an older demotion runs', async () => {
    const t = await setup();
    await makeActive(t, 1);
    t.hooks.hold.add('demote');
    t.controlPlane.answer(reply({ epoch: 1, commands: [demote(1)] }), grant(2, 4000, [promote(2)]));
    await t.agent.heartbeatOnce();
    await t.agent.heartbeatOnce();
    t.hooks.pending[0]?.finish();
    await t.agent.idle();
    expect(t.hooks.operations).toEqual(['promote:promote-1', 'demote:demote-1', 'promote:promote-2']);
    expect(t.store.state).toMatchObject({ role: 'active', roleEpoch: 2, demotedEpoch: 1 });
  });

  it('carries the active role to a newer epoch granted without a command (reaffirmed)', async () => {
    const t = await setup();
    await makeActive(t, 1);
    t.controlPlane.answer(grant(2));
    await t.agent.heartbeatOnce();
    expect(t.store.state).toMatchObject({ role: 'active', roleEpoch: 2, highestEpoch: 2 });
    expect(t.hooks.runs).toHaveLength(1);
  });
});

describe('the lease', () => {
  it('is timed from the send time of the granted heartbeat, not from when the answer arrived', async () => {
    const t = await setup();
    t.controlPlane.latencyMs = 400; // the answer arrives 400 ms after the heartbeat was sent
    t.controlPlane.answer(grant(1, 1000, [promote(1)]));
    await t.agent.heartbeatOnce();
    t.controlPlane.latencyMs = 0; // the promotion's acknowledgement takes no time: only the heartbeat's counts here
    await t.agent.idle();
    expect(t.agent.role).toBe('active');
    t.clock.advance(599); // 999 ms after sending
    expect(t.agent.holdsLease()).toBe(true);
    t.clock.advance(1); // 1000 ms after sending: over, although only 600 ms after the answer
    expect(t.agent.holdsLease()).toBe(false);
    await t.agent.idle();
    expect(t.hooks.operations.slice(1)).toEqual([
      expect.stringMatching(/^demote:self-fence-1-/),
      expect.stringMatching(/^fence:self-fence-1-/),
    ]);
  });

  it('self-fences when it lapses: demote, then fence, then standby; reported in the next heartbeat', async () => {
    const t = await setup();
    await makeActive(t, 1, 4000);
    t.clock.advance(3999);
    await t.agent.idle();
    expect(t.hooks.runs).toHaveLength(1);
    t.clock.advance(1);
    await t.agent.idle();
    expect(t.hooks.runs.map((r) => r.operation)).toEqual(['promote', 'demote', 'fence']);
    expect(t.hooks.runs[1]).toMatchObject({
      epoch: 1,
      role: 'standby',
      reason: expect.stringMatching(/lapsed/),
    });
    expect(t.agent.role).toBe('standby');
    expect(t.store.state).toMatchObject({ role: 'standby', demotedEpoch: 1 });
    const body = t.agent.heartbeatBody();
    expect(body.role).toBe('standby');
    expect(body.checks).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'hook:demote', status: 'ok' }),
        expect.objectContaining({ name: 'hook:fence', status: 'ok' }),
      ]),
    );
    expect(t.records).toContainEqual(expect.objectContaining({ msg: 'lease lapsed: self-fencing' }));
  });

  it('does not lapse while heartbeats keep renewing it', async () => {
    const t = await setup();
    await makeActive(t, 1, 2000);
    for (let i = 0; i < 5; i++) {
      t.clock.advance(1000);
      t.controlPlane.answer(grant(1, 2000));
      await t.agent.heartbeatOnce();
    }
    t.clock.advance(1999);
    await t.agent.idle();
    expect(t.agent.role).toBe('active');
    t.clock.advance(1);
    await t.agent.idle();
    expect(t.agent.role).toBe('standby');
  });

  it('lapses even when heartbeats keep failing (cut off from the control plane)', async () => {
    const t = await setup();
    await makeActive(t, 1, 2000);
    t.controlPlane.defaultAnswer = { fail: 'cannot reach control-plane:443: ECONNREFUSED' };
    for (let i = 0; i < 4; i++) {
      t.clock.advance(500);
      expect(await t.agent.heartbeatOnce()).toBe(false);
    }
    await t.agent.idle();
    expect(t.hooks.runs.map((r) => r.operation)).toEqual(['promote', 'demote', 'fence']);
  });

  it('starts the self-fence fenceMarginMs before the lease ends', async () => {
    const t = await setup({ settings: { fenceMarginMs: 500 } });
    await makeActive(t, 1, 2000);
    t.clock.advance(1499);
    expect(t.agent.holdsLease()).toBe(true);
    t.clock.advance(1);
    await t.agent.idle();
    expect(t.hooks.runs.map((r) => r.operation)).toEqual(['promote', 'demote', 'fence']);
  });

  it('uses at most half the lease as the fence margin', async () => {
    const t = await setup({ settings: { fenceMarginMs: 5000 } });
    await makeActive(t, 1, 2000);
    t.clock.advance(999);
    expect(t.agent.holdsLease()).toBe(true);
    t.clock.advance(1);
    expect(t.agent.holdsLease()).toBe(false);
  });

  it('aborts a promotion whose lease lapses midway, then demotes and fences', async () => {
    const t = await setup();
    t.hooks.hold.add('promote');
    t.controlPlane.answer(grant(1, 1000, [promote(1)]));
    await t.agent.heartbeatOnce();
    t.clock.advance(1000);
    await t.agent.idle();
    expect(t.hooks.runs.map((r) => r.operation)).toEqual(['promote', 'demote', 'fence']);
    expect(t.agent.role).toBe('standby');
    expect(t.store.state?.commands[0]).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/lapsed/),
    });
  });
});

describe('restart', () => {
  it('an agent that stopped while active demotes and fences before its first heartbeat, which says standby', async () => {
    const t = await setup({
      state: { role: 'active', roleEpoch: 4, highestEpoch: 4, seqReserved: 512 },
    });
    await t.agent.recover();
    expect(t.hooks.runs.map((r) => [r.operation, r.epoch])).toEqual([
      ['demote', 4],
      ['fence', 4],
    ]);
    expect(t.store.state).toMatchObject({ role: 'standby', demotedEpoch: 4, highestEpoch: 4 });
    expect(t.agent.heartbeatBody()).toMatchObject({ role: 'standby', epoch: 4 });
    // The grant of the epoch it demoted under is refused.
    t.controlPlane.answer(grant(4, 4000, [promote(4)]));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.agent.holdsLease()).toBe(false);
    expect(t.agent.role).toBe('standby');
  });

  it('marks a command that was running at the crash as interrupted, never re-running it', async () => {
    const t = await setup({
      state: {
        role: 'promoting',
        roleEpoch: 2,
        highestEpoch: 2,
        commands: [
          { id: 'promote-2', type: 'promote', epoch: 2, status: 'running', at: '2026-11-22T12:00:00Z' },
        ],
      },
    });
    await t.agent.recover();
    expect(t.store.state?.commands[0]?.status).toBe('interrupted');
    t.controlPlane.answer(grant(2, 4000, [promote(2)]));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.hooks.runs.map((r) => r.operation)).toEqual(['demote', 'fence']);
  });
});

describe('arbitration', () => {
  const arbitration = { peerCheck: 'failoverping', failForMs: 3000, pollTimeoutMs: 20_000 };
  const peer = (status: 'ok' | 'fail') => ({
    checks: [{ name: 'failoverping', status, detail: status, durationMs: 1 }],
  });

  async function lostPeer(t: Awaited<ReturnType<typeof setup>>) {
    t.controlPlane.answer(reply({ epoch: 1 }));
    await t.agent.heartbeatOnce();
    t.checks.round = peer('fail');
    await t.agent.runChecks();
    t.clock.advance(3000);
  }

  it('asks the witness once the peer check has failed for failForMs, and fences and stays standby when it loses', async () => {
    const t = await setup({ settings: { arbitration } });
    await lostPeer(t);
    t.controlPlane.arbitrationAnswers.push({
      status: 200,
      json: { decision: 'lost', epoch: 2, role: 'standby', fence: true, winner: 'head-b' },
    });
    expect(await t.agent.arbitrate()).toMatchObject({ decision: 'lost' });
    await t.agent.idle();
    expect(t.controlPlane.arbitrations).toEqual([
      { epoch: 1, checks: [{ name: 'failoverping', status: 'fail', detail: 'fail' }] },
    ]);
    expect(t.hooks.runs.map((r) => [r.operation, r.epoch])).toEqual([['fence', 2]]);
    expect(t.store.state).toMatchObject({ role: 'standby', highestEpoch: 2, demotedEpoch: 2 });
  });

  it('after winning, becomes active only through a lease granted by a later heartbeat', async () => {
    const t = await setup({ settings: { arbitration } });
    await lostPeer(t);
    t.controlPlane.arbitrationAnswers.push({
      status: 200,
      json: { decision: 'won', epoch: 2, role: 'active', fence: false, winner: 'head-a' },
    });
    await t.agent.arbitrate();
    await t.agent.idle();
    expect(t.agent.role).toBe('standby');
    expect(t.hooks.runs).toEqual([]);
    t.controlPlane.answer(grant(2, 4000, [promote(2)]));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.agent.role).toBe('active');
  });

  it('polls the statusUrl of a pending arbitration with backoff until it is decided', async () => {
    const t = await setup({ settings: { arbitration } });
    await lostPeer(t);
    const statusUrl = 'https://cp.example/api/v1/agent/arbitration/bcm-head/1';
    t.controlPlane.arbitrationAnswers.push(
      { status: 202, json: { decision: 'pending', statusUrl } },
      { status: 202, json: { decision: 'pending', statusUrl } },
      { status: 200, json: { decision: 'lost', epoch: 2, role: 'standby', fence: true, winner: 'head-b' } },
    );
    const asked = t.agent.arbitrate();
    const pollTimes: number[] = [];
    const started = t.clock.now();
    for (let i = 0; i < 2; i++) {
      // Each poll waits on a timer: run the clock to it.
      await new Promise((resolve) => setImmediate(resolve));
      const next = Math.min(...t.clock.timers.map((timer) => timer.at));
      t.clock.advance(next - t.clock.now());
      pollTimes.push(t.clock.now() - started);
    }
    expect(await asked).toMatchObject({ decision: 'lost' });
    expect(t.controlPlane.statusPolls).toEqual([statusUrl, statusUrl]);
    expect(pollTimes[1]! - pollTimes[0]!).toBeGreaterThan(pollTimes[0]!);
  });

  it('does not ask while it holds the lease: the control plane hears it', async () => {
    const t = await setup({ settings: { arbitration } });
    await makeActive(t, 1);
    expect(await t.agent.arbitrate()).toBeUndefined();
    expect(t.controlPlane.arbitrations).toEqual([]);
  });

  it('triggers from the check loop only after failForMs of continuous failure', async () => {
    const t = await setup({ settings: { arbitration } });
    t.controlPlane.answer(reply({ epoch: 1 }));
    await t.agent.heartbeatOnce();
    t.checks.round = peer('fail');
    await t.agent.runChecks();
    t.clock.advance(2000);
    t.checks.round = peer('ok'); // a break resets the count
    await t.agent.runChecks();
    t.checks.round = peer('fail');
    await t.agent.runChecks();
    t.clock.advance(2999);
    await t.agent.runChecks();
    expect(t.controlPlane.arbitrations).toHaveLength(0);
    t.clock.advance(1);
    t.controlPlane.arbitrationAnswers.push({
      status: 200,
      json: { decision: 'won', epoch: 2, fence: false },
    });
    await t.agent.runChecks();
    expect(t.controlPlane.arbitrations).toHaveLength(1);
  });
});

describe('heartbeat timing', () => {
  it('backs off exponentially while the control plane is unreachable, up to the cap', async () => {
    const t = await setup({ settings: { maxBackoffMs: 8000 } });
    t.controlPlane.defaultAnswer = { fail: 'cannot reach control-plane:443: ECONNREFUSED' };
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      await t.agent.heartbeatOnce();
      delays.push(t.agent.nextDelay());
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    t.controlPlane.defaultAnswer = { status: 200, json: reply({ heartbeatIntervalMs: 500 }) };
    await t.agent.heartbeatOnce();
    expect(t.agent.nextDelay()).toBe(500);
  });

  it('keeps retrying at the heartbeat interval while a lease is at stake', async () => {
    const t = await setup({ settings: { maxBackoffMs: 8000 } });
    await makeActive(t, 1, 10_000);
    t.controlPlane.defaultAnswer = { fail: 'no answer within 5000 ms' };
    for (let i = 0; i < 4; i++) await t.agent.heartbeatOnce();
    expect(t.agent.nextDelay()).toBe(1000);
  });

  it('jitters the interval by jitterRatio and uses the interval the control plane asks for', async () => {
    const t = await setup({ settings: { jitterRatio: 0.1 } });
    t.controlPlane.answer(reply({ heartbeatIntervalMs: 2000 }));
    await t.agent.heartbeatOnce();
    expect(t.agent.intervalMs).toBe(2000);
    expect(t.agent.nextDelay()).toBe(2000); // random() = 0.5: the middle of the range
  });

  it('logs a failure once, not on every retry, and says when the control plane is back', async () => {
    const t = await setup();
    t.controlPlane.defaultAnswer = { fail: 'cannot reach control-plane:443: ECONNREFUSED' };
    for (let i = 0; i < 3; i++) await t.agent.heartbeatOnce();
    t.controlPlane.defaultAnswer = { status: 200, json: reply() };
    await t.agent.heartbeatOnce();
    const messages = t.records.filter((r) => r.level !== 'debug').map((r) => r.msg);
    expect(messages).toEqual(['heartbeat failed', 'connected to the control plane', 'new epoch']);
  });

  it('describes a refused heartbeat with the control plane error and a hint', async () => {
    const t = await setup();
    t.controlPlane.answer({
      status: 401,
      json: { error: { code: 'BadSignature', message: 'the request signature does not match' } },
    });
    await t.agent.heartbeatOnce();
    expect(t.agent.lastFailure).toBe(
      'HTTP 401 BadSignature: the request signature does not match (check key.file and key.version, that the clock is in sync, and that this node is in the cluster document with its key issued)',
    );
  });
});

describe('shutdown', () => {
  it('waits for a running hook to finish, then demotes an active node', async () => {
    const t = await setup();
    await makeActive(t, 1);
    t.hooks.hold.add('demote');
    t.controlPlane.answer(reply({ epoch: 1, commands: [demote(1)] }));
    await t.agent.heartbeatOnce();
    let stopped = false;
    const stopping = t.agent.stop('test').then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    t.hooks.pending[0]?.finish();
    await stopping;
    expect(t.hooks.runs.map((r) => r.operation)).toEqual(['promote', 'demote']);
    expect(t.agent.role).toBe('standby');
  });

  it('demotes an active node when stopped', async () => {
    const t = await setup();
    await makeActive(t, 1);
    await t.agent.stop('test');
    expect(t.hooks.operations[1]).toMatch(/^demote:shutdown-1-/);
    expect(t.store.state).toMatchObject({ role: 'standby', demotedEpoch: 1 });
  });
});

describe('replication lag', () => {
  it('sends the lag a replication check measured as replicationLagMs, beside the check', async () => {
    const t = await setup();
    t.checks.round = {
      checks: [{ name: 'replication', status: 'ok', detail: 'lag 1200 ms', durationMs: 3 }],
      replicationLagMs: 1200,
    };
    await t.agent.runChecks();
    await t.agent.heartbeatOnce();
    expect(t.controlPlane.heartbeats[0]).toMatchObject({
      replicationLagMs: 1200,
      checks: [{ name: 'replication', status: 'ok', detail: 'lag 1200 ms' }],
    });
    t.checks.round = { checks: [] };
    await t.agent.runChecks();
    expect(t.agent.heartbeatBody().replicationLagMs).toBeUndefined();
  });
});

describe('command acknowledgements', () => {
  const step = (name: string, exitCode: number | null, stdout: string, stderr = ''): StepResult => ({
    phase: 'main',
    name,
    command: ['/bin/true'],
    status: exitCode === 0 ? 'ok' : 'fail',
    end: exitCode === null ? 'timed out after 100 ms' : `exit ${exitCode}`,
    exitCode,
    attempts: 1,
    durationMs: 812,
    stdout,
    stderr,
  });

  it('acknowledges a command once its hooks finished, with each step and a bounded output tail', async () => {
    const t = await setup();
    t.hooks.steps.set('promote', [
      step('takeover', 0, `${'x'.repeat(5000)}taken over\n`),
      step('post-promote-1', null, '', 'still waiting'),
    ]);
    t.hooks.outcome.set('promote', 'warn');
    t.hooks.hold.add('promote');
    t.controlPlane.answer(grant(1, 4000, [{ ...promote(1), clusterId: 'bcm-head', nodeId: 'head-a' }]));
    await t.agent.heartbeatOnce();
    // Not before the hooks finish.
    expect(t.controlPlane.acks).toEqual([]);
    t.hooks.pending[0]?.finish('warn');
    await t.agent.idle();
    expect(t.controlPlane.acks).toHaveLength(1);
    const [ack] = t.controlPlane.acks;
    expect(ack).toMatchObject({
      commandId: 'promote-1',
      type: 'promote',
      epoch: 1,
      outcome: 'warn',
      message: 'promote-1: warn',
      steps: [
        { name: 'takeover', exitCode: 0, durationMs: 812 },
        { name: 'post-promote-1', exitCode: null, durationMs: 812, outputTail: 'still waiting' },
      ],
    });
    expect(ack?.steps[0]?.outputTail).toHaveLength(BOUNDS.outputTail);
    expect(ack?.steps[0]?.outputTail.endsWith('taken over\n')).toBe(true);
    // Answered 2xx: nothing left to send, on disk either.
    expect(t.agent.pendingAcks).toEqual([]);
    expect(t.store.state?.pendingAcks).toEqual([]);
  });

  it('acknowledges a failed demote, a refused command and a fence-peer it cannot run, as failed', async () => {
    const t = await setup();
    await makeActive(t, 2);
    t.hooks.outcome.set('demote', 'fail');
    t.controlPlane.answer(
      reply({ epoch: 2, commands: [demote(2), { id: 'fence-peer-2', type: 'fence-peer', epoch: 2 }] }),
    );
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    t.controlPlane.answer(reply({ epoch: 2, commands: [promote(1)] }));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.controlPlane.acks.map((a) => [a.commandId, a.outcome])).toEqual([
      ['promote-2', 'ok'],
      ['fence-peer-2', 'failed'],
      ['demote-2', 'failed'],
      ['promote-1', 'failed'],
    ]);
    expect(t.controlPlane.acks[3]?.message).toMatch(/^refused: epoch 1 is below/);
  });

  it('runs a fence command (a standby fences itself) and acknowledges it', async () => {
    const t = await setup();
    t.controlPlane.answer(reply({ epoch: 3, commands: [{ id: 'fence-3', type: 'fence', epoch: 3 }] }));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.hooks.operations).toEqual(['fence:fence-3']);
    expect(t.store.state?.demotedEpoch).toBe(3);
    expect(t.controlPlane.acks).toMatchObject([{ commandId: 'fence-3', type: 'fence', outcome: 'ok' }]);
  });

  it('fences an active node told to fence: it demotes and fences once, and acknowledges both steps', async () => {
    const t = await setup();
    await makeActive(t, 1);
    t.hooks.steps.set('demote', [step('stop-services', 0, 'stopped\n')]);
    t.hooks.steps.set('fence', [step('power-off', 0, 'off\n')]);
    t.controlPlane.answer(reply({ epoch: 1, commands: [{ id: 'fence-1', type: 'fence', epoch: 1 }] }));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.hooks.operations).toEqual(['promote:promote-1', 'demote:fence-1', 'fence:fence-1']);
    expect(t.agent.role).toBe('standby');
    expect(t.controlPlane.acks.at(-1)).toMatchObject({
      commandId: 'fence-1',
      type: 'fence',
      outcome: 'ok',
      steps: [{ name: 'stop-services' }, { name: 'power-off' }],
    });
  });

  it('ignores a command addressed to another node: it neither runs nor acknowledges it', async () => {
    const t = await setup();
    t.controlPlane.answer(grant(1, 4000, [{ ...promote(1), clusterId: 'bcm-head', nodeId: 'head-b' }]));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.hooks.runs).toEqual([]);
    expect(t.controlPlane.acks).toEqual([]);
    expect(t.records).toContainEqual(expect.objectContaining({ msg: 'command for another node ignored' }));
  });

  it('retries with backoff until the control plane answers 2xx, and with every heartbeat cycle', async () => {
    const t = await setup();
    t.controlPlane.ackAnswers.push(
      { fail: 'connection refused' },
      { status: 503, json: { error: { code: 'StorageUnavailable', message: 'retry' } } },
      { status: 409, json: { error: { code: 'ReplayedSequence', message: 'replayed', lastAcceptedSeq: 9 } } },
    );
    await makeActive(t, 1);
    expect(t.controlPlane.acks).toHaveLength(1);
    expect(t.agent.pendingAcks.map((a) => a.commandId)).toEqual(['promote-1']);
    t.clock.advance(249); // the first retry is 250 ms later
    await t.agent.idle();
    expect(t.controlPlane.acks).toHaveLength(1);
    t.clock.advance(1);
    await t.agent.idle();
    expect(t.controlPlane.acks).toHaveLength(2); // 503: the next one in 500 ms
    // A heartbeat cycle comes first: it re-sends at once (the 409 is retried too).
    t.controlPlane.answer(grant(1));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.controlPlane.acks).toHaveLength(3);
    t.clock.advance(1000); // the backoff is capped at the heartbeat interval
    await t.agent.idle();
    expect(t.controlPlane.acks).toHaveLength(4);
    expect(t.controlPlane.acks.every((a) => a.commandId === 'promote-1')).toBe(true);
    expect(t.agent.pendingAcks).toEqual([]);
    t.clock.advance(10_000);
    await t.agent.idle();
    expect(t.controlPlane.acks).toHaveLength(4);
  });

  it('drops an acknowledgement the control plane says will never count', async () => {
    const t = await setup();
    t.controlPlane.ackAnswers.push({
      status: 409,
      json: { error: { code: 'EpochAhead', message: 'ahead', currentEpoch: 0 } },
    });
    await makeActive(t, 1);
    expect(t.controlPlane.acks).toHaveLength(1);
    expect(t.agent.pendingAcks).toEqual([]);
    expect(t.records).toContainEqual(
      expect.objectContaining({ msg: 'acknowledgement refused for good: dropped', code: 'EpochAhead' }),
    );
  });

  it('re-sends after a restart what the control plane had not answered, and acknowledges interrupted commands', async () => {
    const t = await setup();
    const down = { fail: 'connection refused' };
    t.controlPlane.ackAnswers.push(down, down, down);
    await makeActive(t, 1);
    t.hooks.hold.add('demote');
    t.controlPlane.answer(reply({ epoch: 1, commands: [demote(1)] }));
    await t.agent.heartbeatOnce(); // its cycle re-sends promote-1: unreachable again
    await t.agent.flushAcks(); // and once more
    expect(t.controlPlane.acks).toHaveLength(3);
    // The agent dies here: promote-1's acknowledgement unsent, demote-1 running.
    expect(t.store.state?.pendingAcks.map((a) => a.commandId)).toEqual(['promote-1']);

    const restarted = await t.open();
    t.hooks.hold.clear();
    await restarted.start();
    await restarted.idle();
    await restarted.stop('test');
    expect(t.controlPlane.acks.map((a) => [a.commandId, a.outcome])).toEqual([
      ['promote-1', 'ok'],
      ['promote-1', 'ok'],
      ['promote-1', 'ok'],
      ['promote-1', 'ok'],
      ['demote-1', 'failed'],
    ]);
    expect(t.controlPlane.acks[4]?.message).toBe('the agent stopped while the command ran');
    expect(restarted.pendingAcks).toEqual([]);
  });
});

describe('fence-peer', () => {
  const fencePeer = (target: string | undefined, epoch = 4) => ({
    id: `fence-peer-${target ?? 'nobody'}-${epoch}`,
    type: 'fence-peer',
    epoch,
    clusterId: 'bcm-head',
    nodeId: 'head-a',
    ...(target !== undefined ? { targetNodeId: target } : {}),
  });
  const fencer = { fencePeer: { peers: [] } };
  const powerOff = (exitCode: number, stdout: string, stderr = ''): StepResult => ({
    phase: 'main',
    name: 'power-off',
    command: ['/usr/local/lib/failover-agent/fence-peer-ipmi.sh'],
    status: exitCode === 0 ? 'ok' : 'fail',
    end: `exit ${exitCode}`,
    exitCode,
    attempts: 1,
    durationMs: 2400,
    stdout,
    stderr,
  });

  it('runs the fencePeer hook once for the target and acknowledges ok with its step; its own role and epochs stay', async () => {
    const t = await setup({ settings: fencer });
    t.hooks.steps.set('fence-peer', [powerOff(0, 'head-b: Chassis Power is off\n')]);
    t.controlPlane.answer(reply({ epoch: 4, commands: [fencePeer('head-b')] }));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.hooks.runs).toEqual([
      expect.objectContaining({
        operation: 'fence-peer',
        operationId: 'fence-peer-head-b-4',
        epoch: 4,
        targetNodeId: 'head-b',
      }),
    ]);
    expect(t.hooks.runs[0]?.role).toBeUndefined();
    expect(t.controlPlane.acks).toEqual([
      expect.objectContaining({
        commandId: 'fence-peer-head-b-4',
        type: 'fence-peer',
        epoch: 4,
        outcome: 'ok',
        steps: [
          { name: 'power-off', exitCode: 0, durationMs: 2400, outputTail: 'head-b: Chassis Power is off\n' },
        ],
      }),
    ]);
    // An action on another node: this one is standby as before, demoted under no epoch, and reports no hook check.
    expect(t.store.state).toMatchObject({
      role: 'standby',
      roleEpoch: null,
      highestEpoch: 4,
      demotedEpoch: 0,
    });
    expect(t.store.state?.reports).toEqual({});
    expect(t.agent.heartbeatBody()).toEqual({ role: 'standby', epoch: 4, checks: [] });
    expect(t.store.state?.commands).toEqual([
      expect.objectContaining({ id: 'fence-peer-head-b-4', type: 'fence-peer', status: 'ok' }),
    ]);
  });

  it('runs a command id once although every heartbeat answer repeats it, while it runs, after it and after a restart', async () => {
    const t = await setup({ settings: fencer });
    t.hooks.hold.add('fence-peer');
    t.hooks.steps.set('fence-peer', [powerOff(0, 'off\n')]);
    const again = () => reply({ epoch: 4, commands: [fencePeer('head-b')] });
    t.controlPlane.answer(again(), again());
    await t.agent.heartbeatOnce();
    await t.agent.heartbeatOnce();
    expect(t.hooks.runs).toHaveLength(1);
    // On disk before it ran: a crash now would not run it again.
    expect(t.store.state?.commands).toEqual([
      expect.objectContaining({ id: 'fence-peer-head-b-4', status: 'running' }),
    ]);
    t.hooks.pending[0]?.finish('ok');
    await t.agent.idle();
    t.controlPlane.answer(again());
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    const restarted = await t.open();
    await restarted.recover();
    t.controlPlane.answer(again());
    await restarted.heartbeatOnce();
    await restarted.idle();
    expect(t.hooks.operations).toEqual(['fence-peer:fence-peer-head-b-4']);
    expect(t.controlPlane.acks.map((a) => [a.commandId, a.outcome])).toEqual([['fence-peer-head-b-4', 'ok']]);
  });

  it('acknowledges a failing hook as failed, with its exit code and output tail', async () => {
    const t = await setup({ settings: fencer });
    t.hooks.outcome.set('fence-peer', 'fail');
    t.hooks.steps.set('fence-peer', [
      powerOff(
        1,
        'fencing head-b through its BMC 10.0.0.12\n',
        'head-b is not off 60s after the power-off\n',
      ),
    ]);
    t.controlPlane.answer(reply({ epoch: 4, commands: [fencePeer('head-b')] }));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.controlPlane.acks).toEqual([
      expect.objectContaining({
        commandId: 'fence-peer-head-b-4',
        outcome: 'failed',
        steps: [
          {
            name: 'power-off',
            exitCode: 1,
            durationMs: 2400,
            outputTail:
              'fencing head-b through its BMC 10.0.0.12\nhead-b is not off 60s after the power-off\n',
          },
        ],
      }),
    ]);
    expect(t.store.state?.commands[0]).toMatchObject({ status: 'fail' });
    expect(t.store.state?.reports).toEqual({});
  });

  it('never acknowledges ok a fence-peer whose hook ran no step', async () => {
    const t = await setup({ settings: fencer });
    t.controlPlane.answer(reply({ epoch: 4, commands: [fencePeer('head-b')] }));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.controlPlane.acks).toMatchObject([{ commandId: 'fence-peer-head-b-4', outcome: 'failed' }]);
  });

  it.each([
    [
      'an epoch below the highest seen',
      fencePeer('head-b', 3),
      /^refused: epoch 3 is below the highest seen \(4\)/,
    ],
    ['this node itself', fencePeer('head-a'), /^refused: fence-peer names this node \(head-a\)/],
    ['no target', fencePeer(undefined), /^refused: fence-peer names no targetNodeId/],
    ['a node not among its peers', fencePeer('head-c'), /^refused: head-c is not one of this agent's peers/],
  ])('refuses a fence-peer naming %s, and acknowledges it failed', async (_, command, message) => {
    const t = await setup({ settings: { fencePeer: { peers: ['head-b'] } } });
    t.controlPlane.answer(reply({ epoch: 4, commands: [command] }));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.hooks.runs).toEqual([]);
    expect(t.controlPlane.acks).toEqual([
      expect.objectContaining({ commandId: command.id, type: 'fence-peer', outcome: 'failed', steps: [] }),
    ]);
    expect(t.controlPlane.acks[0]?.message).toMatch(message);
    expect(t.store.state?.commands).toEqual([expect.objectContaining({ id: command.id, status: 'refused' })]);
    expect(t.store.state?.reports).toEqual({});
  });

  it('refuses every fence-peer when no fencePeer hook is configured', async () => {
    const t = await setup();
    t.controlPlane.answer(reply({ epoch: 4, commands: [fencePeer('head-b')] }));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.hooks.runs).toEqual([]);
    expect(t.controlPlane.acks).toEqual([
      expect.objectContaining({ commandId: 'fence-peer-head-b-4', outcome: 'failed' }),
    ]);
    expect(t.controlPlane.acks[0]?.message).toMatch(
      /^refused: this agent cannot fence head-b: fence-peer is not supported by its hooks/,
    );
  });

  it('queues behind a running hook operation, and leaves an active fencer active with its lease', async () => {
    const t = await setup({ settings: fencer });
    t.hooks.hold.add('promote');
    t.controlPlane.answer(grant(4, 4000, [promote(4), fencePeer('head-b')]));
    await t.agent.heartbeatOnce();
    // The promotion runs: the fence-peer waits for it.
    expect(t.hooks.operations).toEqual(['promote:promote-4']);
    t.hooks.pending[0]?.finish('ok');
    await t.agent.idle();
    expect(t.hooks.operations).toEqual(['promote:promote-4', 'fence-peer:fence-peer-head-b-4']);
    expect(t.agent.role).toBe('active');
    expect(t.agent.holdsLease()).toBe(true);
    expect(t.store.state).toMatchObject({ role: 'active', roleEpoch: 4, demotedEpoch: 0 });
  });

  it('stops a running fence-peer when its own lease lapses: its self-fence comes first', async () => {
    const t = await setup({ settings: fencer });
    await makeActive(t, 4, 4000);
    t.hooks.hold.add('fence-peer');
    t.controlPlane.answer(grant(4, 4000, [fencePeer('head-b')]));
    await t.agent.heartbeatOnce();
    expect(t.hooks.pending.map((p) => p.context.operation)).toEqual(['fence-peer']);
    t.clock.advance(4000);
    await t.agent.idle();
    expect(t.hooks.operations).toEqual([
      'promote:promote-4',
      'fence-peer:fence-peer-head-b-4',
      expect.stringMatching(/^demote:self-fence-4-/),
      expect.stringMatching(/^fence:self-fence-4-/),
    ]);
    expect(t.agent.role).toBe('standby');
    expect(t.controlPlane.acks.at(-1)).toMatchObject({ commandId: 'fence-peer-head-b-4', outcome: 'failed' });
  });
});
