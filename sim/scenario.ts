import {
  MAX_CLOCK_DRIFT_RATE,
  parseClusterDocument,
  type ClusterDocument,
  type DetectionPolicy,
} from '../shared/domain/clusterDocument';
import { mix32, Prng } from './prng';

/** Everything a run depends on, drawn from its seed. */
export interface Scenario {
  seed: number;
  durationMs: number;
  nodes: string[];
  priorities: Record<string, number>;
  /** The validated cluster document (detection and failover policies come from the product's own schema). */
  document: ClusterDocument;
  detection: DetectionPolicy;
  /** Whether the controller honours the flapping guard (failoverAllowed) before starting a detected failover. */
  flappingGuard: boolean;
  witness: { enabled: boolean; leaseMs: number; arbitrationWindowMs: number };
  /** Drift and offset of each agent's monotonic clock. */
  agentClocks: Record<string, { drift: number; offset: number }>;
  /** The control plane's clock, shared by its instances (plus `controllerSkewMs` each, 0 unless asked). */
  controllerClock: { drift: number; offset: number };
  controllerInstances: number;
  controllerSkewMs: number[];
  network: {
    baseDelayMs: number;
    jitterMeanMs: number;
    longDelayP: number;
    longDelayMaxMs: number;
    lossP: number;
    dupP: number;
  };
  storeNet: { baseDelayMs: number; jitterMeanMs: number; lostReplyP: number; timeoutMs: number };
  /** Mean time between occurrences of each fault or trigger, in ms of simulated time. */
  faultMeanMs: {
    partition: number;
    agentPause: number;
    agentCrash: number;
    controllerCrash: number;
    controllerPause: number;
    webhook: number;
    makeActive: number;
    peerLinkLost: number;
  };
  /**
   * Whether agents drop their lease as soon as an answer says they are no longer active (revoked, not-active). Not
   * required by the design (the lease alone must be enough), so half the runs leave it to the lease.
   */
  dropsLeaseOnRefusal: boolean;
  /** The active agent acts every actMinMs..actMaxMs of real time. */
  actMinMs: number;
  actMaxMs: number;
  /**
   * Replication lag reported in the standbys' heartbeats, against the document's `failover.rpoObjectiveMs` (null:
   * the nodes report none). Each heartbeat's lag is drawn anew: within half the RPO, or (`behindP`) up to 3 × RPO.
   */
  replication: { behindP: number } | null;
  /**
   * Peer promises (document `detection.peerLeases`, default true): the control plane records each epoch's promotable
   * set and sends it with grants; the active asks its peers for promises while its heartbeats fail.
   */
  peerLeases: boolean;
  /** The network between agents: its own delays, loss and duplication (long delays up to twice the lease). */
  peerNetwork: Scenario['network'];
  /** Mean time between peer-network partitions, control-plane outages and crashes of a standby bound by a promise. */
  peerFaultMeanMs: { peerPartition: number; cpOutage: number; boundCrash: number };
}

export interface ScenarioOptions {
  durationMs?: number;
  /** Per-instance clock skew bound of the controller instances (0: one control-plane clock). */
  controllerSkewMs?: number;
  /** Force peer leases on or off in every scenario (default: drawn, half the scenarios). */
  peerLeases?: boolean;
}

export const DEFAULT_DURATION_MS = 60_000;

/** A drift within ±MAX_CLOCK_DRIFT_RATE, at either bound 30% of the time each (the edges are where bugs live). */
function drift(rng: Prng): number {
  const r = rng.float();
  if (r < 0.3) return -MAX_CLOCK_DRIFT_RATE;
  if (r < 0.6) return MAX_CLOCK_DRIFT_RATE;
  return rng.range(-MAX_CLOCK_DRIFT_RATE, MAX_CLOCK_DRIFT_RATE);
}

const minMarginCache = new Map<string, number>();

/**
 * The smallest driftMarginMs the cluster document schema accepts for this lease: found by asking the schema itself
 * (binary search), so the simulation explores exactly the configurations the product admits.
 */
export function schemaMinDriftMarginMs(base: unknown, heartbeatIntervalMs: number, leaseMs: number): number {
  const key = `${heartbeatIntervalMs}/${leaseMs}`;
  const cached = minMarginCache.get(key);
  if (cached !== undefined) return cached;
  const accepts = (driftMarginMs: number) =>
    parseClusterDocument(
      withDetection(base, { heartbeatIntervalMs, leaseMs, driftMarginMs, missedHeartbeats: 3 }),
    ).ok;
  let lo = 0;
  let hi = 60_000;
  if (!accepts(hi)) throw new Error(`no drift margin is accepted for a lease of ${leaseMs} ms`);
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (accepts(mid)) hi = mid;
    else lo = mid + 1;
  }
  minMarginCache.set(key, lo);
  return lo;
}

function withDetection(base: unknown, detection: Record<string, number>): unknown {
  return { ...(base as Record<string, unknown>), detection };
}

export function makeScenario(seed: number, options: ScenarioOptions = {}): Scenario {
  const rng = new Prng(seed);
  const nodeCount = rng.chance(0.5) ? 2 : 3;
  const nodes = ['n1', 'n2', 'n3'].slice(0, nodeCount);
  const priorities: Record<string, number> = {};
  for (const node of nodes) priorities[node] = rng.int(0, 3);

  const heartbeatIntervalMs = rng.int(4, 20) * 50; // 200..1000
  const missedHeartbeats = rng.int(2, 5);
  const minLease = Math.max(1000, 2 * heartbeatIntervalMs);
  const leaseMs = minLease + rng.int(0, 40) * 50; // up to +2 s
  // Drawn in the order they always were, so every seed keeps its scenario. The witness lease duration is the control
  // plane's setting, not part of the document.
  const failover = {
    cooldownMs: rng.int(0, 10) * 500,
    maxFailoversPerPeriod: rng.int(3, 100),
    periodMs: 60_000,
  };
  const witnessLeaseSeconds = rng.int(15, 60);
  const base = {
    id: `sim-${seed >>> 0}`,
    kind: nodeCount === 2 ? 'two-node-witness' : 'active-passive',
    nodes: nodes.map((id, i) => ({
      id,
      role: i === 0 ? 'active' : 'standby',
      site: { cloud: 'azure', region: `region-${i}` },
      priority: priorities[id],
    })),
    failover,
    witness: { arbitrationWindowMs: rng.int(1, 20) * 100 },
  };
  const minMargin = schemaMinDriftMarginMs(base, heartbeatIntervalMs, leaseMs);
  // Half the runs at the very margin the schema allows: that is where a wrong margin rule shows.
  const driftMarginMs = rng.chance(0.5) ? minMargin : minMargin + rng.int(0, 500);
  const parsed = parseClusterDocument(
    withDetection(base, { heartbeatIntervalMs, missedHeartbeats, leaseMs, driftMarginMs }),
  );
  if (!parsed.ok)
    throw new Error(`seed ${seed}: invalid cluster document: ${JSON.stringify(parsed.problems)}`);
  // Drawn from a stream of its own, so that the draws above (and every schedule they lead to) stay as they were.
  const replicationRng = new Prng(mix32((seed ^ 0x5eed_0a9) >>> 0));
  const replicated = replicationRng.chance(0.5);
  const document = replicated
    ? {
        ...parsed.value,
        failover: { ...parsed.value.failover, rpoObjectiveMs: replicationRng.int(1, 20) * 100 },
      }
    : parsed.value;
  const replication = replicated ? { behindP: replicationRng.range(0.02, 0.3) } : null;

  const agentClocks: Scenario['agentClocks'] = {};
  for (const node of nodes) agentClocks[node] = { drift: drift(rng), offset: rng.range(-1e6, 1e9) };
  const controllerClock = { drift: drift(rng), offset: rng.range(-1e6, 1e9) };
  const controllerInstances = rng.int(1, 3);
  const skew = options.controllerSkewMs ?? 0;
  const controllerSkewMs = Array.from({ length: controllerInstances }, () =>
    skew ? rng.range(-skew, skew) : 0,
  );
  const detectionWindow = heartbeatIntervalMs * missedHeartbeats;
  const cycle = detectionWindow + leaseMs + driftMarginMs; // roughly one failover
  // Peer promises: drawn from a stream of their own, so the draws above and below stay as they were.
  const peerRng = new Prng(mix32((seed ^ 0x9ee2_5eed) >>> 0));
  const drawnPeerLeases = peerRng.chance(0.5);
  const peerLeases = options.peerLeases ?? drawnPeerLeases;
  const peerNetwork: Scenario['network'] = {
    baseDelayMs: peerRng.range(0.1, 3),
    jitterMeanMs: peerRng.range(0.2, 15),
    longDelayP: peerRng.chance(0.3) ? 0 : peerRng.range(0, 0.05),
    longDelayMaxMs: peerRng.range(100, 2 * leaseMs),
    lossP: peerRng.chance(0.3) ? 0 : peerRng.range(0, 0.08),
    dupP: peerRng.chance(0.3) ? 0 : peerRng.range(0, 0.04),
  };
  const peerFaultMeanMs = {
    peerPartition: cycle * peerRng.range(1.5, 6),
    cpOutage: cycle * peerRng.range(2, 8),
    boundCrash: cycle * peerRng.range(2, 8),
  };
  return {
    seed,
    durationMs: options.durationMs ?? DEFAULT_DURATION_MS,
    nodes,
    priorities,
    document,
    detection: document.detection,
    flappingGuard: rng.chance(0.3),
    witness: {
      enabled: rng.chance(0.5),
      leaseMs: witnessLeaseSeconds * 1000,
      arbitrationWindowMs: document.witness.arbitrationWindowMs,
    },
    agentClocks,
    controllerClock,
    controllerInstances,
    controllerSkewMs,
    network: {
      baseDelayMs: rng.range(0.1, 3),
      jitterMeanMs: rng.range(0.2, 15),
      longDelayP: rng.chance(0.2) ? 0 : rng.range(0, 0.03),
      longDelayMaxMs: rng.range(100, 2 * leaseMs),
      lossP: rng.chance(0.2) ? 0 : rng.range(0, 0.08),
      dupP: rng.chance(0.3) ? 0 : rng.range(0, 0.04),
    },
    storeNet: {
      baseDelayMs: rng.range(0.5, 5),
      jitterMeanMs: rng.range(0.5, 10),
      lostReplyP: rng.chance(0.5) ? 0 : rng.range(0, 0.02),
      timeoutMs: rng.range(100, 1000),
    },
    faultMeanMs: {
      partition: cycle * rng.range(1.5, 5),
      agentPause: cycle * rng.range(2, 8),
      agentCrash: cycle * rng.range(2, 8),
      controllerCrash: cycle * rng.range(3, 12),
      controllerPause: cycle * rng.range(3, 12),
      webhook: cycle * rng.range(2, 10),
      makeActive: cycle * rng.range(3, 12),
      peerLinkLost: cycle * rng.range(3, 12),
    },
    dropsLeaseOnRefusal: rng.chance(0.5),
    actMinMs: 20,
    actMaxMs: rng.range(60, 200),
    replication,
    peerLeases,
    peerNetwork,
    peerFaultMeanMs,
  };
}
