import * as df from 'durable-functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import {
  completeArbitration,
  decideArbitration,
  type ArbitrationInput,
} from '../../shared/control/arbitration';
import { getServices } from '../../shared/services/services';
import { arbitrationOrchestrator } from '../../orchestrations/arbitration';

df.app.orchestration(FunctionNames.arbitrationOrchestrator, arbitrationOrchestrator);

df.app.activity(FunctionNames.decideArbitrationActivity, {
  handler: async (input: ArbitrationInput) => decideArbitration(await getServices(), input),
});

df.app.activity(FunctionNames.completeArbitrationActivity, {
  handler: async (input: ArbitrationInput & { winner: string; losers: string[] }) =>
    completeArbitration(await getServices(), input),
});
