import { checkInvariants } from '../../sim/checker';
import { correctRules } from '../../sim/rules';
import { makeScenario } from '../../sim/scenario';
import { createWorld } from '../../sim/simulation';
import type { UpMessage } from '../../sim/world';
import { quietScenario } from './helpers';

/** A fault-free world, started: the test adds the one fault or trigger it is about. */
function running(patch: Parameters<typeof quietScenario>[0] = {}, seed = 1) {
  const world = createWorld(quietScenario(patch, seed), correctRules);
  for (const agent of world.agents.values()) agent.start();
  for (const c of world.controllers) c.start();
  return world;
}

const check = (world: ReturnType<typeof running>) =>
  checkInvariants({
    actions: world.recorder.actions,
    segments: world.recorder.segments,
    commits: world.store.commits,
    promises: world.recorder.promises,
  });

describe('the control plane', () => {
  it('keeps a healthy active on lease, with one If-Match write per heartbeat, and never grants a standby', () => {
    const world = running();
    world.sched.runUntil(10_000);
    const kinds = new Set(world.store.commits.map((c) => c.kind));
    expect(kinds).toEqual(new Set(['declare', 'grant']));
    expect(world.store.commits.filter((c) => c.kind === 'grant').every((c) => c.by === 'n1')).toBe(true);
    expect(world.recorder.actions.length).toBeGreaterThan(50);
    expect(world.recorder.actions.every((a) => a.node === 'n1')).toBe(true);
    expect(world.agents.get('n2')?.holdsLease).toBe(false);
  });

  it('fails a silent active over only once its lease plus the drift margin has passed, or it is fenced', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const world = running({}, seed);
      world.sched.at(3000, () => world.partition('n1', true, true, 60_000));
      world.sched.runUntil(30_000);
      const { driftMarginMs } = world.scenario.detection;
      const commits = world.store.commits;
      const promote = commits.find((c) => c.kind === 'promote');
      expect(promote?.state).toMatchObject({ epoch: 2, activeNodeId: 'n2' });
      if (!promote) continue;
      const fenced = commits.some((c) => c.kind === 'fence' && c.t < promote.t);
      const controllerTime = world.controllerClock.localAt(promote.t);
      if (!fenced)
        expect(controllerTime).toBeGreaterThanOrEqual((promote.prev.leaseExpiresAt ?? 0) + driftMarginMs);
      expect(world.agents.get('n2')?.holdsLease).toBe(true);
      expect(check(world).violations).toEqual([]);
    }
  });

  it('with peer leases, keeps an active cut off from it but confirmed alive by its peer, without a failover', () => {
    for (let seed = 1; seed <= 6; seed++) {
      // a detection window of 5 intervals: the active notices a failed heartbeat one interval late, asks at the
      // next, and the standby reports its promise in its next heartbeat — a window of 2 or 3 can fire first
      const detection = { ...makeScenario(seed).detection, missedHeartbeats: 5 };
      const world = running({ peerLeases: true, detection }, seed);
      world.sched.at(3000, () => world.partition('n1', true, true, 20_000));
      world.sched.runUntil(20_000);
      expect(world.store.commits.filter((c) => c.kind === 'revoke' || c.kind === 'promote')).toEqual([]);
      expect(world.stats.peerConfirmations).toBeGreaterThan(0);
      expect(world.stats.promisesGranted).toBeGreaterThan(5);
      // n1 acted throughout on its peer lease: actions past its control-plane lease, none by n2
      const late = world.recorder.actions.filter((a) => a.t > 3000 + 2 * world.scenario.detection.leaseMs);
      expect(late.length).toBeGreaterThan(10);
      expect(late.every((a) => a.node === 'n1' && a.peer !== undefined)).toBe(true);
      // back: the next heartbeat resumes the control-plane lease, no role change
      world.sched.runUntil(30_000);
      expect(world.store.current).toMatchObject({ epoch: 1, activeNodeId: 'n1', revoked: false });
      expect(world.agents.get('n1')?.holdsLease).toBe(true);
      expect(check(world).violations).toEqual([]);
    }
  });

  it('with peer leases, fails over once the peer link is cut too, after the standby’s promise lapsed', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const world = running({ peerLeases: true }, seed);
      world.sched.at(3000, () => world.partition('n1', true, true, 60_000));
      world.sched.at(8000, () => world.partitionPeers('n1', 'n2', true, 60_000));
      world.sched.runUntil(40_000);
      const promote = world.store.commits.find((c) => c.kind === 'promote');
      expect(promote?.state).toMatchObject({ epoch: 2, activeNodeId: 'n2' });
      expect(world.agents.get('n2')?.holdsLease).toBe(true);
      const lastPromise = Math.max(...world.recorder.promises.map((p) => p.end));
      const n2Start = Math.min(...world.recorder.segments.filter((s) => s.node === 'n2').map((s) => s.start));
      expect(n2Start).toBeGreaterThanOrEqual(lastPromise);
      expect(check(world).violations).toEqual([]);
    }
  });

  it('lets only one of two racing instances revoke and promote, thanks to If-Match', () => {
    const world = running({ controllerInstances: 2 });
    world.sched.runUntil(2000);
    world.sched.at(2000, () => {
      for (const c of world.controllers) c.trigger('webhook', null);
    });
    world.sched.runUntil(20_000);
    const epoch1 = world.store.commits.filter((c) => c.prev.epoch === 1);
    expect(epoch1.filter((c) => c.kind === 'revoke')).toHaveLength(1);
    expect(epoch1.filter((c) => c.kind === 'promote')).toHaveLength(1);
    expect(world.stats.failoverOps).toBeGreaterThanOrEqual(2);
    expect(world.stats.casConflicts).toBeGreaterThan(0);
    expect(check(world).violations).toEqual([]);
  });

  it('switches over on request by demoting the active first (make-active)', () => {
    const world = running();
    const heartbeats: Extract<UpMessage, { type: 'heartbeat' }>[] = [];
    const send = world.toControlPlane.bind(world);
    world.toControlPlane = (message) => {
      if (message.type === 'heartbeat') heartbeats.push(message);
      send(message);
    };
    world.sched.runUntil(2000);
    world.controllers[0]?.trigger('make-active', 'n2');
    world.sched.runUntil(6000);
    const kinds = world.store.commits.filter((c) => c.kind !== 'grant').map((c) => c.kind);
    // n1, demoted under the revoked epoch 1, says so in its heartbeats: a revoked epoch is not reaffirmed
    expect(kinds).toEqual(['declare', 'revoke', 'fence', 'promote']);
    expect(heartbeats).toContainEqual(expect.objectContaining({ node: 'n1', epoch: 1, demotedAtEpoch: 1 }));
    expect(world.stats.demotesAcked).toBeGreaterThan(0);
    expect(world.agents.get('n2')?.holdsLease).toBe(true);
    expect(check(world).violations).toEqual([]);
  });

  it('reaffirms an active that demoted itself under the current epoch, and grants it under the new one', () => {
    const world = running();
    const { leaseMs, heartbeatIntervalMs } = world.scenario.detection;
    // its answers are lost (its heartbeats still arrive, so no failover starts) until its lease has lapsed
    world.sched.at(3000, () => world.partition('n1', false, true, leaseMs + 2 * heartbeatIntervalMs));
    world.sched.runUntil(3000 + 2 * leaseMs + 4 * heartbeatIntervalMs);
    expect(world.stats.selfDemotions).toBe(1);
    const reaffirms = world.store.commits.filter((c) => c.kind === 'reaffirm-grant');
    expect(reaffirms).toHaveLength(1);
    const [r] = reaffirms;
    expect(r?.prev).toMatchObject({ epoch: 1, activeNodeId: 'n1', revoked: false });
    expect(r?.state).toMatchObject({ epoch: 2, activeNodeId: 'n1', revoked: false });
    expect(r?.by).toBe('n1');
    expect(r?.state.leaseExpiresAt).toBeGreaterThan(r?.prev.leaseExpiresAt ?? Infinity);
    expect(world.store.commits.filter((c) => c.kind !== 'grant' && c.kind !== 'reaffirm-grant')).toHaveLength(
      1,
    );
    expect(world.agents.get('n1')?.holdsLease).toBe(true);
    const last = world.recorder.actions[world.recorder.actions.length - 1];
    expect(last).toMatchObject({ node: 'n1', epoch: 2 });
    expect(world.stats.staleGrantsRefused).toBe(0);
    expect(check(world).violations).toEqual([]);
  });

  it('reaffirms only for the unrevoked active, and only when the epoch it demoted under is current', () => {
    const world = createWorld(quietScenario(), correctRules); // not started: the test sends the heartbeats
    const cp = world.controllers[0];
    let seq = 0;
    const beat = (node: string, epoch: number, demotedAtEpoch?: number) => {
      cp?.receive({
        type: 'heartbeat',
        node,
        incarnation: 0,
        seq: ++seq,
        epoch,
        ...(demotedAtEpoch === undefined ? {} : { demotedAtEpoch }),
      });
      world.sched.runUntil(world.now + 100);
      const c = world.store.commits[world.store.commits.length - 1];
      return c ? `${c.kind} e${c.state.epoch} ${c.state.activeNodeId}` : '';
    };
    expect(beat('n1', 1)).toBe('grant e1 n1');
    expect(beat('n2', 1, 1)).toBe('grant e1 n1'); // not the active: nothing written
    expect(beat('n1', 1, 0)).toBe('grant e1 n1'); // demoted under an older epoch
    expect(beat('n1', 1, 1)).toBe('reaffirm-grant e2 n1');
    expect(beat('n1', 1, 1)).toBe('grant e2 n1'); // a duplicate: the epoch has moved on
    expect(beat('n1', 2, 2)).toBe('reaffirm-grant e3 n1');
    expect(beat('n1', 5, 5)).toBe('reaffirm-grant e3 n1'); // ahead of the state: refused, nothing written
    world.controllers[0]?.trigger('webhook', null);
    world.sched.runUntil(world.now + 20);
    expect(world.store.current).toMatchObject({ epoch: 3, revoked: true });
    const revokedAt = world.store.commits.length;
    beat('n1', 3, 3); // revoked: no reaffirmation, no grant
    const since = world.store.commits.slice(revokedAt).map((c) => c.kind);
    expect(since).not.toContain('reaffirm-grant');
    expect(since).not.toContain('grant');
    expect(world.store.current.epoch).toBe(3);
    expect(world.stats.selfDemotionReaffirms).toBe(2);
  });
});

describe('the failover and make-active steps (shared/domain/failoverSteps.ts) in the controller', () => {
  it('refuses a make-active to a standby it has not heard from, without revoking anything', () => {
    const world = running();
    const { heartbeatIntervalMs, missedHeartbeats } = world.scenario.detection;
    world.sched.at(1000, () => world.partition('n2', true, false, 60_000));
    world.sched.runUntil(1000 + (missedHeartbeats + 1) * heartbeatIntervalMs);
    world.controllers[0]?.trigger('make-active', 'n2');
    world.sched.runUntil(world.now + 2000);
    expect(world.stats.refusals).toBe(1);
    expect(world.store.commits.map((c) => c.kind)).not.toContain('revoke');
    expect(world.agents.get('n1')?.holdsLease).toBe(true);
  });

  it('rolls a make-active back to the original active when the target never takes over', () => {
    const world = running();
    world.sched.runUntil(2000);
    world.controllers[0]?.trigger('make-active', 'n2');
    // n2 is cut off both ways once the switchover has started: it never hears its promotion
    world.sched.at(2005, () => world.partition('n2', true, true, 60_000));
    world.sched.runUntil(20_000);
    const changes = world.store.commits
      .filter((c) => c.kind !== 'grant')
      .map((c) => `${c.kind} e${c.state.epoch} ${c.state.activeNodeId}`);
    expect(changes).toEqual([
      'declare e1 n1',
      'revoke e1 n1',
      'fence e1 n1',
      'promote e2 n2',
      'revoke e2 n2',
      'promote e3 n1',
    ]);
    expect(world.stats.rollBacks).toBe(1);
    expect(world.agents.get('n1')?.holdsLease).toBe(true);
    expect(
      world.recorder.actions.filter((a) => a.t > 15_000).every((a) => a.node === 'n1' && a.epoch === 3),
    ).toBe(true);
    expect(check(world).violations).toEqual([]);
  });
});
