import { setupTelemetry } from '../shared/telemetry/setupTelemetry';

/**
 * Loaded with the function files (package.json `main`): sets telemetry up once per process from the app settings
 * (APPLICATIONINSIGHTS_CONNECTION_STRING, OTEL_EXPORTER_OTLP_ENDPOINT, FAILOVERPLANE_TELEMETRY), at load time as
 * the Functions instrumentation requires (before the worker locks the app's setup). Off by default.
 */
setupTelemetry(process.env);
