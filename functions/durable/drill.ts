import * as df from 'durable-functions';
import { drillOrchestrator } from '../../orchestrations/drill';
import { Activities, Orchestrations } from '../../orchestrations/contracts';
import { createDrillActivities } from '../../shared/control/drills/drillActivities';
import type { DrillLegInput, DrillLegStart } from '../../shared/control/drills/drillTypes';
import { latestHeartbeats } from '../../shared/control/operations/makeActivePlan';
import { getServices } from '../../shared/services/services';
import { registerActivities } from './registerActivities';
import { startClusterOperation } from './startClusterOperation';

df.app.orchestration(Orchestrations.drill, drillOrchestrator);
registerActivities(createDrillActivities, [
  Activities.beginDrill,
  Activities.observeDrill,
  Activities.requestDrillSilence,
  Activities.endDrillSilence,
  Activities.finishDrill,
]);

/**
 * A switchover drill's leg: a make-active through the cluster's operation singleton, exactly as an operator's (so a
 * real failover is never overlapped), under the deterministic id `<drillId>-<leg>` — a redelivered activity joins
 * the leg it started. The target's replication lag at the start is recorded on the drill as the leg's RPO.
 */
df.app.activity(Activities.startDrillLeg, {
  extraInputs: [df.input.durableClient()],
  handler: async (raw: unknown, context): Promise<DrillLegStart> => {
    const { input, leg, to } = raw as DrillLegInput;
    const services = await getServices();
    const operationId = `${input.drillId}-${leg}`;
    const [rows, state] = await Promise.all([
      services.heartbeats.listForCluster(input.clusterId),
      services.clusters.getState(input.clusterId),
    ]);
    const lag = latestHeartbeats(rows, state?.state).find((h) => h.nodeId === to)?.replicationLagMs ?? null;
    const started = await startClusterOperation(df.getClient(context), services, {
      clusterId: input.clusterId,
      kind: 'make-active',
      targetNodeId: to,
      force: false,
      trigger: { kind: 'drill', reference: input.drillId },
      actor: `drill:${input.drillId}`,
      reason: `drill ${input.drillId}: make ${to} active (${leg === 'there' ? 'to the drill target' : 'back'})`,
      avoidRegions: [],
      operationId,
    });
    // Temporary (the task hub busy, an instance starting): a fault, so the activity is retried.
    if (!started.ok && started.kind === 'unavailable')
      throw new Error(`the make-active of the drill's leg could not start yet: ${started.message}`);
    if (!started.ok) return { ok: false, reason: `${started.code}: ${started.message}` };
    // The drill's previous leg: its record has ended but its instance is still finishing (the drill saw the record):
    // a fault too, retried until the instance is done, rather than an abort.
    if (started.operationId !== operationId && started.operationId.startsWith(`${input.drillId}-`))
      throw new Error(`the drill's previous leg ${started.operationId} is still finishing`);
    if (started.operationId !== operationId)
      return {
        ok: false,
        reason: `another operation was running (${started.operationId}): the drill stopped`,
      };
    await services.operations.recordStepIfAbsent(
      input.clusterId,
      input.drillId,
      {
        id: `rpo-${operationId}`,
        name: `replication lag of ${to} at the switch`,
        startedAt: services.now(),
        endedAt: services.now(),
        outcome: 'ok',
        detail: { nodeId: to, rpoMs: lag },
      },
      services.now(),
    );
    return { ok: true, operationId };
  },
});
