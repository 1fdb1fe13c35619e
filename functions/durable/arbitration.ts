import * as df from 'durable-functions';
import { Activities, Orchestrations } from '../../orchestrations/contracts';
import { arbitrationOrchestrator } from '../../orchestrations/arbitration';
import { createArbitrationActivities } from '../../shared/control/arbitration/arbitration';
import { registerActivities } from './registerActivities';

df.app.orchestration(Orchestrations.arbitration, arbitrationOrchestrator);
registerActivities(createArbitrationActivities, [
  Activities.decideArbitration,
  Activities.completeArbitration,
]);
