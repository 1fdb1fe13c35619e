/** The telemetry settings are invalid: each problem names the setting and what is wrong, never its value. */
export class TelemetryConfigError extends Error {
  override readonly name = 'TelemetryConfigError';
  readonly code = 'InvalidTelemetryConfiguration';
  readonly retryable = false;
  constructor(readonly problems: string[]) {
    super(`Invalid telemetry configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}
