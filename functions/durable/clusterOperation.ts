import * as df from 'durable-functions';
import { clusterOperationOrchestrator } from '../../orchestrations/clusterOperation';
import { Activities, Orchestrations } from '../../orchestrations/contracts';
import { createClusterOperationActivities } from '../../shared/control/operations/clusterOperation';
import { registerActivities } from './registerActivities';

df.app.orchestration(Orchestrations.clusterOperation, clusterOperationOrchestrator);
registerActivities(createClusterOperationActivities, [
  Activities.beginClusterOperation,
  Activities.advanceClusterOperation,
]);
