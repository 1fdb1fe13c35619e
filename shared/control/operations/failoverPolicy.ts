import type { ClusterDocument } from '../../domain/clusterDocument';
import {
  automaticFailoverRefusal as refusalOf,
  type FailoverPolicyRefusal,
} from '../../domain/failoverPolicy';
import type { Services } from '../../services/services';

/** Triggers the anti-flapping policy and `failover.mode` apply to (an operator's request is not automatic). */
export const AUTOMATIC_TRIGGERS: ReadonlySet<string> = new Set(['detector', 'webhook', 'arbitration']);

/**
 * Whether the cluster's policy lets an automatic failover run now (`shared/domain/failoverPolicy.ts`), judged on
 * its recent operations: one query of its newest 100. `operationId` (the asking operation) is not counted.
 */
export async function automaticFailoverRefusal(
  services: Services,
  clusterId: string,
  policy: ClusterDocument['failover'],
  now: number,
  options: { operationId?: string } = {},
): Promise<FailoverPolicyRefusal | undefined> {
  if (policy.mode === 'manual') return refusalOf(clusterId, policy, [], now);
  const { operations } = await services.operations.list(clusterId, { limit: 100 });
  const endedAt = operations
    .filter(
      (o) =>
        o.kind === 'failover' &&
        o.operationId !== options.operationId &&
        o.status === 'succeeded' &&
        o.drillId === undefined, // a failover drill's own failover is not flapping
    )
    .flatMap((o) => (o.endedAt === undefined ? [] : [o.endedAt]));
  return refusalOf(clusterId, policy, endedAt, now);
}
