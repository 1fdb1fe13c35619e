import { BOUNDS } from './bounds';
import { assertId, ID_PATTERN } from './ids';

/** host.json `extensions.http.routePrefix`: every function's URL path starts with it. */
export const ROUTE_PREFIX = 'api';

/**
 * Every HTTP route of the control plane as the `route:` of its `app.http` registration (below the route prefix),
 * with `{name}` parameters. `paths` builds the URL paths clients send.
 */
export const routes = {
  health: 'health',
  clusters: 'v1/clusters',
  cluster: 'v1/clusters/{clusterId}',
  clusterStatus: 'v1/clusters/{clusterId}/status',
  nodeKey: 'v1/clusters/{clusterId}/nodes/{nodeId}/key',
  witnessBreak: 'v1/clusters/{clusterId}/witness/break',
  operations: 'v1/clusters/{clusterId}/operations',
  operation: 'v1/clusters/{clusterId}/operations/{operationId}',
  audit: 'v1/clusters/{clusterId}/audit',
  makeActive: 'v1/clusters/{clusterId}/makeactive',
  failover: 'v1/clusters/{clusterId}/failover',
  drills: 'v1/clusters/{clusterId}/drills',
  drill: 'v1/clusters/{clusterId}/drills/{drillId}',
  pool: 'v1/clusters/{clusterId}/pools/{poolId}',
  poolDemand: 'v1/clusters/{clusterId}/pools/{poolId}/demand',
  poolPlan: 'v1/clusters/{clusterId}/pools/{poolId}/plan',
  poolSpillover: 'v1/clusters/{clusterId}/pools/{poolId}/spillover',
  poolNodes: 'v1/clusters/{clusterId}/pools/{poolId}/nodes',
  poolNodeIdle: 'v1/clusters/{clusterId}/pools/{poolId}/nodes/{nodeId}/idle',
  webhookAzureMonitor: 'v1/webhooks/azure-monitor',
  webhookAzureMonitorSecure: 'v1/webhooks/azure-monitor/secure',
  webhookFailover: 'v1/webhooks/failover',
  agentHeartbeat: 'v1/agent/heartbeat',
  agentArbitrate: 'v1/agent/arbitrate',
  agentArbitrationStatus: 'v1/agent/arbitration/{clusterId}/{epoch}',
  agentAck: 'v1/agent/ack',
  portal: 'portal/{*path}',
} as const;

export type RouteName = keyof typeof routes;

/** Fills a route template: every parameter must be given and be an id or a non-negative integer (no escaping). */
export function fillRoute(template: string, params: Record<string, string | number> = {}): string {
  const filled = template.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const value = params[name];
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value) || value < 0)
        throw new RangeError(`${name} must be a non-negative integer`);
      return String(value);
    }
    assertId(value, name);
    return value;
  });
  return `/${ROUTE_PREFIX}/${filled}`;
}

/** URL paths (from the host's root) of the routes, for clients: `paths.agentHeartbeat()` = `/api/v1/agent/heartbeat`. */
export const paths = {
  health: () => fillRoute(routes.health),
  clusters: () => fillRoute(routes.clusters),
  cluster: (clusterId: string) => fillRoute(routes.cluster, { clusterId }),
  clusterStatus: (clusterId: string) => fillRoute(routes.clusterStatus, { clusterId }),
  nodeKey: (clusterId: string, nodeId: string) => fillRoute(routes.nodeKey, { clusterId, nodeId }),
  witnessBreak: (clusterId: string) => fillRoute(routes.witnessBreak, { clusterId }),
  operations: (clusterId: string) => fillRoute(routes.operations, { clusterId }),
  operation: (clusterId: string, operationId: string) =>
    fillRoute(routes.operation, { clusterId, operationId }),
  audit: (clusterId: string) => fillRoute(routes.audit, { clusterId }),
  makeActive: (clusterId: string) => fillRoute(routes.makeActive, { clusterId }),
  drills: (clusterId: string) => fillRoute(routes.drills, { clusterId }),
  drill: (clusterId: string, drillId: string) => fillRoute(routes.drill, { clusterId, drillId }),
  pool: (clusterId: string, poolId: string) => fillRoute(routes.pool, { clusterId, poolId }),
  poolDemand: (clusterId: string, poolId: string) => fillRoute(routes.poolDemand, { clusterId, poolId }),
  poolPlan: (clusterId: string, poolId: string) => fillRoute(routes.poolPlan, { clusterId, poolId }),
  poolSpillover: (clusterId: string, poolId: string) =>
    fillRoute(routes.poolSpillover, { clusterId, poolId }),
  poolNodes: (clusterId: string, poolId: string) => fillRoute(routes.poolNodes, { clusterId, poolId }),
  poolNodeIdle: (clusterId: string, poolId: string, nodeId: string) =>
    fillRoute(routes.poolNodeIdle, { clusterId, poolId, nodeId }),
  failover: (clusterId: string) => fillRoute(routes.failover, { clusterId }),
  webhookAzureMonitor: () => fillRoute(routes.webhookAzureMonitor),
  webhookAzureMonitorSecure: () => fillRoute(routes.webhookAzureMonitorSecure),
  webhookFailover: () => fillRoute(routes.webhookFailover),
  agentHeartbeat: () => fillRoute(routes.agentHeartbeat),
  agentArbitrate: () => fillRoute(routes.agentArbitrate),
  agentArbitrationStatus: (clusterId: string, epoch: number) =>
    fillRoute(routes.agentArbitrationStatus, { clusterId, epoch }),
  agentAck: () => fillRoute(routes.agentAck),
  /** The portal's root (its files are below it). */
  portal: () => `/${ROUTE_PREFIX}/portal`,
} as const satisfies Record<RouteName, (...args: never[]) => string>;

const ARBITRATION_STATUS_PATH = new RegExp(
  `/${ROUTE_PREFIX}/${routes.agentArbitrationStatus.replace('{clusterId}', '([^/]+)').replace('{epoch}', '([0-9]{1,10})')}$`,
);

/**
 * Reads an arbitration status path (the `statusUrl` of a 202, with or without an origin before it): the cluster
 * id and the epoch, or undefined if the path is not one. Anything before `/api/` (a proxy's prefix) is allowed.
 */
export function matchArbitrationStatusPath(
  pathname: string,
): { clusterId: string; epoch: number } | undefined {
  const match = ARBITRATION_STATUS_PATH.exec(pathname);
  const clusterId = match?.[1];
  const epoch = Number(match?.[2]);
  if (
    !clusterId ||
    !ID_PATTERN.test(clusterId) ||
    !Number.isInteger(epoch) ||
    epoch < 1 ||
    epoch > BOUNDS.epoch
  )
    return undefined;
  return { clusterId, epoch };
}
