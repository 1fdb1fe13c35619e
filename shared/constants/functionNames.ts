/**
 * The names of the app's HTTP and timer functions, in one place: registrations and callers use these, never string
 * literals. Orchestrations, activities and events are named by the durable contract (orchestrations/contracts.ts).
 */
export const FunctionNames = {
  health: 'health',
  declareCluster: 'declareCluster',
  getCluster: 'getCluster',
  listClusters: 'listClusters',
  clusterStatus: 'clusterStatus',
  deleteCluster: 'deleteCluster',
  issueNodeKey: 'issueNodeKey',
  breakWitness: 'breakWitness',
  listOperations: 'listOperations',
  getOperation: 'getOperation',
  listAudit: 'listAudit',
  azureMonitorWebhook: 'azureMonitorWebhook',
  azureMonitorSecureWebhook: 'azureMonitorSecureWebhook',
  failoverWebhook: 'failoverWebhook',
  makeActive: 'makeActive',
  failover: 'failover',
  startDrill: 'startDrill',
  listDrills: 'listDrills',
  getDrill: 'getDrill',
  getPool: 'getPool',
  setPoolDemand: 'setPoolDemand',
  planPool: 'planPool',
  startSpillover: 'startSpillover',
  listPoolNodes: 'listPoolNodes',
  setPoolNodeIdle: 'setPoolNodeIdle',
  capacityMonitor: 'capacityMonitor',
  agentHeartbeat: 'agentHeartbeat',
  agentArbitrate: 'agentArbitrate',
  agentArbitrationStatus: 'agentArbitrationStatus',
  agentAck: 'agentAck',
  failureDetector: 'failureDetector',
  drillScheduler: 'drillScheduler',
  portal: 'portal',
} as const;

export type FunctionName = (typeof FunctionNames)[keyof typeof FunctionNames];
