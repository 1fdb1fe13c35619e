import type { Clock } from '../clock';
import type { LoadedApp } from '../app/loadFunctionsApp';
import type { FunctionCatalog, TimerPolicy } from './planTurn';
import type { TaskHubStore } from './taskHubStore';

export interface EngineSettings {
  hubName: string;
  /** How long a received control message stays invisible while its turn runs (host.json controlQueueVisibilityTimeout). */
  controlVisibilityMs: number;
  /** Same for activity messages; renewed at half-time while the activity runs (workItemQueueVisibilityTimeout). */
  workItemVisibilityMs: number;
  /** Longest idle wait between queue polls (host.json maxQueuePollingInterval; devhost default 500 ms). */
  maxPollIdleMs: number;
  maxConcurrentActivities: number;
  maxConcurrentOrchestrations: number;
  overridableExistingInstanceStates: 'AnyState' | 'NonRunningStates';
  policy: TimerPolicy;
}

export type LogFn = (
  level: 'debug' | 'info' | 'warn' | 'error',
  message: string,
  fields?: Record<string, unknown>,
) => void;

export interface EngineContext {
  store: TaskHubStore;
  app: LoadedApp;
  clock: Clock;
  settings: EngineSettings;
  catalog: FunctionCatalog;
  log: LogFn;
  wakeControl(): void;
  wakeWorkItems(): void;
  timerAdded(fireAt: number): void;
  /**
   * Binding data for a `durableClient` input of an activity (`df.getClient(context)` in an activity, as Azure
   * Functions allows for any function), once the host knows its public origin; undefined before.
   */
  durableClientData?: () => unknown;
}
