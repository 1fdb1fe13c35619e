import type { Pool, PoolSite } from '../../domain/clusterDocument';
import { coolDownFor, spillBackMoves } from '../../domain/spillover';
import { planPlacement, type SiteHeadroom as PlanHeadroom } from '../../domain/spilloverPlan';
import type { NodeRef } from '../../providers/computeProvider';
import { ProviderError } from '../../providers/providerError';
import type { Services } from '../../services/services';
import { placementNodeId, type PlacementRecord } from '../../stores/placementStore';
import type { OperationStep } from '../../stores/operationStore';
import type { PoolState } from '../../stores/poolStore';
import { findPool } from './findPool';
import { mergeHeadroom, readHeadroom, siteRef } from './readHeadroom';
import { emitOperationTelemetry } from '../../telemetry/emitOperationTelemetry';
import type {
  BeginSpilloverOutcome,
  FinishSpilloverInput,
  ProvisionInput,
  ProvisionOutcome,
  RefreshInput,
  RefreshOutcome,
  ReleaseInput,
  ReleaseOutcome,
  RoundInput,
  RoundPlan,
  SpillBackPlan,
  SpilloverInput,
  SpilloverResult,
} from './spilloverTypes';

/** Rounds of (headroom, plan, provision) per run: enough for a few cool-downs and a throttle or two. */
export const MAX_SPILLOVER_ROUNDS = 8;
/** Idle nodes a run moves back to preferred sites, when the pool does not say (`spillBackBatch`). */
export const DEFAULT_SPILL_BACK_BATCH = 4;
/** How long one site's scale-out (or scale-in) may take, followed to completion. */
export const PROVISION_DEADLINE_MS = 15 * 60_000;
/** Throttled without a Retry-After: wait this long. */
export const DEFAULT_RETRY_AFTER_MS = 30_000;

/** Raised when a pool disappeared mid-run: the activity is not retried into success, the run ends. */
class PoolGoneError extends Error {
  override readonly name = 'PoolGoneError';
}

const demandOf = (pool: Pool, state: PoolState | undefined) => state?.demand?.count ?? pool.desired;

/** Running nodes per site, from the placement records (the pool state's `placements` is this, kept in sync). */
const countsOf = (records: readonly PlacementRecord[]) => {
  const counts = new Map<string, number>();
  for (const r of records) counts.set(r.siteId, (counts.get(r.siteId) ?? 0) + 1);
  return [...counts].map(([siteId, count]) => ({ siteId, count }));
};

/**
 * The headroom the planner may count on: each site's last read, less the nodes placed there since (the read does
 * not know them yet). Derived from the records, so a redelivered activity never subtracts twice.
 */
export function headroomNow(state: PoolState, records: readonly PlacementRecord[]): PlanHeadroom[] {
  return state.headroom
    .filter((h) => h.error === undefined)
    .map((h) => {
      const since = records.filter((r) => r.siteId === h.siteId && r.placedAt >= h.readAt).length;
      return {
        siteId: h.siteId,
        quotaNodes: Math.max(0, h.quotaNodes - since),
        capacityNodes: h.capacityNodes === 'unknown' ? 'unknown' : Math.max(0, h.capacityNodes - since),
        ...(h.restricted !== undefined ? { restricted: h.restricted } : {}),
        readAt: h.readAt,
      };
    });
}

/** The spillover's activities (see `orchestrations/spillover.ts` for the runbook they make up). */
export function createSpilloverActivities(services: Services) {
  const pool = async (input: SpilloverInput) => {
    const found = await findPool(services, input.clusterId, input.poolId);
    if (!found.ok) throw new PoolGoneError(found.message);
    return found.pool;
  };
  const site = (p: Pool, siteId: string): PoolSite => {
    const found = p.sites.find((s) => s.id === siteId);
    if (!found) throw new PoolGoneError(`pool ${p.id} has no site ${siteId} any more`);
    return found;
  };
  const step = (input: SpilloverInput, recorded: OperationStep) =>
    services.operations.recordStep(input.clusterId, input.operationId, recorded, services.now());
  const stateOf = async (input: SpilloverInput) =>
    (await services.pools.get(input.clusterId, input.poolId))?.state;
  /** Writes the running counts per site from the records into the pool state. */
  const syncCounts = async (input: SpilloverInput) => {
    const records = await services.placements.list(input.clusterId, input.poolId);
    await services.pools.update(
      input.clusterId,
      input.poolId,
      (s) => ({ ...s, placements: countsOf(records) }),
      services.now(),
    );
    return records;
  };

  return {
    async beginSpillover(input: SpilloverInput): Promise<BeginSpilloverOutcome> {
      const found = await findPool(services, input.clusterId, input.poolId);
      const now = services.now();
      if (!found.ok) {
        const result: SpilloverResult = {
          status: 'refused',
          demand: 0,
          placed: 0,
          shortfall: 0,
          reason: found.message,
          code: found.code,
          rounds: 0,
        };
        return { ok: false, result };
      }
      await services.operations.createOnce({
        clusterId: input.clusterId,
        operationId: input.operationId,
        kind: 'spillover',
        status: 'running',
        createdAt: input.requestedAt,
        updatedAt: now,
        epoch: 0,
        evidence: { poolId: input.poolId, reason: input.reason },
        trigger: input.trigger,
        actor: input.actor,
        steps: [],
      });
      await services.pools.update(
        input.clusterId,
        input.poolId,
        (s) => ({ ...s, running: s.running ?? { operationId: input.operationId, startedAt: now } }),
        now,
      );
      // The records are the truth: bring the counts in line before the first plan.
      await syncCounts(input);
      return {
        ok: true,
        maxRounds: MAX_SPILLOVER_ROUNDS,
        spillBackBatch: found.pool.spillBackBatch ?? DEFAULT_SPILL_BACK_BATCH,
      };
    },

    async refreshHeadroom({ input, round, sites }: RefreshInput): Promise<RefreshOutcome> {
      const p = await pool(input);
      const startedAt = services.now();
      const state = await stateOf(input);
      const cooling = (id: string) =>
        (state?.coolDowns ?? []).some((c) => c.siteId === id && c.until > startedAt);
      const wanted = p.sites.filter((s) => (sites === 'all' || sites.includes(s.id)) && !cooling(s.id));
      const read = await readHeadroom(services, wanted);
      await services.pools.update(
        input.clusterId,
        input.poolId,
        (s) => ({ ...s, headroom: mergeHeadroom(s.headroom, read) }),
        services.now(),
      );
      const failed = read.filter((h) => h.error !== undefined);
      await step(input, {
        id: `headroom-${round}`,
        name: `read the headroom of ${read.length} site${read.length === 1 ? '' : 's'}`,
        startedAt,
        endedAt: services.now(),
        outcome: failed.length ? 'warn' : 'ok',
        detail: {
          sites: read.map((h) => ({
            siteId: h.siteId,
            quotaNodes: h.quotaNodes,
            capacityNodes: h.capacityNodes,
            ...(h.restricted ? { restricted: h.restricted } : {}),
            ...(h.error ? { error: h.error } : {}),
          })),
        },
      });
      return { read: read.map((h) => h.siteId), failed: failed.map((h) => h.siteId) };
    },

    async planSpillover({ input, round }: RoundInput): Promise<RoundPlan> {
      const p = await pool(input);
      const startedAt = services.now();
      const records = await syncCounts(input);
      const state = await stateOf(input);
      const demand = demandOf(p, state);
      const plan = planPlacement({
        pool: p,
        demand,
        placements: countsOf(records),
        headroom: state ? headroomNow(state, records) : [],
        coolDowns: state?.coolDowns ?? [],
        now: startedAt,
      });
      const words = [
        ...plan.add.map((a) => `+${a.count} ${a.siteId}`),
        ...plan.remove.map((r) => `-${r.count} ${r.siteId}`),
      ];
      await step(input, {
        id: `plan-${round}`,
        name: `plan for ${demand} (${records.length} placed): ${words.join(', ') || 'nothing to do'}`,
        startedAt,
        endedAt: services.now(),
        outcome: plan.shortfall > 0 ? 'warn' : 'ok',
        detail: { demand, placed: records.length, ...plan },
      });
      return {
        demand,
        placed: records.length,
        add: plan.add,
        remove: plan.remove,
        skipped: plan.skipped,
        shortfall: plan.shortfall,
      };
    },

    async provisionSite({ input, round, siteId, count, purpose }: ProvisionInput): Promise<ProvisionOutcome> {
      const p = await pool(input);
      const s = site(p, siteId);
      const startedAt = services.now();
      const stepId = `${purpose === 'spill-back' ? 'spill-back' : 'provision'}-${round}-${siteId}`;
      const name = `${purpose === 'spill-back' ? 'start replacements:' : 'provision'} ${count} × ${s.size} in ${siteId}`;
      const ref = siteRef(s);
      try {
        const { nodes } = await services.providers.forSite(ref).scaleOut(
          { site: ref, size: s.size, count, group: s.group },
          {
            idempotencyKey: `${input.operationId}/${round}/${purpose}/${siteId}`,
            deadlineMs: PROVISION_DEADLINE_MS,
          },
        );
        if (purpose === 'spill-back') {
          // Verify before anything is removed: every replacement is running.
          const states = await Promise.all(
            nodes.map((n) => services.providers.forSite(ref).getPowerState(n)),
          );
          if (states.some((st) => st !== 'running'))
            throw new Error(`the replacements in ${siteId} are not all running yet (${states.join(', ')})`);
        }
        const at = services.now();
        const records = nodes.map((node): PlacementRecord => ({
          clusterId: input.clusterId,
          poolId: input.poolId,
          nodeId: placementNodeId(siteId, resourceOf(node)),
          siteId,
          cloud: s.cloud,
          region: s.region,
          ...(s.zone ? { zone: s.zone } : {}),
          size: s.size,
          group: s.group,
          resourceId: resourceOf(node),
          status: 'running',
          reason:
            purpose === 'spill-back'
              ? `spill-back: room returned in ${siteId}, a more preferred site`
              : `planned in round ${round}: ${siteId} had room`,
          placedAt: at,
          operationId: input.operationId,
        }));
        await services.placements.recordPlaced(records);
        await syncCounts(input);
        await step(input, {
          id: stepId,
          name,
          startedAt,
          endedAt: services.now(),
          outcome: 'ok',
          detail: {
            siteId,
            count,
            nodes: records.map((r) => ({ nodeId: r.nodeId, resourceId: r.resourceId })),
          },
        });
        return { outcome: 'placed', siteId, nodeIds: records.map((r) => r.nodeId) };
      } catch (error) {
        if (!(error instanceof ProviderError) || error.retryable) {
          if (error instanceof ProviderError && error.kind === 'throttled') {
            const retryAfterMs = error.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
            await step(input, {
              id: stepId,
              name,
              startedAt,
              endedAt: services.now(),
              outcome: 'warn',
              detail: { siteId, count, throttled: error.message, retryAfterMs },
            });
            return { outcome: 'throttled', siteId, retryAfterMs, message: error.message };
          }
          throw error; // transient, a timeout, a conflict: the activity is retried
        }
        const now = services.now();
        const cool = coolDownFor(p, s, { kind: error.kind, message: error.message }, now);
        const until = cool?.until ?? now;
        const kind = cool?.kind ?? error.kind;
        await services.pools.update(
          input.clusterId,
          input.poolId,
          (st) => ({
            ...st,
            coolDowns: [
              ...st.coolDowns.filter((c) => c.siteId !== siteId && c.until > now),
              { siteId, until, kind, reason: cool?.reason ?? error.message },
            ],
          }),
          now,
        );
        await step(input, {
          id: stepId,
          name,
          startedAt,
          endedAt: now,
          outcome: 'failed',
          detail: {
            siteId,
            count,
            error: error.message,
            coolDown: { kind, until: new Date(until).toISOString() },
          },
        });
        return { outcome: 'cooled', siteId, kind, until, message: error.message };
      }
    },

    async releaseSite({
      input,
      round,
      siteId,
      count,
      nodeIds,
      reason,
    }: ReleaseInput): Promise<ReleaseOutcome> {
      const p = await pool(input);
      const startedAt = services.now();
      const running = (await services.placements.list(input.clusterId, input.poolId)).filter(
        (r) => r.siteId === siteId,
      );
      // Idle nodes first (longest idle first), then the newest: the least disruptive to take away.
      const chosen = nodeIds
        ? running.filter((r) => nodeIds.includes(r.nodeId))
        : [...running]
            .sort(
              (a, b) =>
                (a.idleSince === undefined ? 1 : 0) - (b.idleSince === undefined ? 1 : 0) ||
                (a.idleSince ?? 0) - (b.idleSince ?? 0) ||
                b.placedAt - a.placedAt ||
                a.nodeId.localeCompare(b.nodeId),
            )
            .slice(0, count ?? 0);
      const stepId = `${nodeIds ? 'spill-back-remove' : 'remove'}-${round}-${siteId}`;
      const name = `remove ${chosen.length} from ${siteId}`;
      if (chosen.length === 0) return { outcome: 'released', siteId, nodeIds: [] };
      const s = p.sites.find((x) => x.id === siteId);
      const group = s?.group ?? chosen[0]?.group ?? '';
      const cloud = s?.cloud ?? chosen[0]?.cloud ?? 'azure';
      const ref = s ? siteRef(s) : { cloud, region: chosen[0]?.region ?? '' };
      try {
        await services.providers.forSite(ref).scaleIn(
          group,
          chosen.map((r) => nodeRefOf(r)),
          {
            idempotencyKey: `${input.operationId}/${round}/remove/${siteId}`,
            deadlineMs: PROVISION_DEADLINE_MS,
          },
        );
      } catch (error) {
        if (error instanceof ProviderError && error.kind === 'throttled') {
          const retryAfterMs = error.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
          return { outcome: 'throttled', siteId, retryAfterMs, message: error.message };
        }
        if (!(error instanceof ProviderError) || error.retryable) throw error;
        await step(input, {
          id: stepId,
          name,
          startedAt,
          endedAt: services.now(),
          outcome: 'failed',
          detail: { siteId, error: error.message },
        });
        return { outcome: 'failed', siteId, message: error.message };
      }
      const ids = chosen.map((r) => r.nodeId);
      await services.placements.markRemoved(input.clusterId, input.poolId, ids, {
        operationId: input.operationId,
        reason,
        at: services.now(),
      });
      await syncCounts(input);
      await step(input, {
        id: stepId,
        name,
        startedAt,
        endedAt: services.now(),
        outcome: 'ok',
        detail: {
          siteId,
          reason,
          nodes: chosen.map((r) => ({ nodeId: r.nodeId, resourceId: r.resourceId })),
        },
      });
      return { outcome: 'released', siteId, nodeIds: ids };
    },

    async planSpillBack({ input, round }: RoundInput): Promise<SpillBackPlan> {
      const p = await pool(input);
      const batch = p.spillBackBatch ?? DEFAULT_SPILL_BACK_BATCH;
      const records = await services.placements.list(input.clusterId, input.poolId);
      const state = await stateOf(input);
      if (batch === 0 || !state || records.length < demandOf(p, state)) return { moves: [] };
      const moves = spillBackMoves({
        pool: p,
        nodes: records.map((r) => ({
          nodeId: r.nodeId,
          siteId: r.siteId,
          ...(r.idleSince !== undefined ? { idleSince: r.idleSince } : {}),
        })),
        headroom: headroomNow(state, records),
        coolDowns: state.coolDowns,
        now: services.now(),
        batch,
      });
      if (moves.length > 0)
        await step(input, {
          id: `spill-back-plan-${round}`,
          name: `spill back ${moves.map((m) => `${m.nodeIds.length} ${m.from} → ${m.to}`).join(', ')}`,
          startedAt: services.now(),
          endedAt: services.now(),
          outcome: 'ok',
          detail: { moves },
        });
      return { moves };
    },

    async finishSpillover({ input, rounds, note }: FinishSpilloverInput): Promise<SpilloverResult> {
      const now = services.now();
      const found = await findPool(services, input.clusterId, input.poolId);
      const records = found.ok ? await syncCounts(input) : [];
      const state = await stateOf(input);
      const demand = found.ok ? demandOf(found.pool, state) : 0;
      const placed = records.length;
      const shortfall = Math.max(0, demand - placed);
      const excess = Math.max(0, placed - demand);
      const result: SpilloverResult = !found.ok
        ? {
            status: 'failed',
            demand,
            placed,
            shortfall,
            reason: found.message,
            code: found.code,
            rounds,
          }
        : shortfall > 0
          ? {
              status: 'failed',
              demand,
              placed,
              shortfall,
              reason: `${placed} of ${demand} placed: ${note ?? 'no site has room for the rest'}`,
              code: 'CapacityShortfall',
              rounds,
            }
          : excess > 0
            ? {
                status: 'failed',
                demand,
                placed,
                shortfall,
                reason: `${placed} placed for a demand of ${demand}: ${note ?? 'the removals did not all go through'}`,
                code: 'ScaleInIncomplete',
                rounds,
              }
            : {
                status: 'succeeded',
                demand,
                placed,
                shortfall,
                reason: `${placed} of ${demand} placed`,
                rounds,
              };
      const ended = await services.operations.update(input.clusterId, input.operationId, (op) =>
        op.endedAt !== undefined
          ? op
          : {
              ...op,
              status: result.status,
              reason: result.reason,
              ...(result.code ? { code: result.code } : {}),
              outcome: { demand, placed, shortfall, rounds },
              updatedAt: now,
              endedAt: now,
            },
      );
      emitOperationTelemetry(ended);
      if (found.ok)
        await services.pools.update(
          input.clusterId,
          input.poolId,
          (s) => {
            const { running: _running, ...rest } = s;
            return {
              ...rest,
              ...(s.running && s.running.operationId !== input.operationId ? { running: s.running } : {}),
              lastRun: { operationId: input.operationId, endedAt: now, shortfall, reason: result.reason },
            };
          },
          now,
        );
      return result;
    },
  };
}

export type SpilloverActivities = ReturnType<typeof createSpilloverActivities>;

function resourceOf(node: NodeRef): string {
  return node.kind === 'azure-vm' ? node.resourceId : node.ocid;
}

function nodeRefOf(record: PlacementRecord): NodeRef {
  return record.cloud === 'azure'
    ? { kind: 'azure-vm', resourceId: record.resourceId }
    : { kind: 'oci-instance', ocid: record.resourceId };
}
