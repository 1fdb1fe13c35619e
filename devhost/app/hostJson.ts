/** The parts of host.json the devhost honours. Durations use the .NET TimeSpan form ("00:05:00", "1.00:00:00"). */
export interface HostJson {
  version?: string;
  extensions?: {
    http?: { routePrefix?: string; maxRequestBodySize?: number };
    durableTask?: {
      hubName?: string;
      maxConcurrentActivityFunctions?: number;
      maxConcurrentOrchestratorFunctions?: number;
      overridableExistingInstanceStates?: string;
      storageProvider?: {
        /**
         * The durable backend: absent or `AzureStorage` (what the devhost runs, on Azurite); anything else (the
         * Durable Task Scheduler's `azureManaged`, `mssql`, `netherite`) is refused at start.
         */
        type?: string;
        /** The app setting with the backend's connection (`DURABLE_TASK_SCHEDULER_CONNECTION_STRING` for azureManaged). */
        connectionStringName?: string;
        controlQueueVisibilityTimeout?: string;
        workItemQueueVisibilityTimeout?: string;
        maxQueuePollingInterval?: string;
      };
    };
  };
}

/** Parses a .NET TimeSpan string (`[d.]hh:mm:ss[.fff]`) into milliseconds. */
export function parseTimeSpan(value: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/.exec(value.trim());
  if (!match) throw new Error(`"${value}" is not a TimeSpan (expected [d.]hh:mm:ss[.fff])`);
  const [, days = '0', hours = '0', minutes = '0', seconds = '0', fraction = ''] = match;
  const ms = fraction ? Math.round(Number(`0.${fraction}`) * 1000) : 0;
  return ((Number(days) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 + Number(seconds) * 1000 + ms;
}

/** Formats milliseconds as a TimeSpan string, the form the orchestrator payload uses ("6.00:00:00"). */
export function formatTimeSpan(ms: number): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const totalSeconds = Math.floor(ms / 1000);
  const days = Math.floor(totalSeconds / 86_400);
  const rest = totalSeconds % 86_400;
  const hms = `${pad(Math.floor(rest / 3600))}:${pad(Math.floor((rest % 3600) / 60))}:${pad(rest % 60)}`;
  return days > 0 ? `${days}.${hms}` : hms;
}

export type OverridableStates = 'AnyState' | 'NonRunningStates';

/**
 * host.json `extensions.durableTask.overridableExistingInstanceStates`, as the extension reads it (case-insensitive
 * enum). Default `NonRunningStates`, the extension's: starting an instance id that is still Pending, Running,
 * ContinuedAsNew or Suspended fails instead of replacing it.
 */
export function parseOverridableStates(value: unknown): OverridableStates {
  if (value === undefined || value === null) return 'NonRunningStates';
  const known: OverridableStates[] = ['AnyState', 'NonRunningStates'];
  const match =
    typeof value === 'string' ? known.find((k) => k.toLowerCase() === value.toLowerCase()) : undefined;
  if (!match) {
    throw new Error(
      `host.json extensions.durableTask.overridableExistingInstanceStates must be "AnyState" or "NonRunningStates", not ${JSON.stringify(value)}`,
    );
  }
  return match;
}

/** host.json asks for something the devhost cannot do locally; the message names the setting and the local form. */
export class HostJsonUnsupportedError extends Error {
  override readonly name = 'HostJsonUnsupportedError';
}

/**
 * host.json `extensions.durableTask.storageProvider.type`, checked before anything starts: the devhost runs the Azure
 * Storage provider only (on Azurite or a given account). `azureManaged` — the Durable Task Scheduler, the Azure form
 * of this app's host.json — needs the scheduler (or its emulator) and cannot be honoured; any other provider neither.
 */
export function assertLocalDurableProvider(hostJson: HostJson): void {
  const type: unknown = hostJson.extensions?.durableTask?.storageProvider?.type;
  if (type === undefined || type === null) return;
  const setting = 'host.json extensions.durableTask.storageProvider.type';
  const local = 'the local form is the Azure Storage provider: omit "type" or use "AzureStorage"';
  if (typeof type !== 'string') throw new HostJsonUnsupportedError(`${setting} must be a string (${local})`);
  if (type.toLowerCase() === 'azurestorage') return;
  if (type.toLowerCase() === 'azuremanaged')
    throw new HostJsonUnsupportedError(
      `${setting} "${type}" cannot be honoured by the devhost: it needs the Durable Task Scheduler (or its emulator), ` +
        `which the devhost does not run; ${local} (the Azure deployment keeps "azureManaged")`,
    );
  throw new HostJsonUnsupportedError(`${setting} "${type}" is not supported by the devhost; ${local}`);
}

/**
 * A host.json value with `%NAME%` app-setting references resolved the way the Functions host does (`"hubName":
 * "%TASKHUB_NAME%"`); a reference to a setting that is not set is an error naming both.
 */
export function resolveAppSettingReferences(
  value: string,
  env: Readonly<Record<string, string | undefined>>,
  where: string,
): string {
  return value.replace(/%([^%]+)%/g, (_match, name: string) => {
    const resolved = env[name]?.trim();
    if (!resolved)
      throw new HostJsonUnsupportedError(
        `${where} refers to the app setting %${name}%, which is not set (set ${name} in the environment or local.settings.json Values)`,
      );
    return resolved;
  });
}
