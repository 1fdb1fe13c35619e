/** The control plane's configuration: read once from the environment, validated, frozen. */
export interface Config {
  /** Azure Storage for cluster state (AzureWebJobsStorage, the Functions host's own account by default). */
  readonly storageConnectionString: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'InvalidConfiguration';
  readonly retryable = false;
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const problems: string[] = [];
  const storage = env.AzureWebJobsStorage?.trim();
  if (!storage) problems.push('AzureWebJobsStorage is not set (an Azure Storage connection string)');
  else if (
    storage !== 'UseDevelopmentStorage=true' &&
    !/AccountName=|BlobEndpoint=|TableEndpoint=/i.test(storage)
  ) {
    problems.push(
      'AzureWebJobsStorage is not a storage connection string (expected Key=Value;... with AccountName or endpoints)',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ storageConnectionString: storage as string });
}

let current: Config | undefined;

/** The process configuration, loaded on first use. The only place that reads `process.env`. */
export function getConfig(): Config {
  current ??= loadConfig(process.env);
  return current;
}
