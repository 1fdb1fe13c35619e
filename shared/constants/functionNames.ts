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
  agentArbitrate: 'agentArbitrate',
  agentArbitrationStatus: 'agentArbitrationStatus',
  failureDetector: 'failureDetector',
  arbitrationOrchestrator: 'arbitrationOrchestrator',
  decideArbitrationActivity: 'decideArbitration',
  completeArbitrationActivity: 'completeArbitration',
} as const;

export type FunctionName = (typeof FunctionNames)[keyof typeof FunctionNames];

/** External events raised to orchestrations. */
export const EventNames = {
  arbitrationVote: 'vote',
} as const;

/** Deterministic instance ids: one arbitration per (cluster, epoch), so concurrent requests join one decision. */
export const arbitrationInstanceId = (clusterId: string, epoch: number) => `arbitrate-${clusterId}-${epoch}`;
