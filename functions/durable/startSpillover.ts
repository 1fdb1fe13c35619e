import type * as df from 'durable-functions';
import { InstanceIds, Orchestrations } from '../../orchestrations/contracts';
import type { SpilloverInput } from '../../shared/control/pools/spilloverTypes';
import type { Services } from '../../shared/services/services';
import type { OperationTrigger } from '../../shared/stores/operationStore';
import { isRunning, readStatus, startOrJoin } from './singleton';

export interface SpilloverRequest {
  clusterId: string;
  poolId: string;
  trigger: OperationTrigger;
  actor: string;
  reason: string;
}

export interface StartedSpillover {
  /** The run that will place the demand: this request's, or the one already running (which re-plans each round). */
  operationId: string;
  started: boolean;
}

/** The operation id in a spillover instance's input, if it has one. */
function operationIdOf(status: df.DurableOrchestrationStatus | undefined): string | undefined {
  const input: unknown = status?.input;
  if (typeof input !== 'object' || input === null) return undefined;
  const id = (input as { operationId?: unknown }).operationId;
  return typeof id === 'string' ? id : undefined;
}

/**
 * Starts the pool's spillover run (`pool-<cluster>-<pool>`) or joins the one running: a run plans with the current
 * demand every round, so a demand changed while it runs is met by it. The caller has checked the pool exists.
 */
export async function startSpillover(
  client: df.DurableClient,
  services: Services,
  request: SpilloverRequest,
): Promise<StartedSpillover> {
  const requestedAt = services.now();
  const input: SpilloverInput = {
    ...request,
    operationId: `spill-${request.poolId.slice(0, 40)}-${requestedAt.toString(36)}`,
    requestedAt,
  };
  const started = await startOrJoin(
    client,
    Orchestrations.spillover,
    InstanceIds.poolOperation(request.clusterId, request.poolId),
    input,
    'not-running',
  );
  if (started.started) return { operationId: input.operationId, started: true };
  const running = isRunning(started.previous)
    ? started.previous
    : await readStatus(client, started.instanceId);
  return { operationId: operationIdOf(running) ?? input.operationId, started: false };
}
