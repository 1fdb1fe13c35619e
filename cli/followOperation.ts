import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { operationSchema } from '../shared/contracts/operationsApi';
import { paths } from '../shared/contracts/routes';
import type { ApiClient } from './apiClient';
import { NotFoundError, UnavailableError } from './errors';
import { stepLine } from './render/operationText';

export type OperationBody = z.infer<typeof operationSchema>;

const operationAnswerSchema = z.object({ operation: operationSchema });

/** Reads one operation (`GET …/operations/{operationId}`). */
export async function readOperation(
  api: ApiClient,
  clusterId: string,
  operationId: string,
): Promise<OperationBody> {
  const json = await api.call(paths.operation(clusterId, operationId));
  const parsed = operationAnswerSchema.safeParse(json);
  if (!parsed.success)
    throw new UnavailableError(`the control plane answered an operation the CLI cannot read`);
  return parsed.data.operation;
}

export const ENDED = (status: string) => status !== 'pending' && status !== 'running';

export interface FollowOptions {
  /** Between two reads (default 250 ms). */
  intervalMs?: number;
  /** Give up after (default 15 min): exit 5, the operation goes on. */
  timeoutMs?: number;
  /** How long an operation just started may take to be recorded (a 404 until then is retried; default 30 s). */
  appearWithinMs?: number;
  /** Each step as it ends (its outcome, name and duration), once. */
  onStep?: (line: string) => void;
}

/**
 * Follows an operation until it ends, reporting each step once when it has ended, in the order the operation
 * recorded them (a step still running holds back the ones recorded after it). A polling
 * client: the API has no push; every read is one GET.
 */
export async function followOperation(
  api: ApiClient,
  clusterId: string,
  operationId: string,
  options: FollowOptions = {},
): Promise<OperationBody> {
  const interval = options.intervalMs ?? 250;
  const deadline = Date.now() + (options.timeoutMs ?? 15 * 60_000);
  const appearBy = Date.now() + (options.appearWithinMs ?? 30_000);
  const printed = new Set<string>();
  let seen = false;
  for (;;) {
    let operation: OperationBody;
    try {
      operation = await readOperation(api, clusterId, operationId);
      seen = true;
    } catch (error) {
      // Started but not recorded yet (a drill records its operation when its orchestration runs).
      if (!(error instanceof NotFoundError) || seen || Date.now() > appearBy) throw error;
      await delay(interval);
      continue;
    }
    const steps = operation.steps ?? [];
    const ended = ENDED(operation.status);
    for (const step of steps) {
      if (printed.has(step.id)) continue;
      if (step.outcome === 'running' && !ended) break; // keep the order: later steps wait for this one
      printed.add(step.id);
      options.onStep?.(stepLine(step));
    }
    if (ended) return operation;
    if (Date.now() > deadline)
      throw new UnavailableError(
        `operation ${operationId} is still ${operation.status}; follow it with: failoverctl ops show ${clusterId} ${operationId}`,
      );
    await delay(interval);
  }
}
