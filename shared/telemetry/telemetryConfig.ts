import { TelemetryConfigError } from './telemetryConfigError';

/**
 * Where telemetry goes, chosen from the environment by `loadTelemetryConfig`:
 * - `azure-monitor`: `APPLICATIONINSIGHTS_CONNECTION_STRING` is set (Azure: Application Insights, with the Functions
 *   instrumentation);
 * - `otlp`: `OTEL_EXPORTER_OTLP_ENDPOINT` is set (an OTLP/HTTP collector, e.g. a local Jaeger or Aspire dashboard);
 * - `console`: `FAILOVERPLANE_TELEMETRY=console` (one compact line per span on stdout: the devhost);
 * - `off`: none of them, or `FAILOVERPLANE_TELEMETRY=off` (which wins over the others): the OpenTelemetry API's
 *   no-op providers, nothing recorded.
 */
export type TelemetryConfig =
  | { readonly exporter: 'azure-monitor'; readonly connectionString: string }
  | { readonly exporter: 'otlp'; readonly endpoint: string }
  | { readonly exporter: 'console' }
  | { readonly exporter: 'off' };

type Env = Readonly<Record<string, string | undefined>>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The problems of an Application Insights connection string (`Key=Value;…`), never quoting it (it is a secret). */
function connectionStringProblems(value: string): string[] {
  const name = 'APPLICATIONINSIGHTS_CONNECTION_STRING';
  const fields = new Map<string, string>();
  for (const part of value.split(';')) {
    if (!part.trim()) continue;
    const at = part.indexOf('=');
    if (at <= 0) return [`${name} is not a connection string (expected Key=Value pairs separated by ;)`];
    fields.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  const problems: string[] = [];
  const key = fields.get('instrumentationkey');
  if (!key) problems.push(`${name} has no InstrumentationKey`);
  else if (!GUID.test(key)) problems.push(`${name}: InstrumentationKey is not a GUID`);
  const ingestion = fields.get('ingestionendpoint');
  if (ingestion !== undefined && !isHttpUrl(ingestion))
    problems.push(`${name}: IngestionEndpoint is not an http(s) URL`);
  return problems;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * Reads the telemetry settings: `APPLICATIONINSIGHTS_CONNECTION_STRING`, `OTEL_EXPORTER_OTLP_ENDPOINT`,
 * `FAILOVERPLANE_TELEMETRY` (`console` or `off`). Invalid settings throw a `TelemetryConfigError` naming each
 * problem; the connection string is a secret: it is never in a problem, and it is not enumerable on the result, so
 * logging or serialising the configuration does not show it.
 */
export function loadTelemetryConfig(env: Env): TelemetryConfig {
  const problems: string[] = [];
  const mode = env.FAILOVERPLANE_TELEMETRY?.trim().toLowerCase() ?? '';
  if (mode && mode !== 'console' && mode !== 'off')
    problems.push('FAILOVERPLANE_TELEMETRY must be console or off (or unset)');
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim() ?? '';
  if (connectionString) problems.push(...connectionStringProblems(connectionString));
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() ?? '';
  if (endpoint && !isHttpUrl(endpoint))
    problems.push(
      'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL (the OTLP/HTTP collector, e.g. http://localhost:4318)',
    );
  if (problems.length > 0) throw new TelemetryConfigError(problems);
  if (mode === 'off') return Object.freeze({ exporter: 'off' });
  if (connectionString) {
    const config = { exporter: 'azure-monitor' as const };
    Object.defineProperty(config, 'connectionString', { value: connectionString, enumerable: false });
    return Object.freeze(config as { exporter: 'azure-monitor'; connectionString: string });
  }
  if (endpoint) return Object.freeze({ exporter: 'otlp', endpoint });
  if (mode === 'console') return Object.freeze({ exporter: 'console' });
  return Object.freeze({ exporter: 'off' });
}

/** The configuration in words, safe to log: the exporter and, for OTLP, the collector's origin (no secret). */
export function describeTelemetryConfig(config: TelemetryConfig): string {
  switch (config.exporter) {
    case 'azure-monitor':
      return 'Azure Monitor (Application Insights)';
    case 'otlp':
      return `OTLP/HTTP to ${new URL(config.endpoint).origin}`;
    case 'console':
      return 'console (one line per span)';
    case 'off':
      return 'off';
  }
}
