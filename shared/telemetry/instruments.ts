import { metrics, type Counter, type Histogram, type MeterProvider } from '@opentelemetry/api';
import { version } from '../version';
import { Metrics, TELEMETRY_SCOPE } from './telemetryNames';

export interface Instruments {
  heartbeatsAccepted: Counter;
  heartbeatsRejected: Counter;
  detections: Counter;
  operations: Counter;
  failovers: Counter;
  rto: Histogram;
}

let cached: { provider: MeterProvider; instruments: Instruments } | undefined;

/**
 * The control plane's metric instruments on the meter `failover-plane` of the global meter provider. The metrics API
 * has no proxy provider (an instrument made before a provider is registered stays a no-op), so they are made on
 * first use and again whenever the global provider changed: one comparison on the heartbeat path.
 */
export function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (cached?.provider === provider) return cached.instruments;
  const meter = provider.getMeter(TELEMETRY_SCOPE, version);
  const made: Instruments = {
    heartbeatsAccepted: meter.createCounter(Metrics.heartbeatsAccepted, {
      description: 'Heartbeats the heartbeat service accepted',
    }),
    heartbeatsRejected: meter.createCounter(Metrics.heartbeatsRejected, {
      description: 'Heartbeats refused, by reason (the refusal code)',
    }),
    detections: meter.createCounter(Metrics.detections, {
      description: 'Failures detected (one per silence of an active)',
    }),
    operations: meter.createCounter(Metrics.operations, {
      description: 'Operations ended, by kind and outcome',
    }),
    failovers: meter.createCounter(Metrics.failovers, { description: 'Failovers ended, by outcome' }),
    rto: meter.createHistogram(Metrics.rto, {
      description: 'Measured recovery time of a failover or make-active (trigger to new active verified)',
      unit: 'ms',
    }),
  };
  cached = { provider, instruments: made };
  return made;
}
