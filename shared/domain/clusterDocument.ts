import { Cron } from 'croner';
import { z } from 'zod';
import { ID_PATTERN, tableKeyProblem } from './tableKeys';
import { BOUNDS } from '../contracts/bounds';

/** Clock drift the safety margin must cover, as a rate: 1% (quartz drifts ~50 ppm; this also covers NTP slews). */
export const MAX_CLOCK_DRIFT_RATE = 0.01;

/**
 * The smallest drift margin that keeps rule 3 safe for a lease of `leaseMs`. Two clocks time the lease, each within
 * MAX_CLOCK_DRIFT_RATE (ρ) of true time: the agent's (its lease, from the send time) and the control plane's (the
 * recorded expiry, from the receive time, plus the margin). At worst the agent's runs slow, so its lease lasts
 * leaseMs / (1 − ρ) of real time, while the control plane's runs fast, so its wait lasts (leaseMs + margin) / (1 + ρ).
 * The wait must not end first: margin ≥ leaseMs × 2ρ / (1 − ρ), about 2% of the lease. 1% is not enough:
 * `npm run sim -- --seed 19 --broken single-clock-drift-margin` promotes a standby 4 ms before the old active's lease
 * ends.
 */
export function minDriftMarginMs(leaseMs: number): number {
  return Math.ceil((leaseMs * 2 * MAX_CLOCK_DRIFT_RATE) / (1 - MAX_CLOCK_DRIFT_RATE));
}

const id = z
  .string()
  .regex(
    ID_PATTERN,
    'must be 1-63 lowercase letters, digits or single dashes, starting and ending with a letter or digit',
  )
  .superRefine((value, ctx) => {
    const problem = tableKeyProblem(value);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });

const azureVmId =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Compute\/virtualMachines\/[^/]+$/i;
/** ocid1.instance.<realm>.<region>[.<future use>].<unique id> */
const ociInstanceId = /^ocid1\.instance\.[a-z0-9-]+\.[a-z0-9-]*(?:\.[a-z0-9-]*)?\.[a-z0-9]+$/;

export const siteSchema = z
  .object({
    cloud: z.enum(['azure', 'oci', 'on-prem']),
    region: z.string().min(1).max(64),
    zone: z.string().min(1).max(64).optional(),
  })
  .strict();

export const computeSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('azure-vm'),
      resourceId: z.string().regex(azureVmId, 'must be an Azure VM resource id'),
    })
    .strict(),
  z
    .object({
      kind: z.literal('oci-instance'),
      ocid: z.string().regex(ociInstanceId, 'must be an OCI instance OCID'),
    })
    .strict(),
  z.object({ kind: z.literal('none') }).strict(),
]);

export const nodeSchema = z
  .object({
    id,
    role: z.enum(['active', 'standby']),
    site: siteSchema,
    compute: computeSchema.default({ kind: 'none' }),
    /** Lower wins an arbitration tie. */
    priority: z.number().int().min(0).max(1000).default(100),
  })
  .strict();

export const detectionSchema = z
  .object({
    heartbeatIntervalMs: z.number().int().min(200).max(60_000).default(1000),
    missedHeartbeats: z.number().int().min(2).max(100).default(5),
    leaseMs: z.number().int().min(1000).max(300_000).default(4000),
    driftMarginMs: z.number().int().min(0).max(60_000).default(500),
  })
  .strict();

export const failoverSchema = z
  .object({
    mode: z.enum(['automatic', 'manual']).default('automatic'),
    cooldownMs: z.number().int().min(0).max(86_400_000).default(300_000),
    maxFailoversPerPeriod: z.number().int().min(1).max(100).default(3),
    periodMs: z
      .number()
      .int()
      .min(60_000)
      .max(7 * 86_400_000)
      .default(3_600_000),
    rtoObjectiveMs: z.number().int().min(1000).max(BOUNDS.durationMs).default(60_000),
    rpoObjectiveMs: z.number().int().min(0).max(BOUNDS.durationMs).default(0),
  })
  .strict();

export const witnessSchema = z
  .object({
    /** Name of the connection setting of the witness storage account (ideally in a third region). */
    connectionSetting: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .default('WitnessStorage'),
    container: z
      .string()
      .regex(
        /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/,
        'must be a blob container name: 3-63 lowercase letters, digits, single dashes',
      )
      .default('failover-witness'),
    leaseDurationSeconds: z.number().int().min(15).max(60).default(15),
    arbitrationWindowMs: z.number().int().min(100).max(30_000).default(2000),
  })
  .strict();

/** A 6-field NCRONTAB expression (seconds first, UTC), as the drill timer evaluates it. */
export function ncrontabProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6)
    return 'must be a 6-field NCRONTAB expression: {second} {minute} {hour} {day} {month} {day-of-week}';
  try {
    new Cron(expression.trim(), { paused: true, timezone: 'UTC', domAndDow: true });
    return undefined;
  } catch (error) {
    return `is not a valid NCRONTAB expression: ${(error as Error).message}`;
  }
}

export const drillSchema = z
  .object({
    schedule: z.string().superRefine((value, ctx) => {
      const problem = ncrontabProblem(value);
      if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
    }),
    mode: z.enum(['switchover-and-back', 'validate-only']).default('validate-only'),
  })
  .strict();

export const clusterDocumentSchema = z
  .object({
    id,
    kind: z.enum(['active-passive', 'two-node-witness', 'multi-region']),
    description: z.string().max(500).optional(),
    nodes: z.array(nodeSchema).min(2).max(500),
    witness: witnessSchema.default({}),
    detection: detectionSchema.default({}),
    failover: failoverSchema.default({}),
    drill: drillSchema.optional(),
  })
  .strict()
  .superRefine((doc, ctx) => {
    const seen = new Set<string>();
    doc.nodes.forEach((node, i) => {
      if (seen.has(node.id))
        ctx.addIssue({ code: 'custom', path: ['nodes', i, 'id'], message: `duplicate node id "${node.id}"` });
      seen.add(node.id);
    });
    const actives = doc.nodes.filter((n) => n.role === 'active').length;
    if (actives !== 1)
      ctx.addIssue({
        code: 'custom',
        path: ['nodes'],
        message: `exactly one node must have role "active" (found ${actives})`,
      });
    if (doc.kind === 'two-node-witness' && doc.nodes.length !== 2) {
      ctx.addIssue({
        code: 'custom',
        path: ['nodes'],
        message: 'a two-node-witness cluster has exactly 2 nodes',
      });
    }
    const d = doc.detection;
    if (d.leaseMs < 2 * d.heartbeatIntervalMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['detection', 'leaseMs'],
        message: 'must be at least twice heartbeatIntervalMs so a lease survives one lost heartbeat',
      });
    }
    const minMargin = minDriftMarginMs(d.leaseMs);
    if (d.driftMarginMs < minMargin) {
      ctx.addIssue({
        code: 'custom',
        path: ['detection', 'driftMarginMs'],
        message:
          `must cover ${MAX_CLOCK_DRIFT_RATE * 100}% clock drift of both the agent and the control plane over the ` +
          `lease: at least ${minMargin}`,
      });
    }
  });

export type ClusterDocument = z.infer<typeof clusterDocumentSchema>;
export type ClusterNode = ClusterDocument['nodes'][number];
export type DetectionPolicy = ClusterDocument['detection'];

export interface DocumentProblem {
  path: string;
  message: string;
}

export type ParseResult = { ok: true; value: ClusterDocument } | { ok: false; problems: DocumentProblem[] };

/** Validates a cluster document, listing every problem with its path (`nodes[1].site.region`). */
export function parseClusterDocument(input: unknown): ParseResult {
  const result = clusterDocumentSchema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => ({
      path:
        issue.path.reduce<string>(
          (acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part),
          '',
        ) || '(document)',
      message: issue.message,
    })),
  };
}
