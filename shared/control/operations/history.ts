import type { PageQuery } from '../../contracts/operationsApi';
import type { Services } from '../../services/services';
import { AuditLog, type AuditEntry } from '../../stores/auditLog';
import { OperationStore, type OperationPage, type OperationRecord } from '../../stores/operationStore';
import { refuse, type Outcome } from '../common/outcome';

const clusterNotFound = (clusterId: string) =>
  refuse('not-found', 'ClusterNotFound', `cluster ${clusterId} is not declared`);

const badContinuation = () =>
  refuse(
    'invalid',
    'InvalidContinuation',
    'continuation must be the token of a previous page of this list, passed back unchanged',
  );

/** A cluster's operations, newest first, one page at a time. */
export async function listOperations(
  services: Services,
  clusterId: string,
  query: PageQuery,
): Promise<Outcome<OperationPage>> {
  if (query.continuation !== undefined && !OperationStore.isContinuation(query.continuation))
    return badContinuation();
  if (!(await services.clusters.getDocument(clusterId))) return clusterNotFound(clusterId);
  const page = await services.operations.list(clusterId, query);
  return { ok: true, ...page };
}

/** One operation with its steps and timings. */
export async function getOperation(
  services: Services,
  clusterId: string,
  operationId: string,
): Promise<Outcome<{ operation: OperationRecord }>> {
  const operation = await services.operations.get(clusterId, operationId);
  if (operation) return { ok: true, operation };
  if (!(await services.clusters.getDocument(clusterId))) return clusterNotFound(clusterId);
  return refuse('not-found', 'OperationNotFound', `cluster ${clusterId} has no operation ${operationId}`);
}

/** A cluster's audit log (every state change with its actor), newest first, one page at a time. */
export async function listAudit(
  services: Services,
  clusterId: string,
  query: PageQuery,
): Promise<Outcome<{ entries: AuditEntry[]; continuation?: string }>> {
  if (query.continuation !== undefined && !AuditLog.isContinuation(query.continuation))
    return badContinuation();
  if (!(await services.clusters.getDocument(clusterId))) return clusterNotFound(clusterId);
  const page = await services.audit.page(clusterId, query);
  return { ok: true, ...page };
}
