import type { z } from 'zod';
import type { makeActivePlanSchema } from '../../shared/contracts/operationsRequests';
import type { DeleteClusterPlan } from '../../shared/control/clusters/deleteCluster';
import { duration, mark, pad, safe } from './text';

type MakeActivePlan = z.infer<typeof makeActivePlanSchema>;

/** The make-active confirmation screen: who becomes active and passive, the preconditions, the hook steps. */
export function renderMakeActivePlan(plan: MakeActivePlan): string {
  const lines = [
    `Make-active in cluster ${safe(plan.clusterId)} (epoch ${plan.epoch} -> ${plan.epoch + 1})`,
    `  becomes active:  ${safe(plan.becomesActive)}${plan.currentActive ? ` (now ${safe(plan.currentActive)})` : ''}`,
    `  becomes passive: ${plan.becomesPassive.length ? plan.becomesPassive.map(safe).join(', ') : '-'}`,
    'Preconditions:',
  ];
  for (const p of plan.preconditions)
    lines.push(`  ${mark(p.ok ? 'ok' : 'failed')} ${pad(safe(p.name), 28)} ${safe(p.detail)}`);
  lines.push('Hook steps:');
  plan.hooks.forEach((h, i) =>
    lines.push(`  ${i + 1}. ${safe(h.node)}: ${safe(h.command)} — ${safe(h.runs)}`),
  );
  if (plan.hooks.length === 0) lines.push('  none');
  if (plan.blockers.length) lines.push(`Blocked by: ${plan.blockers.map(safe).join(', ')}`);
  return lines.join('\n') + '\n';
}

/** The deletion's confirmation screen: what goes, what stays, what stands in the way. */
export function renderDeletePlan(plan: DeleteClusterPlan): string {
  const list = (items: string[]) => (items.length ? items.map(safe).join(', ') : 'none');
  const lines = [
    `Delete cluster ${safe(plan.clusterId)} (nodes ${list(plan.nodes)})`,
    'Removes:',
    `  the cluster document${plan.removes.state ? ' and its state' : ''}`,
    `  heartbeat rows: ${list(plan.removes.heartbeats)}`,
    `  witness record: ${plan.removes.witness ? 'yes' : 'none'}`,
    `  node keys (retired, never issued again): ${list(plan.removes.nodeKeys)}`,
    `  pool state: ${list(plan.removes.pools)}`,
    `Keeps: ${plan.keeps.map(safe).join(', ')}`,
    `Heartbeating within the ${duration(plan.detectionWindowMs)} detection window: ${
      plan.heartbeating.length
        ? plan.heartbeating.map((h) => `${safe(h.nodeId)} (${duration(h.ageMs)} ago)`).join(', ')
        : 'none'
    }`,
    `Running: ${plan.runningOperations.length ? plan.runningOperations.map((o) => `${safe(o.kind)} ${safe(o.operationId)}`).join(', ') : 'nothing'}`,
  ];
  if (plan.blockers.length) {
    lines.push('Blocked by:');
    for (const b of plan.blockers) lines.push(`  ${safe(b)}`);
  }
  return lines.join('\n') + '\n';
}
