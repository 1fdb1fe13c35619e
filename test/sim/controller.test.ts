import { checkInvariants } from '../../sim/checker';
import { correctRules } from '../../sim/rules';
import { createWorld } from '../../sim/simulation';
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
    world.sched.runUntil(2000);
    world.controllers[0]?.trigger('make-active', 'n2');
    world.sched.runUntil(6000);
    const kinds = world.store.commits.filter((c) => c.kind !== 'grant').map((c) => c.kind);
    expect(kinds).toEqual(['declare', 'revoke', 'fence', 'promote']);
    expect(world.stats.demotesAcked).toBeGreaterThan(0);
    expect(world.agents.get('n2')?.holdsLease).toBe(true);
    expect(check(world).violations).toEqual([]);
  });
});
