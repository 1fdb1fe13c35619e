import { inspect } from 'node:util';
import { describeTelemetryConfig, loadTelemetryConfig } from '../../../shared/telemetry/telemetryConfig';
import { TelemetryConfigError } from '../../../shared/telemetry/telemetryConfigError';

const KEY = '00000000-0000-4000-8000-00000000abcd';
const CONNECTION = `InstrumentationKey=${KEY};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/`;

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadTelemetryConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(TelemetryConfigError);
    return (error as TelemetryConfigError).problems;
  }
  throw new Error('expected a TelemetryConfigError');
}

describe('loadTelemetryConfig', () => {
  it('is off when nothing is set', () => {
    expect(loadTelemetryConfig({})).toEqual({ exporter: 'off' });
    expect(loadTelemetryConfig({ FAILOVERPLANE_TELEMETRY: '  ' })).toEqual({ exporter: 'off' });
  });

  it('chooses Azure Monitor, then OTLP, then console', () => {
    const all = {
      APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318',
      FAILOVERPLANE_TELEMETRY: 'console',
    };
    const azure = loadTelemetryConfig(all);
    expect(azure.exporter).toBe('azure-monitor');
    expect(azure.exporter === 'azure-monitor' && azure.connectionString).toBe(CONNECTION);
    expect(loadTelemetryConfig({ ...all, APPLICATIONINSIGHTS_CONNECTION_STRING: '' })).toEqual({
      exporter: 'otlp',
      endpoint: 'http://localhost:4318',
    });
    expect(loadTelemetryConfig({ FAILOVERPLANE_TELEMETRY: 'Console' })).toEqual({ exporter: 'console' });
  });

  it('turns everything off with FAILOVERPLANE_TELEMETRY=off', () => {
    expect(
      loadTelemetryConfig({
        APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION,
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318',
        FAILOVERPLANE_TELEMETRY: 'off',
      }),
    ).toEqual({ exporter: 'off' });
  });

  it('never shows the connection string when the configuration is serialised, inspected or described', () => {
    const config = loadTelemetryConfig({ APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION });
    expect(JSON.stringify(config)).not.toContain(KEY);
    expect(inspect(config)).not.toContain(KEY);
    expect(describeTelemetryConfig(config)).toBe('Azure Monitor (Application Insights)');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('describes an OTLP endpoint by its origin only', () => {
    const config = loadTelemetryConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://user:pass@collector.example:4318/base?token=x',
    });
    expect(describeTelemetryConfig(config)).toBe('OTLP/HTTP to https://collector.example:4318');
  });

  it('names each problem and never quotes the connection string', () => {
    const secret = 'InstrumentationKey=not-a-guid-secret-value;IngestionEndpoint=ftp://x';
    const problems = problemsOf({
      APPLICATIONINSIGHTS_CONNECTION_STRING: secret,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318',
      FAILOVERPLANE_TELEMETRY: 'verbose',
    });
    expect(problems).toEqual([
      'FAILOVERPLANE_TELEMETRY must be console or off (or unset)',
      'APPLICATIONINSIGHTS_CONNECTION_STRING: InstrumentationKey is not a GUID',
      'APPLICATIONINSIGHTS_CONNECTION_STRING: IngestionEndpoint is not an http(s) URL',
      expect.stringMatching(/^OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\) URL/),
    ]);
    expect(problems.join('\n')).not.toContain('secret-value');
    expect(problemsOf({ APPLICATIONINSIGHTS_CONNECTION_STRING: 'just-a-token' })).toEqual([
      'APPLICATIONINSIGHTS_CONNECTION_STRING is not a connection string (expected Key=Value pairs separated by ;)',
    ]);
    expect(problemsOf({ APPLICATIONINSIGHTS_CONNECTION_STRING: 'IngestionEndpoint=https://x/' })).toEqual([
      'APPLICATIONINSIGHTS_CONNECTION_STRING has no InstrumentationKey',
    ]);
    // The error's message lists the problems, not the values.
    try {
      loadTelemetryConfig({ APPLICATIONINSIGHTS_CONNECTION_STRING: secret });
    } catch (error) {
      expect((error as Error).message).not.toContain('secret-value');
      expect((error as Error).message).toContain('InstrumentationKey is not a GUID');
    }
  });
});
