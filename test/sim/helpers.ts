import { correctRules, type Rules } from '../../sim/rules';
import { makeScenario, type Scenario } from '../../sim/scenario';
import { createWorld } from '../../sim/simulation';
import type { DownMessage, UpMessage, World } from '../../sim/world';

/**
 * A scenario with a quiet network (1 ms, no loss, duplication or long delays; the peer network too), exact clocks, no
 * witness, no replication lag and peer leases off (tests of peer promises turn them on).
 */
export function quietScenario(patch: Partial<Scenario> = {}, seed = 1): Scenario {
  const s = makeScenario(seed);
  return {
    ...s,
    nodes: ['n1', 'n2'],
    controllerInstances: 1,
    controllerSkewMs: [0, 0, 0],
    flappingGuard: false,
    dropsLeaseOnRefusal: false,
    witness: { ...s.witness, enabled: false },
    agentClocks: { n1: { drift: 0, offset: 0 }, n2: { drift: 0, offset: 0 }, n3: { drift: 0, offset: 0 } },
    controllerClock: { drift: 0, offset: 0 },
    network: { baseDelayMs: 1, jitterMeanMs: 1e-9, longDelayP: 0, longDelayMaxMs: 0, lossP: 0, dupP: 0 },
    storeNet: { baseDelayMs: 1, jitterMeanMs: 1e-9, lostReplyP: 0, timeoutMs: 100 },
    replication: null,
    peerLeases: false,
    peerNetwork: { baseDelayMs: 1, jitterMeanMs: 1e-9, longDelayP: 0, longDelayMaxMs: 0, lossP: 0, dupP: 0 },
    ...patch,
  };
}

export interface Wired {
  world: World;
  /** Messages the agents sent to the control plane, with the real time they were sent. */
  sent: { at: number; message: UpMessage }[];
}

/** A world whose agents talk to nobody: the test plays the control plane (`toAgent` directly). */
export function agentsOnly(patch: Partial<Scenario> = {}, rules: Rules = correctRules): Wired {
  const world = createWorld(quietScenario({ controllerInstances: 0, ...patch }), rules);
  const sent: Wired['sent'] = [];
  world.toControlPlane = (message) => sent.push({ at: world.now, message });
  return { world, sent };
}

export function deliver(world: World, node: string, message: DownMessage): void {
  world.agents.get(node)?.receive(message);
}

export const grant = (
  seq: number,
  epoch: number,
  grantId: number,
  leaseMs: number,
  incarnation = 0,
): DownMessage => ({
  type: 'heartbeat-response',
  incarnation,
  seq,
  granted: true,
  epoch,
  leaseMs,
  grantId,
  reason: 'granted',
});
