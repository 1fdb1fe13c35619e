import * as df from 'durable-functions';
import type { ActivityInput, ActivityName, ActivityOutput } from '../../orchestrations/contracts';
import { getServices, type Services } from '../../shared/services/services';

export type ActivityHandlers<N extends ActivityName> = {
  [K in N]: (input: ActivityInput<K>) => Promise<ActivityOutput<K>>;
};

/**
 * Registers the activities a factory builds (`createArbitrationActivities(services)`), typed by the durable contract.
 * The factory runs once per process, on the first activity call, with the composition root's services.
 */
export function registerActivities<N extends ActivityName>(
  factory: (services: Services) => ActivityHandlers<N>,
  names: readonly N[],
): void {
  let built: Promise<ActivityHandlers<N>> | undefined;
  const handlers = () => {
    built ??= getServices()
      .then(factory)
      .catch((error: unknown) => {
        built = undefined;
        throw error;
      });
    return built;
  };
  for (const name of names) {
    df.app.activity(name, {
      handler: async (input: unknown) => {
        const activities = await handlers();
        return activities[name](input as ActivityInput<typeof name>);
      },
    });
  }
}
