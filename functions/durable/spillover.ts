import * as df from 'durable-functions';
import { Activities, Orchestrations } from '../../orchestrations/contracts';
import { spilloverOrchestrator } from '../../orchestrations/spillover';
import { createSpilloverActivities } from '../../shared/control/pools/spilloverActivities';
import { registerActivities } from './registerActivities';

df.app.orchestration(Orchestrations.spillover, spilloverOrchestrator);
registerActivities(createSpilloverActivities, [
  Activities.beginSpillover,
  Activities.refreshHeadroom,
  Activities.planSpillover,
  Activities.provisionSite,
  Activities.releaseSite,
  Activities.planSpillBack,
  Activities.finishSpillover,
]);
