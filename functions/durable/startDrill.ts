import type * as df from 'durable-functions';
import { InstanceIds, Orchestrations } from '../../orchestrations/contracts';
import { refuse } from '../../shared/control/common/outcome';
import type { DrillInput, DrillRequest, StartedDrill } from '../../shared/control/drills/drillTypes';
import { recordSkippedDrill } from '../../shared/control/drills/recordSkippedDrill';
import type { Services } from '../../shared/services/services';
import { isRunning, readStatus, startOrJoin } from './singleton';

/** The drill id in a drill instance's input, if it has one. */
function drillIdOf(status: df.DurableOrchestrationStatus | undefined): string | undefined {
  const input: unknown = status?.input;
  if (typeof input !== 'object' || input === null) return undefined;
  const id = (input as { drillId?: unknown }).drillId;
  return typeof id === 'string' ? id : undefined;
}

/** How long a start waits for the previous drill, whose report is written, to finish its instance. */
const FINISHING_WAIT_MS = 5000;

/**
 * The drill instance may still be running for a moment after its report was written (its last turn is completing):
 * a drill asked for just then waits for it (up to `FINISHING_WAIT_MS`, polling) rather than being skipped because
 * "a drill was running" that has in fact ended. A drill still in progress is not waited for.
 */
async function previousDrillFinished(
  client: df.DurableClient,
  services: Services,
  clusterId: string,
): Promise<void> {
  const instanceId = InstanceIds.drill(clusterId);
  const status = await readStatus(client, instanceId);
  const runningId = isRunning(status) ? drillIdOf(status) : undefined;
  if (!runningId) return;
  // Its report is written first, then its record ended: either says the drill is over.
  const [record, report] = await Promise.all([
    services.operations.get(clusterId, runningId),
    services.drills.get(clusterId, runningId),
  ]);
  if (record?.endedAt === undefined && report === undefined) return;
  const deadline = Date.now() + FINISHING_WAIT_MS;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (!isRunning(await readStatus(client, instanceId))) return;
  }
}

/**
 * Starts a drill (`drill-<clusterId>`, one per cluster at a time) — from the API, the portal or a schedule slot.
 * Never while another operation runs on the cluster (a failover, a make-active) or another drill: that drill is
 * recorded as skipped, with why. A failover drill needs `drill.allowFailover` in the cluster document and, started
 * by hand, `confirm: true`: it takes the active down for real.
 */
export async function startDrill(
  client: df.DurableClient,
  services: Services,
  request: DrillRequest,
): Promise<StartedDrill> {
  const stored = await services.clusters.getDocument(request.clusterId);
  if (!stored) return refuse('not-found', 'ClusterNotFound', `cluster ${request.clusterId} is not declared`);
  const { document } = stored;
  const mode = request.mode ?? document.drill?.mode ?? 'validate';
  const targetNodeId = request.targetNodeId ?? document.drill?.targetNodeId ?? null;
  if (targetNodeId !== null && !document.nodes.some((n) => n.id === targetNodeId))
    return refuse(
      'unprocessable',
      'TargetNotInCluster',
      `${targetNodeId} is not a node of ${request.clusterId}`,
    );
  if (mode === 'failover') {
    if (!document.drill?.allowFailover)
      return refuse(
        'unprocessable',
        'FailoverDrillNotAllowed',
        `a failover drill takes the active of ${request.clusterId} down for real: set drill.allowFailover to true in its document to allow it`,
      );
    if (request.trigger.kind !== 'schedule' && request.confirm !== true)
      return refuse(
        'unprocessable',
        'ConfirmationRequired',
        'a failover drill silences the active node and lets a real failover run: send confirm: true to start it',
      );
  }
  const requestedAt = services.now();
  const input: DrillInput = {
    drillId: request.drillId ?? `drill-${requestedAt.toString(36)}`,
    clusterId: request.clusterId,
    mode,
    targetNodeId,
    trigger: request.trigger,
    actor: request.actor,
    requestedAt,
  };
  const operation = await readStatus(client, InstanceIds.clusterOperation(request.clusterId));
  if (isRunning(operation)) {
    const running = (operation?.input as { operationId?: unknown } | undefined)?.operationId;
    const why = `operation ${typeof running === 'string' ? running : 'of the cluster'} was running`;
    await recordSkippedDrill(services, input, why);
    return { ok: true, drillId: input.drillId, started: false, skipped: why };
  }
  await previousDrillFinished(client, services, request.clusterId);
  const singleton = await startOrJoin(
    client,
    Orchestrations.drill,
    InstanceIds.drill(request.clusterId),
    input,
    'not-running',
  );
  if (singleton.started) return { ok: true, drillId: input.drillId, started: true };
  const running = isRunning(singleton.previous)
    ? singleton.previous
    : await readStatus(client, singleton.instanceId);
  const runningId = drillIdOf(running);
  if (runningId === input.drillId) return { ok: true, drillId: input.drillId, started: false };
  const why = `drill ${runningId ?? '(starting)'} was running`;
  await recordSkippedDrill(services, input, why);
  return { ok: true, drillId: input.drillId, started: false, skipped: why };
}
