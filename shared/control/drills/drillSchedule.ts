import { hostname } from 'node:os';
import { dueSlot, slotDrillId } from '../../domain/drillSchedule';
import { isRetryable } from '../../errors';
import type { Services } from '../../services/services';
import type { StoredDocument } from '../../stores/clusterStore';
import { mapLimit } from '../../util/mapLimit';
import type { DrillRequest, StartedDrill } from './drillTypes';

export type DrillScheduleLog = (level: 'info' | 'warn' | 'error', message: string) => void;

export interface DrillScheduleOptions {
  /** Written into each claim (`claimedBy`): which host started the slot. Default: host name and process id. */
  hostId?: string;
  log?: DrillScheduleLog;
  /** Clusters handled at once. Default 16. */
  concurrency?: number;
}

/** What one cluster's turn in a round came to. */
export type SlotOutcome =
  /** This host claimed the slot and the drill started. */
  | 'started'
  /** This host claimed the slot; the start answered "not started" (recorded as skipped, or joined a drill). */
  | 'skipped'
  /** The start refused (e.g. a failover drill without `allowFailover`): the claim stands, audited. */
  | 'refused'
  /** Another host claimed the slot first: it starts the drill. */
  | 'claimed-elsewhere'
  /** The start threw: released for a later round when temporary, else the claim stands, audited. */
  | 'failed';

export interface DrillScheduleRound {
  /** Clusters with a `drill.schedule`. */
  scheduled: number;
  /** Scheduled clusters with no slot due (or already claimed). */
  notDue: number;
  started: number;
  skipped: number;
  refused: number;
  claimedElsewhere: number;
  failed: number;
  /** One entry per due slot this round, for logs and tests. */
  slots: { clusterId: string; slot: number; drillId: string; outcome: SlotOutcome; detail?: string }[];
}

/**
 * The `since` each host last read or claimed, per cluster (per `Services`: one host process). It only moves forward
 * in storage (claims are newer slots, a rewritten document is newer; a release forgets the entry here), so a cluster
 * with no slot due after it needs no query: a round where nothing is due costs the cluster list and no more. It only
 * ever saves a query; the claim (an insert) is what decides who starts a slot.
 */
const knownSince = new WeakMap<Services, Map<string, number>>();

/**
 * One round of the drill scheduler: for each declared cluster with a `drill.schedule`, the slot due now (the latest
 * since the last claimed slot, or since the document was written when none was: a slot due before the cluster was
 * declared never starts; see `dueSlot` for the catch-up bound) is claimed, and only the host whose claim inserted
 * the row calls `start`. However many hosts run the round, a slot starts one drill; after downtime the missed slots
 * start one drill, for the latest of them.
 *
 * A start that throws after the claim: a temporary failure (storage, the durable backend) releases the claim, so
 * the next round claims the slot again and retries (the drill id is the slot's, so a start that did get through is
 * joined, not duplicated); any other failure keeps the claim (a retry would fail the same way every round) and is
 * audited as `drill-schedule-failed`, as is a release that itself fails. A refusal keeps the claim and is audited as
 * `drill-schedule-refused`. One cluster's failure never stops the round for the others.
 */
export async function runDrillSchedule(
  services: Services,
  start: (request: DrillRequest) => Promise<StartedDrill>,
  options: DrillScheduleOptions = {},
): Promise<DrillScheduleRound> {
  const hostId = options.hostId ?? `${hostname()}:${process.pid}`;
  const log: DrillScheduleLog = options.log ?? (() => undefined);
  const claims = knownSince.get(services) ?? new Map<string, number>();
  knownSince.set(services, claims);
  const round: DrillScheduleRound = {
    scheduled: 0,
    notDue: 0,
    started: 0,
    skipped: 0,
    refused: 0,
    claimedElsewhere: 0,
    failed: 0,
    slots: [],
  };
  const scheduled = (await services.clusters.listDocuments()).filter((d) => d.document.drill?.schedule);
  round.scheduled = scheduled.length;

  const record = (clusterId: string, slot: number, outcome: SlotOutcome, detail?: string) => {
    round.slots.push({ clusterId, slot, drillId: slotDrillId(slot), outcome, ...(detail ? { detail } : {}) });
    const counter = outcome === 'claimed-elsewhere' ? 'claimedElsewhere' : outcome;
    round[counter]++;
  };
  const audit = async (clusterId: string, action: string, detail: Record<string, unknown>) => {
    try {
      await services.audit.append({ clusterId, at: services.now(), actor: 'schedule', action, detail });
    } catch (error) {
      log('error', `drill schedule: could not audit ${action} of ${clusterId}: ${(error as Error).message}`);
    }
  };

  const turn = async ({ document, updatedAt }: StoredDocument): Promise<void> => {
    const clusterId = document.id;
    const schedule = document.drill?.schedule ?? '';
    const now = services.now();
    // Nothing due even counting from the `since` this host last read: no query needed.
    const known = claims.get(clusterId);
    if (known !== undefined && dueSlot(schedule, now, known) === undefined) {
      round.notDue++;
      return;
    }
    const since = (await services.drillSlots.lastClaimed(clusterId)) ?? updatedAt;
    claims.set(clusterId, since);
    const slot = dueSlot(schedule, now, since);
    if (slot === undefined) {
      round.notDue++;
      return;
    }
    const won = await services.drillSlots.claim(clusterId, slot, hostId);
    claims.set(clusterId, slot);
    if (!won) {
      record(clusterId, slot, 'claimed-elsewhere');
      return;
    }
    const drillId = slotDrillId(slot);
    const reference = new Date(slot).toISOString();
    try {
      const started = await start({
        clusterId,
        trigger: { kind: 'schedule', reference },
        actor: 'schedule',
        drillId,
      });
      if (!started.ok) {
        log(
          'warn',
          `scheduled drill ${drillId} of ${clusterId} refused: ${started.code}: ${started.message}`,
        );
        record(clusterId, slot, 'refused', started.code);
        await audit(clusterId, 'drill-schedule-refused', {
          drillId,
          slot: reference,
          code: started.code,
          message: started.message,
        });
      } else if (started.started) {
        log('info', `scheduled drill ${started.drillId} of ${clusterId} started (slot ${reference})`);
        record(clusterId, slot, 'started');
      } else {
        const why = started.skipped ?? 'joined a drill already started';
        log('info', `scheduled drill ${started.drillId} of ${clusterId} not started: ${why}`);
        record(clusterId, slot, 'skipped', why);
      }
    } catch (error) {
      const message = (error as Error).message;
      if (isRetryable(error)) {
        try {
          await services.drillSlots.release(clusterId, slot);
          claims.delete(clusterId);
          log(
            'warn',
            `scheduled drill ${drillId} of ${clusterId} did not start, retried next round: ${message}`,
          );
          record(clusterId, slot, 'failed', message);
          return;
        } catch (releaseError) {
          log(
            'error',
            `drill slot ${reference} of ${clusterId} not released: ${(releaseError as Error).message}`,
          );
        }
      } else log('error', `scheduled drill ${drillId} of ${clusterId} failed: ${message}`);
      record(clusterId, slot, 'failed', message);
      await audit(clusterId, 'drill-schedule-failed', { drillId, slot: reference, error: message });
    }
  };

  await mapLimit(scheduled, options.concurrency ?? 16, async (stored) => {
    try {
      await turn(stored);
    } catch (error) {
      // Storage failing for this cluster (lastClaimed, claim): nothing claimed; the next round tries again.
      log('warn', `drill schedule skipped ${stored.document.id}: ${(error as Error).message}`);
      round.failed++;
    }
  });
  return round;
}
