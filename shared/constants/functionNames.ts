/** Every function name of the app, in one place: registrations and callers use these, never string literals. */
export const FunctionNames = {
  health: 'health',
  declareCluster: 'declareCluster',
  getCluster: 'getCluster',
  listClusters: 'listClusters',
  clusterStatus: 'clusterStatus',
  issueNodeKey: 'issueNodeKey',
  breakWitness: 'breakWitness',
  agentHeartbeat: 'agentHeartbeat',
  failureDetector: 'failureDetector',
} as const;

export type FunctionName = (typeof FunctionNames)[keyof typeof FunctionNames];
