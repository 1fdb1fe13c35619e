import type { z } from 'zod';
import type { operationSchema, operationStepSchema } from '../../shared/contracts/operationsApi';
import { duration, mark, safe, table, time } from './text';

type Operation = z.infer<typeof operationSchema>;
type Step = z.infer<typeof operationStepSchema>;

/** One progress line: `[ OK ] revoke epoch 1 (12 ms)`. */
export function stepLine(step: Step): string {
  const took = step.endedAt !== undefined ? ` (${duration(step.endedAt - step.startedAt)})` : '';
  const why = step.outcome === 'failed' || step.outcome === 'warn' ? detailReason(step.detail) : '';
  return `${mark(step.outcome)} ${safe(step.name)}${took}${why ? `: ${why}` : ''}`;
}

function detailReason(detail: Record<string, unknown> | undefined): string {
  if (!detail) return '';
  for (const key of ['reason', 'error', 'message'])
    if (typeof detail[key] === 'string') return safe(detail[key]);
  return '';
}

/** The last line of a followed operation: `[ OK ] …` or `[FAIL] …` with why. */
export function endLine(operation: Operation, activeNodeId?: string | null): string {
  if (operation.status === 'succeeded') {
    const active = operation.targetNodeId ?? activeNodeId;
    const target = active ? `${safe(active)} is active` : 'done';
    const epoch = operation.toEpoch !== undefined ? ` under epoch ${operation.toEpoch}` : '';
    const rto = operation.rtoMs !== undefined ? ` (RTO ${duration(operation.rtoMs)})` : '';
    return `[ OK ] ${safe(operation.kind)} ${safe(operation.operationId)} succeeded: ${target}${epoch}${rto}`;
  }
  return `[FAIL] ${safe(operation.kind)} ${safe(operation.operationId)} ${safe(operation.status)}${operation.reason ? `: ${safe(operation.reason)}` : ''}`;
}

/** `ops show`: the operation and its step timeline. */
export function renderOperation(operation: Operation): string {
  const lines = [
    `Operation ${safe(operation.operationId)} (${safe(operation.kind)}) of ${safe(operation.clusterId)}: ${safe(operation.status).toUpperCase()}`,
    `  trigger: ${safe(operation.trigger?.kind ?? '-')}${operation.trigger?.reference ? ` ${safe(operation.trigger.reference)}` : ''}, actor: ${safe(operation.actor ?? '-')}`,
    `  epoch:   ${operation.epoch}${operation.toEpoch !== undefined ? ` -> ${operation.toEpoch}` : ''}${operation.targetNodeId ? `, target ${safe(operation.targetNodeId)}` : ''}`,
    `  created: ${time(operation.createdAt)}${operation.endedAt !== undefined ? `, ended ${time(operation.endedAt)}` : ''}${operation.rtoMs !== undefined ? `, RTO ${duration(operation.rtoMs)}` : ''}`,
  ];
  if (operation.reason) lines.push(`  reason:  ${safe(operation.reason)}`);
  // In the order the operation recorded them (its story), not by start time.
  const steps = operation.steps ?? [];
  lines.push(steps.length ? 'Steps:' : 'Steps: none recorded');
  for (const step of steps) lines.push(`  ${time(step.startedAt)}  ${stepLine(step)}`);
  return lines.join('\n') + '\n';
}

/** `ops list`: one line per operation, newest first. */
export function renderOperationList(operations: Operation[]): string {
  if (operations.length === 0) return 'No operations.\n';
  return (
    table(
      ['OPERATION', 'KIND', 'STATUS', 'CREATED', 'TARGET', 'RTO'],
      operations.map((o) => [
        safe(o.operationId),
        safe(o.kind),
        safe(o.status),
        time(o.createdAt),
        safe(o.targetNodeId ?? '-'),
        o.rtoMs !== undefined ? duration(o.rtoMs) : '-',
      ]),
    ).join('\n') + '\n'
  );
}
