import type { ClusterDocument } from './clusterDocument';

/** Why an automatic failover may not run now. Stable codes: callers and the operation record use them. */
export interface FailoverPolicyRefusal {
  code: 'ManualMode' | 'CoolingDown' | 'TooManyFailovers';
  reason: string;
}

/**
 * The cluster's policy for automatic failovers (detector, webhook, agent arbitration; an operator's request is not
 * held back): none while `failover.mode` is manual; no more than `maxFailoversPerPeriod` failovers that changed the
 * active within `periodMs`; none within `cooldownMs` of the last one's end. `endedAt` are the end times of the
 * cluster's earlier failovers that succeeded. A refusal names the rule and, where it lifts, when. Pure.
 */
export function automaticFailoverRefusal(
  clusterId: string,
  policy: ClusterDocument['failover'],
  endedAt: readonly number[],
  now: number,
): FailoverPolicyRefusal | undefined {
  if (policy.mode === 'manual')
    return { code: 'ManualMode', reason: `failover of ${clusterId} is manual: an operator must start it` };
  const recent = endedAt.filter((at) => now - at < policy.periodMs);
  const last = recent.reduce((latest, at) => Math.max(latest, at), 0);
  if (last > 0 && now - last < policy.cooldownMs)
    return {
      code: 'CoolingDown',
      reason: `the last failover of ${clusterId} ended ${now - last} ms ago; the cooldown (${policy.cooldownMs} ms) lifts at ${new Date(last + policy.cooldownMs).toISOString()}`,
    };
  if (recent.length >= policy.maxFailoversPerPeriod)
    return {
      code: 'TooManyFailovers',
      reason: `${recent.length} failovers of ${clusterId} in the last ${policy.periodMs} ms (at most ${policy.maxFailoversPerPeriod})`,
    };
  return undefined;
}
