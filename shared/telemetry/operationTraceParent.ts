import { createHash } from 'node:crypto';
import { TraceFlags, type SpanContext } from '@opentelemetry/api';

/**
 * The remote parent an operation's trace hangs from: its trace id (16 bytes) and parent span id (8 bytes) are the
 * SHA-256 of the cluster and operation ids, so every emission of one operation — a retried activity emits again —
 * lands in the same trace. The parent itself is never exported: the root span (`operation <kind>`) names it as its
 * parent, which a trace viewer shows as a root whose parent is not in the data.
 */
export function operationTraceParent(clusterId: string, operationId: string): SpanContext {
  const digest = createHash('sha256').update(`failover-plane/operation/${clusterId}/${operationId}`).digest();
  // An all-zero id is invalid; a SHA-256 prefix of zeros is as likely as a collision, but cost nothing to rule out.
  const traceId = digest
    .subarray(0, 16)
    .toString('hex')
    .replace(/^0{32}$/, '1'.padStart(32, '0'));
  const spanId = digest
    .subarray(16, 24)
    .toString('hex')
    .replace(/^0{16}$/, '1'.padStart(16, '0'));
  return { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true };
}
