import { agentsOnly, deliver, grant } from './helpers';

const LEASE = 2000;

/** The agent n1, its first heartbeat sent and answered `answerAfterMs` later with a grant under `epoch`. */
function granted(answerAfterMs: number, epoch = 1, drift = 0) {
  const wired = agentsOnly({ agentClocks: { n1: { drift, offset: 5e6 }, n2: { drift: 0, offset: 0 } } });
  const { world, sent } = wired;
  const agent = world.agents.get('n1');
  if (!agent) throw new Error('no n1');
  agent.start();
  // step until the first heartbeat has left (the clock is then at most 1 ms past it)
  while (!sent.some((s) => s.message.type === 'heartbeat')) world.sched.runUntil(world.now + 1);
  const sentAt = (sent[0] as { at: number }).at;
  world.sched.at(sentAt + answerAfterMs, () => deliver(world, 'n1', grant(1, epoch, 7, LEASE)));
  return { ...wired, agent, sentAt, sentLocal: agent.clock.localAt(sentAt) };
}

describe('the agent', () => {
  it('acts only while the lease timed from its heartbeat’s send time holds, then fences itself', () => {
    const { world, agent, sentAt, sentLocal } = granted(300, 1, -0.01);
    world.sched.runUntil(sentAt + 3 * LEASE);
    const actions = world.recorder.actions;
    expect(actions.length).toBeGreaterThan(5);
    const leaseEnd = agent.clock.realAt(sentLocal + LEASE); // a slow clock: later than sentAt + LEASE
    expect(leaseEnd).toBeGreaterThan(sentAt + LEASE);
    for (const a of actions) {
      expect(a).toMatchObject({ node: 'n1', epoch: 1, grantId: 7 });
      expect(a.t).toBeGreaterThanOrEqual(sentAt + 300);
      expect(a.t).toBeLessThan(leaseEnd);
    }
    expect(agent.holdsLease).toBe(false);
    expect(world.stats.selfFences).toBe(1);
    expect(world.recorder.segments).toEqual([
      expect.objectContaining({ node: 'n1', start: sentAt + 300, end: leaseEnd, endedBy: 'lease end' }),
    ]);
  });

  it('does nothing while paused longer than its lease, and on resume checks its clock before acting', () => {
    const { world, agent, sentAt } = granted(10);
    const pauseAt = sentAt + 500;
    world.sched.at(pauseAt, () => agent.pause(2 * LEASE));
    world.sched.runUntil(sentAt + 4 * LEASE);
    const times = world.recorder.actions.map((a) => a.t);
    expect(times.length).toBeGreaterThan(0);
    expect(Math.max(...times)).toBeLessThan(pauseAt);
    expect(agent.holdsLease).toBe(false);
    expect(world.stats.selfFences).toBe(1);
  });

  it('takes no grant, even a late one, under an epoch it acknowledged a demotion from', () => {
    const { world, agent, sent, sentAt } = granted(1000);
    world.sched.at(sentAt + 500, () =>
      deliver(world, 'n1', { type: 'demote', epoch: 1, opId: 4, instance: 0 }),
    );
    world.sched.runUntil(sentAt + 1500);
    expect(agent.holdsLease).toBe(false);
    expect(world.stats.staleGrantsRefused).toBe(1);
    expect(world.recorder.actions).toEqual([]);
    expect(sent.map((s) => s.message)).toContainEqual({
      type: 'demote-ack',
      node: 'n1',
      epoch: 1,
      opId: 4,
      instance: 0,
    });
    // a promotion back to n1 (a newer epoch) is taken
    const seq = sent.filter((s) => s.message.type === 'heartbeat' && s.message.node === 'n1').length;
    deliver(world, 'n1', grant(seq, 2, 9, LEASE));
    expect(agent.holdsLease).toBe(true);
  });

  it('demotes itself under its epoch when its lease lapses: says so in its heartbeats, refuses grants under it', () => {
    const { world, agent, sent, sentAt } = granted(10, 3);
    const heartbeats = () =>
      sent.flatMap((s) => (s.message.type === 'heartbeat' ? [{ at: s.at, message: s.message }] : []));
    // no answer to any later heartbeat: the lease lapses at its end, acting or not (the lease timer)
    world.sched.runUntil(sentAt + LEASE + 1);
    expect(agent.holdsLease).toBe(false);
    expect(world.stats).toMatchObject({ selfFences: 1, selfDemotions: 1 });
    world.sched.runUntil(sentAt + LEASE + 2 * world.scenario.detection.heartbeatIntervalMs);
    const before = heartbeats().filter((h) => h.at < sentAt + LEASE);
    const after = heartbeats().filter((h) => h.at > sentAt + LEASE);
    expect(before.length).toBeGreaterThan(1);
    expect(after.length).toBeGreaterThan(0);
    for (const h of before) expect(h.message.demotedAtEpoch).toBeUndefined();
    for (const h of after) expect(h.message).toMatchObject({ epoch: 3, demotedAtEpoch: 3 });
    // a grant under the epoch it demoted under is refused, even for a heartbeat that said so
    const last = (after[after.length - 1] as (typeof after)[number]).message;
    deliver(world, 'n1', grant(last.seq, 3, 20, LEASE));
    expect(agent.holdsLease).toBe(false);
    expect(world.stats.staleGrantsRefused).toBe(1);
    // a grant under a higher epoch (the control plane reaffirmed it) is taken; the next heartbeat no longer says it
    deliver(world, 'n1', grant(last.seq, 4, 21, LEASE));
    expect(agent.holdsLease).toBe(true);
    const taken = world.now;
    world.sched.runUntil(taken + world.scenario.detection.heartbeatIntervalMs + 1);
    const next = heartbeats().filter((h) => h.at > taken);
    expect(next.length).toBeGreaterThan(0);
    for (const h of next) {
      expect(h.message.epoch).toBe(4);
      expect(h.message).not.toHaveProperty('demotedAtEpoch');
    }
  });

  it('demotes itself under its epoch when it crashes while active, and says so after the restart', () => {
    const { world, agent, sent, sentAt } = granted(10, 2);
    world.sched.at(sentAt + 100, () => agent.crash(200, 'crashes'));
    world.sched.runUntil(sentAt + 400 + world.scenario.detection.heartbeatIntervalMs);
    expect(world.stats.selfDemotions).toBe(1);
    const after = sent.filter((s) => s.at > sentAt + 300 && s.message.type === 'heartbeat');
    expect(after[0]?.message).toMatchObject({ incarnation: 1, epoch: 2, demotedAtEpoch: 2 });
  });

  it('says it was demoted after acknowledging a demotion command, until it sees a newer epoch', () => {
    const { world, sent, sentAt } = granted(10, 2);
    world.sched.at(sentAt + 100, () =>
      deliver(world, 'n1', { type: 'demote', epoch: 2, opId: 1, instance: 0 }),
    );
    world.sched.runUntil(sentAt + 100 + world.scenario.detection.heartbeatIntervalMs + 1);
    expect(world.stats.selfDemotions).toBe(0); // told to: not a self-demotion
    const after = sent.filter((s) => s.at > sentAt + 100 && s.message.type === 'heartbeat');
    expect(after[0]?.message).toMatchObject({ epoch: 2, demotedAtEpoch: 2 });
    const seq = after[0]?.message.type === 'heartbeat' ? after[0].message.seq : 0;
    // a refusal under a newer epoch (another node was promoted): the flag goes
    deliver(world, 'n1', {
      type: 'heartbeat-response',
      incarnation: 0,
      seq,
      granted: false,
      epoch: 3,
      leaseMs: LEASE,
      grantId: 0,
      reason: 'not-active',
    });
    const at = world.now;
    world.sched.runUntil(at + world.scenario.detection.heartbeatIntervalMs + 1);
    const later = sent.filter((s) => s.at > at && s.message.type === 'heartbeat');
    expect(later[0]?.message).toMatchObject({ epoch: 3 });
    expect(later[0]?.message).not.toHaveProperty('demotedAtEpoch');
  });

  it('refuses a demotion under an older epoch than it has seen', () => {
    const { world, agent, sent, sentAt } = granted(10, 3);
    world.sched.at(sentAt + 100, () =>
      deliver(world, 'n1', { type: 'demote', epoch: 2, opId: 1, instance: 0 }),
    );
    world.sched.runUntil(sentAt + 200);
    expect(agent.holdsLease).toBe(true);
    expect(sent.some((s) => s.message.type === 'demote-ack')).toBe(false);
  });

  it('restarts as a standby that remembers the highest epoch it saw and ignores answers meant for its old self', () => {
    const { world, agent, sent, sentAt } = granted(10, 3);
    world.sched.at(sentAt + 100, () => agent.crash(200, 'crashes'));
    world.sched.runUntil(sentAt + 400);
    expect(agent.alive).toBe(true);
    deliver(world, 'n1', grant(1, 3, 7, LEASE, 0)); // a duplicate of the answer to the dead process
    expect(agent.holdsLease).toBe(false);
    world.sched.runUntil(sentAt + 400 + world.scenario.detection.heartbeatIntervalMs);
    const after = sent.filter((s) => s.at > sentAt + 300 && s.message.type === 'heartbeat');
    expect(after[0]?.message).toMatchObject({ node: 'n1', epoch: 3, incarnation: 1 });
  });

  it('refuses a grant older than the epoch it has seen', () => {
    const { world, agent, sent, sentAt } = granted(10, 3);
    world.sched.runUntil(sentAt + world.scenario.detection.heartbeatIntervalMs + 5);
    const seq = sent.filter((s) => s.message.type === 'heartbeat' && s.message.node === 'n1').length;
    deliver(world, 'n1', grant(seq, 2, 11, LEASE));
    expect(world.stats.staleGrantsRefused).toBe(1);
    expect(agent.holdsLease).toBe(true); // still on its epoch-3 lease
  });
});

describe('the agent and peer promises', () => {
  const request = (epoch: number, reqId: number) => ({
    type: 'promise-request' as const,
    from: 'n1',
    to: 'n2',
    epoch,
    durationMs: LEASE,
    incarnation: 0,
    reqId,
  });

  it('a standby promises, stays bound across a crash, refuses grants and promote commands until the promise ends', () => {
    const { world, sent } = agentsOnly({ peerLeases: true });
    const n2 = world.agents.get('n2');
    if (!n2) throw new Error('no n2');
    n2.start();
    world.sched.at(100, () => n2.receivePeer(request(1, 1)));
    world.sched.at(500, () => n2.crash(300, 'crashes'));
    world.sched.runUntil(1500);
    expect(world.stats.promisesGranted).toBe(1);
    expect(n2.isBound).toBe(true); // persisted: the crash kept it
    const hb = sent.filter((s) => s.message.type === 'heartbeat' && s.message.node === 'n2').pop();
    expect(hb?.message).toMatchObject({ peer: { promise: { to: 'n1', epoch: 1 } } });
    // promoted meanwhile (the control plane's grant under epoch 2): refused while bound
    const seq = (hb?.message as { seq: number }).seq;
    deliver(world, 'n2', { type: 'promoted', epoch: 2 });
    deliver(world, 'n2', grant(seq, 2, 9, LEASE, 1));
    expect(n2.holdsLease).toBe(false);
    expect(world.stats.boundRefusals).toBe(2);
    // it promises nothing under epoch 1 any more (it saw epoch 2)
    n2.receivePeer(request(1, 2));
    expect(world.stats.promisesRefused).toBe(1);
    // the promise ends at receive time + lease + margin; then a grant is taken
    const end = world.recorder.promises[0]?.end ?? Number.NaN;
    expect(end).toBeGreaterThan(100 + LEASE);
    world.sched.runUntil(end + 1);
    expect(n2.isBound).toBe(false);
    const next = sent.filter((s) => s.message.type === 'heartbeat' && s.message.node === 'n2').pop();
    deliver(world, 'n2', grant((next?.message as { seq: number }).seq, 2, 10, LEASE, 1));
    expect(n2.holdsLease).toBe(true);
  });

  it('a standby told its epoch is revoked closes it: promises nothing under it, says so in its heartbeats', () => {
    const { world, sent } = agentsOnly({ peerLeases: true });
    const n2 = world.agents.get('n2');
    if (!n2) throw new Error('no n2');
    n2.start();
    world.sched.runUntil(world.scenario.detection.heartbeatIntervalMs + 10);
    const hb = sent.find((s) => s.message.type === 'heartbeat' && s.message.node === 'n2');
    deliver(world, 'n2', {
      type: 'heartbeat-response',
      incarnation: 0,
      seq: (hb?.message as { seq: number }).seq,
      granted: false,
      epoch: 1,
      leaseMs: LEASE,
      grantId: 0,
      reason: 'not-active',
      revoked: true,
    });
    n2.receivePeer(request(1, 1));
    expect(world.stats.epochsClosed).toBe(1);
    expect(world.stats.promisesGranted).toBe(0);
    world.sched.runUntil(world.now + 2 * world.scenario.detection.heartbeatIntervalMs);
    const last = sent.filter((s) => s.message.type === 'heartbeat' && s.message.node === 'n2').pop();
    expect(last?.message).toMatchObject({ peer: { closedEpoch: 1 } });
  });
});
