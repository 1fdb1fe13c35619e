import type * as df from 'durable-functions';
import { refuse } from '../../shared/control/common/outcome';
import type { DrillRequest, StartedDrill } from '../../shared/control/drills/drillTypes';
import type { Services } from '../../shared/services/services';

/**
 * STUB (scheduled-drills branch): the lead's real `startDrill` replaces this file at merge. It refuses every start
 * as unavailable so the drill scheduler compiles and runs (a refusal keeps the slot's claim and is audited).
 */
export async function startDrill(
  _client: df.DurableClient,
  _services: Services,
  request: DrillRequest,
): Promise<StartedDrill> {
  return Promise.resolve(
    refuse('unavailable', 'NotImplemented', `drills cannot start yet (cluster ${request.clusterId})`),
  );
}
