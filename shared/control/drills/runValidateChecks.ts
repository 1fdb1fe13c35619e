import { performance } from 'node:perf_hooks';
import type { ClusterDocument, ClusterNode } from '../../domain/clusterDocument';
import type { NodeHeartbeat } from '../../domain/clusterState';
import {
  predictRto,
  type DrillCheck,
  type DrillCheckName,
  type RtoPredictionInput,
} from '../../domain/drills';
import type { NodeRef, PowerState, SiteRef } from '../../providers/computeProvider';
import { ProviderError } from '../../providers/providerError';
import type { Services } from '../../services/services';
import type { CommandAckRecord } from '../../stores/commandAckStore';
import { mapLimit } from '../../util/mapLimit';
import { latestHeartbeats } from '../operations/makeActivePlan';
import type { ValidateOutcome } from './drillTypes';

/**
 * The checks of a `validate` drill: every precondition of a real failover, checked now and timed, without changing
 * anything a failover relies on (the witness is probed on a blob of its own), and the RTO a failover would take now.
 *
 * The fence-path decision (a failover needs the old active fenced, or must wait out its lease):
 * - the active is a cloud VM whose power state the provider reads now → ok, `power-off`;
 * - else a fencer (`failover.fencerNodeId`) whose last heartbeat reports the `fence-peer` hook → ok, `fence-peer`;
 * - else, when a fence was configured but cannot work — the cloud VM's power state cannot be read (the reason is
 *   named), or the fencer's agent does not report `fence-peer` (or was never heard from) → failed: the cluster
 *   counts on a fence that would not happen;
 * - else (nothing configured: on-prem without a fencer) → warn: a failover waits out the lease.
 */

/** Assumed time to start a stopped cloud standby until a start has been measured (Azure VM boot, OCI instance). */
export const ASSUMED_START_MS: Record<SiteRef['cloud'], number> = { azure: 90_000, oci: 120_000 };
/** How many checks (and cloud or storage reads) run at once. */
export const VALIDATE_CONCURRENCY = 8;
/** The longest a single probe (witness, power state, headroom) may take before the check fails as a timeout. */
export const PROBE_TIMEOUT_MS = 5000;
/** How many earlier epochs the prediction looks back for promote and fence-peer acknowledgements. */
const ACK_EPOCHS = 3;

type Found = Pick<DrillCheck, 'outcome' | 'detail'> & { data?: Record<string, unknown> };

interface PowerProbe {
  power?: PowerState;
  error?: string;
  roundTripMs: number;
}

const cloudRef = (node: ClusterNode): { site: SiteRef; ref: NodeRef } | undefined =>
  node.compute.kind === 'none' || node.site.cloud === 'on-prem'
    ? undefined
    : { site: { ...node.site, cloud: node.site.cloud }, ref: node.compute };

/**
 * A cloud read, retried while the cloud (or the provider's own request budget) answers `throttled` and its
 * Retry-After still fits in the probe's time: a drill must not fail because a burst of reads was briefly metered.
 */
async function readRetryingThrottle<T>(read: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + PROBE_TIMEOUT_MS;
  for (;;) {
    try {
      return await read();
    } catch (error) {
      const waitMs =
        error instanceof ProviderError && error.kind === 'throttled' ? error.retryAfterMs : undefined;
      if (waitMs === undefined || performance.now() + waitMs >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, waitMs)));
    }
  }
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function signalFor(options: { abortSignal?: AbortSignal }): AbortSignal {
  const timeout = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  return options.abortSignal ? AbortSignal.any([options.abortSignal, timeout]) : timeout;
}

/** The time an acknowledged command's hooks took: its start to finish, else the sum of its steps. */
function ackDurationMs(ack: CommandAckRecord): number | undefined {
  if (ack.startedAt && ack.finishedAt) {
    const ms = Date.parse(ack.finishedAt) - Date.parse(ack.startedAt);
    if (Number.isFinite(ms) && ms >= 0) return ms;
  }
  if (ack.event.steps.length === 0) return undefined;
  return ack.event.steps.reduce((sum, step) => sum + step.durationMs, 0);
}

/** `undefined`: the cluster is not declared. */
export async function runValidateChecks(
  services: Services,
  clusterId: string,
  options: { abortSignal?: AbortSignal; drillId?: string } = {},
): Promise<ValidateOutcome | undefined> {
  const stored = await services.clusters.getDocument(clusterId);
  if (!stored) return undefined;
  const document: ClusterDocument = stored.document;
  const [storedState, rows] = await Promise.all([
    services.clusters.getState(clusterId),
    services.heartbeats.listForCluster(clusterId),
  ]);
  const state = storedState?.state;
  const now = services.now();
  const latest = new Map(latestHeartbeats(rows, state).map((hb) => [hb.nodeId, hb]));
  const { heartbeatIntervalMs, missedHeartbeats, leaseMs, driftMarginMs } = document.detection;
  const windowMs = heartbeatIntervalMs * missedHeartbeats;
  const rpoMs = document.failover.rpoObjectiveMs;
  const fencerId = document.failover.fencerNodeId;
  const tolerance = document.drill?.clockToleranceMs ?? 1000;
  const activeId =
    state && !state.revoked && state.activeNodeId !== null
      ? state.activeNodeId
      : state
        ? null
        : (document.nodes.find((n) => n.role === 'active')?.id ?? null);
  const standbys = document.nodes.filter((n) => n.id !== activeId);

  // One power-state read per cloud node, shared by the checks that need it; its round trip is measured.
  const powerProbes = new Map<string, Promise<PowerProbe>>();
  const powerOf = (node: ClusterNode): Promise<PowerProbe> | undefined => {
    const cloud = cloudRef(node);
    if (!cloud) return undefined;
    let probe = powerProbes.get(node.id);
    if (!probe) {
      const began = performance.now();
      probe = readRetryingThrottle(() =>
        services.providers.forSite(cloud.site).getPowerState(cloud.ref, { abortSignal: signalFor(options) }),
      ).then(
        (power) => ({ power, roundTripMs: performance.now() - began }),
        (error: unknown) => ({ error: message(error), roundTripMs: performance.now() - began }),
      );
      powerProbes.set(node.id, probe);
    }
    return probe;
  };

  const timed = async (name: DrillCheckName, nodeId: string | undefined, run: () => Promise<Found>) => {
    const startedAt = services.now();
    const began = performance.now();
    let found: Found;
    try {
      found = await run();
    } catch (error) {
      if (options.abortSignal?.aborted) throw error;
      found = { outcome: 'failed', detail: `the check could not run: ${message(error)}` };
    }
    const check: DrillCheck = {
      name,
      ...(nodeId !== undefined ? { nodeId } : {}),
      outcome: found.outcome,
      startedAt,
      durationMs: Math.round(performance.now() - began),
      detail: found.detail,
      ...(found.data ? { data: found.data } : {}),
    };
    return check;
  };

  const healthy = (hb: NodeHeartbeat | undefined) =>
    hb !== undefined && now - hb.receivedAt <= windowMs && !hb.checks.some((c) => c.status === 'fail');

  const checkHeartbeating = (node: ClusterNode): Found => {
    const hb = latest.get(node.id);
    if (!hb) return { outcome: 'failed', detail: `${node.id} was never heard from: start its agent` };
    const ageMs = Math.max(0, now - hb.receivedAt);
    return ageMs <= windowMs
      ? {
          outcome: 'ok',
          detail: `${node.id} last heartbeat ${ageMs} ms ago, within the ${windowMs} ms detection window`,
          data: { ageMs, windowMs },
        }
      : {
          outcome: 'failed',
          detail: `${node.id} last heartbeat ${ageMs} ms ago, beyond the ${windowMs} ms detection window: check its agent and network`,
          data: { ageMs, windowMs },
        };
  };

  const checkHealthy = (node: ClusterNode): Found => {
    const hb = latest.get(node.id);
    if (!hb) return { outcome: 'failed', detail: `${node.id} has sent no heartbeat to read its checks from` };
    const failing = hb.checks.filter((c) => c.status === 'fail').map((c) => c.name);
    const warning = hb.checks.filter((c) => c.status === 'warn').map((c) => c.name);
    if (failing.length > 0)
      return {
        outcome: 'failed',
        detail: `${node.id} fails ${failing.join(', ')}: fix them before it can take over`,
        data: { failing, warning },
      };
    if (warning.length > 0)
      return { outcome: 'warn', detail: `${node.id} warns on ${warning.join(', ')}`, data: { warning } };
    return { outcome: 'ok', detail: `${node.id} reports no failing check` };
  };

  const checkRpo = (node: ClusterNode): Found => {
    const lag = latest.get(node.id)?.replicationLagMs;
    if (lag === undefined)
      return rpoMs > 0
        ? {
            outcome: 'warn',
            detail: `${node.id} replication lag not reported: the ${rpoMs} ms RPO objective cannot be checked`,
          }
        : {
            outcome: 'ok',
            detail: `${node.id} reports no replication lag (RPO objective 0: nothing replicated)`,
          };
    return lag <= rpoMs
      ? {
          outcome: 'ok',
          detail: `${node.id} lags ${lag} ms, within the ${rpoMs} ms objective`,
          data: { lagMs: lag, rpoMs },
        }
      : {
          outcome: 'failed',
          detail: `${node.id} lag ${lag} ms over the ${rpoMs} ms objective: check its replication`,
          data: { lagMs: lag, rpoMs },
        };
  };

  const checkStartable = async (node: ClusterNode): Promise<Found> => {
    const cloud = cloudRef(node);
    const probe = powerOf(node);
    if (!cloud || !probe)
      return { outcome: 'ok', detail: `${node.id} is not a cloud node: started by its owners` };
    const { power, error } = await probe;
    if (error !== undefined)
      return {
        outcome: 'failed',
        detail: `${node.id}: the ${cloud.site.cloud} power state cannot be read (${error})`,
      };
    if (power === 'running' || power === 'starting')
      return { outcome: 'ok', detail: `${node.id} is ${power}`, data: { power } };
    if (power === 'unknown')
      return {
        outcome: 'warn',
        detail: `${node.id}: the cloud reports an unknown power state`,
        data: { power },
      };
    if (cloud.site.cloud === 'azure' && (power === 'stopped' || power === 'stopping'))
      return {
        outcome: 'ok',
        detail: `${node.id} is ${power} but still allocated: it starts without new quota`,
        data: { power },
      };
    if (!node.size)
      return {
        outcome: 'failed',
        detail: `${node.id} is ${power} and its size is not declared: set nodes[].size so its quota can be checked`,
        data: { power },
      };
    const size = node.size;
    const headroom = await readRetryingThrottle(() =>
      services.providers.forSite(cloud.site).headroom(cloud.site, size, { abortSignal: signalFor(options) }),
    );
    const data = {
      power,
      size: node.size,
      quotaNodes: headroom.quotaNodes,
      capacityNodes: headroom.capacityNodes,
      quota: headroom.quota,
    };
    if (headroom.restricted)
      return {
        outcome: 'failed',
        detail: `${node.id} is ${power} and ${node.size} is restricted in ${cloud.site.region} (${headroom.restricted})`,
        data,
      };
    if (headroom.quotaNodes < 1) {
      const tight = headroom.quota.map((q) => `${q.scope} ${q.used}/${q.limit}`).join(', ');
      return {
        outcome: 'failed',
        detail: `${node.id} is ${power} and no quota is left for one ${node.size} in ${cloud.site.region} (${tight}): raise the quota`,
        data,
      };
    }
    if (headroom.capacityNodes === 0)
      return {
        outcome: 'failed',
        detail: `${node.id} is ${power} and ${cloud.site.region} reports no capacity for ${node.size}`,
        data,
      };
    return {
      outcome: 'ok',
      detail: `${node.id} is ${power}; quota allows ${headroom.quotaNodes} more ${node.size} in ${cloud.site.region}`,
      data,
    };
  };

  const checkFencePath = async (): Promise<Found> => {
    const active = document.nodes.find((n) => n.id === activeId);
    if (!active) return { outcome: 'warn', detail: 'no node is active now: there is nothing to fence' };
    const cloud = cloudRef(active);
    const probe = powerOf(active);
    const read = probe ? await probe : undefined;
    if (cloud && read?.power !== undefined)
      return {
        outcome: 'ok',
        detail: `${active.id} can be powered off: ${cloud.site.cloud} reports it ${read.power}`,
        data: { method: 'power-off', power: read.power, roundTripMs: Math.round(read.roundTripMs) },
      };
    const fencer = fencerId !== undefined ? latest.get(fencerId) : undefined;
    if (fencerId !== undefined && fencer?.hooks?.includes('fence-peer'))
      return {
        outcome: 'ok',
        detail: `${fencerId} fences ${active.id} through its fence-peer hook`,
        data: { method: 'fence-peer', fencer: fencerId, ...(read?.error ? { powerError: read.error } : {}) },
      };
    if (cloud && read?.error !== undefined)
      return {
        outcome: 'failed',
        detail: `no fence path: ${active.id}'s power state cannot be read (${read.error}), so it cannot be powered off`,
        data: { method: 'lease-wait' },
      };
    if (fencerId !== undefined)
      return {
        outcome: 'failed',
        detail: !fencer
          ? `no fence path: the fencer ${fencerId} was never heard from`
          : fencer.hooks === undefined
            ? `no fence path: the fencer ${fencerId} does not report its hooks (older agent): upgrade it`
            : `no fence path: the fencer ${fencerId} has no fence-peer hook: configure it`,
        data: { method: 'lease-wait', fencer: fencerId },
      };
    return {
      outcome: 'warn',
      detail: `no fence path: a failover waits out the lease (${leaseMs} + ${driftMarginMs} ms)`,
      data: { method: 'lease-wait' },
    };
  };

  const checkHooks = (node: ClusterNode): Found => {
    const hb = latest.get(node.id);
    if (!hb) return { outcome: 'warn', detail: `${node.id} has sent no heartbeat: its hooks are not known` };
    if (hb.hooks === undefined)
      return { outcome: 'warn', detail: `${node.id}: agent does not report its hooks (older agent)` };
    const required = ['promote', 'demote', ...(node.id === fencerId ? ['fence-peer'] : [])];
    const missing = required.filter((h) => !hb.hooks?.includes(h));
    return missing.length === 0
      ? { outcome: 'ok', detail: `${node.id} has ${required.join(', ')}`, data: { hooks: hb.hooks } }
      : {
          outcome: 'failed',
          detail: `${node.id} is missing the ${missing.join(', ')} hook${missing.length > 1 ? 's' : ''}: configure ${missing.length > 1 ? 'them' : 'it'} on its agent`,
          data: { missing, hooks: hb.hooks },
        };
  };

  const checkClock = (node: ClusterNode): Found => {
    const skew = latest.get(node.id)?.clockSkewMs;
    if (skew === undefined)
      return {
        outcome: 'warn',
        detail: `${node.id}: clock offset not reported (no heartbeat, or an older agent)`,
      };
    return Math.abs(skew) <= tolerance
      ? {
          outcome: 'ok',
          detail: `${node.id} clock offset ${skew} ms, within ${tolerance} ms`,
          data: { skewMs: skew, toleranceMs: tolerance },
        }
      : {
          outcome: 'failed',
          detail: `${node.id} clock offset ${skew} ms over the ${tolerance} ms tolerance: fix its time sync (NTP/chrony)`,
          data: { skewMs: skew, toleranceMs: tolerance },
        };
  };

  const witnessCheck = async (): Promise<Found> => {
    const result = await services.witness.probe(clusterId, {
      abortSignal: signalFor(options),
      ...(options.drillId ? { marker: options.drillId } : {}),
    });
    return result.ok
      ? { outcome: 'ok', detail: 'the witness container accepts a lease and a write under it' }
      : { outcome: 'failed', detail: result.detail, data: { reason: result.reason } };
  };

  // Every check, in DRILL_CHECK_NAMES order, run with bounded concurrency.
  const tasks: (() => Promise<DrillCheck>)[] = [
    () => timed('witness-writable', undefined, witnessCheck),
    ...standbys.map(
      (n) => () => timed('standby-heartbeating', n.id, () => Promise.resolve(checkHeartbeating(n))),
    ),
    ...standbys.map((n) => () => timed('standby-healthy', n.id, () => Promise.resolve(checkHealthy(n)))),
    ...standbys.map((n) => () => timed('standby-within-rpo', n.id, () => Promise.resolve(checkRpo(n)))),
    ...standbys.map((n) => () => timed('standby-startable', n.id, () => checkStartable(n))),
    () => timed('fence-path', activeId ?? undefined, checkFencePath),
    ...document.nodes.map((n) => () => timed('hooks-present', n.id, () => Promise.resolve(checkHooks(n)))),
    ...document.nodes.map((n) => () => timed('agent-clock', n.id, () => Promise.resolve(checkClock(n)))),
  ];
  const checks = await mapLimit(tasks, VALIDATE_CONCURRENCY, (task) => task());

  // The prediction: the standby a failover would choose (lowest priority value among the healthy, else among all).
  const candidates = [...standbys].sort((a, b) => a.priority - b.priority);
  const chosen = candidates.find((n) => healthy(latest.get(n.id))) ?? candidates[0];
  const fence = checks.find((c) => c.name === 'fence-path');
  const method = fence?.data?.method;
  const epoch = state?.epoch ?? 0;
  const epochs = Array.from({ length: Math.min(ACK_EPOCHS, epoch) }, (_, i) => epoch - i);

  const readAcks = async (reads: { nodeId: string; commandId: string }[]) =>
    (
      await mapLimit(reads, VALIDATE_CONCURRENCY, (r) =>
        services.commandAcks.get(clusterId, r.nodeId, r.commandId).catch(() => undefined),
      )
    )
      .filter((a): a is CommandAckRecord => a !== undefined && a.event.outcome !== 'failed')
      .map(ackDurationMs)
      .filter((ms): ms is number => ms !== undefined);

  let fenceInput: RtoPredictionInput['fence'] = { method: 'lease-wait', expectedMs: leaseMs + driftMarginMs };
  if (method === 'power-off') {
    fenceInput = { method: 'power-off', expectedMs: Number(fence?.data?.roundTripMs ?? 0) };
  } else if (method === 'fence-peer' && fencerId !== undefined && activeId !== null) {
    const measured = await readAcks(
      epochs.map((e) => ({ nodeId: fencerId, commandId: `fence-peer-${activeId}-${e}` })),
    );
    fenceInput = {
      method: 'fence-peer',
      expectedMs: measured.length > 0 ? Math.max(...measured) : leaseMs + driftMarginMs,
    };
  }

  let startMs = 0;
  const chosenCloud = chosen && cloudRef(chosen);
  if (chosen && chosenCloud) {
    const read = await powerOf(chosen);
    if (read?.power !== 'running' && read?.power !== 'starting')
      startMs = ASSUMED_START_MS[chosenCloud.site.cloud];
  }

  // Promote hook time from the latest acknowledged promotions of the chosen standby and the current active.
  const promoteReads = [chosen?.id, activeId ?? undefined]
    .filter((id): id is string => id !== undefined)
    .flatMap((nodeId) => epochs.map((e) => ({ nodeId, commandId: `promote-${e}` })));
  const promoteMeasured = await readAcks(promoteReads);
  const promoteHookMs = promoteMeasured.length > 0 ? Math.max(...promoteMeasured) : 0;

  const prediction = predictRto({
    detectionWindowMs: windowMs,
    fence: fenceInput,
    startMs,
    promoteHookMs,
    verifyMs: document.failover.verifyHeartbeats * Math.max(50, heartbeatIntervalMs / 10),
  });
  if (promoteMeasured.length === 0)
    prediction.parts = prediction.parts.map((p) =>
      p.name.startsWith('promote hook') ? { ...p, name: 'promote hook (not measured yet)' } : p,
    );
  if (startMs > 0 && chosen)
    prediction.parts = prediction.parts.map((p) =>
      p.name === 'start the standby' ? { ...p, name: `start the standby ${chosen.id} (assumed)` } : p,
    );
  return { checks, prediction };
}
