import { z } from 'zod';
import { idSchema } from './ids';

/**
 * The operator's requests that start a cluster operation, and their answers: `POST /api/v1/clusters/{clusterId}/
 * makeactive` (a planned switchover, shown as a plan until confirmed) and `POST …/failover` (an unplanned failover).
 * Request bodies are strict (an unknown field is refused); answers are read leniently.
 */

/** The largest request body of these endpoints, in bytes. */
export const OPERATION_REQUEST_MAX_BYTES = 16 * 1024;

const reasonSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(500, 'must be at most 500 characters')
  .refine((s) => s.trim().length > 0, 'must not be blank');

export const makeActiveRequestSchema = z
  .object({
    /** The node to make active. */
    nodeId: idSchema,
    /** Without it the answer is the plan and nothing changes. */
    confirm: z.boolean().optional(),
    /** Run despite failed health, heartbeat and RPO preconditions. */
    force: z.boolean().optional(),
    reason: reasonSchema.optional(),
  })
  .strict();

export const failoverRequestSchema = z
  .object({
    /** Required: it goes to the operation and the audit log. */
    reason: reasonSchema,
    /** A node to prefer; without it the healthiest standby is chosen. */
    targetNodeId: idSchema.optional(),
    /** Override the anti-flapping policy. */
    force: z.boolean().optional(),
  })
  .strict();

/** DELETE /api/v1/clusters/{clusterId} (an empty body is `{}`; `?confirm=true` / `?force=true` work too). */
export const deleteClusterRequestSchema = z
  .object({
    /** Without it the answer is the plan and nothing changes. */
    confirm: z.boolean().optional(),
    /** Delete although nodes heartbeat within the detection window (never while an operation runs). */
    force: z.boolean().optional(),
  })
  .strict();
export type DeleteClusterRequest = z.infer<typeof deleteClusterRequestSchema>;

/** POST /api/v1/clusters/{clusterId}/drills */
export const drillRequestSchema = z
  .object({
    /** Default: the cluster document's `drill.mode`, else validate. */
    mode: z.enum(['validate', 'switchover', 'failover']).optional(),
    /** The node a switchover or failover drill moves the active role to (default: the best standby). */
    targetNodeId: idSchema.optional(),
    /** Required (true) for a failover drill: it silences the active for real. */
    confirm: z.boolean().optional(),
  })
  .strict();
export type DrillRequestBody = z.infer<typeof drillRequestSchema>;

/** The bound of a pool's desired node count (as the cluster document's `pools[].desired`). */
export const MAX_POOL_DEMAND = 10_000;

/** PUT /api/v1/clusters/{clusterId}/pools/{poolId}/demand */
export const poolDemandRequestSchema = z
  .object({
    desired: z.number().int().min(0).max(MAX_POOL_DEMAND, `must be at most ${MAX_POOL_DEMAND}`).optional(),
    /** Relative (Slurm's ResumeProgram / SuspendProgram): applied atomically, the result kept within 0–10,000. */
    change: z
      .number()
      .int()
      .min(-MAX_POOL_DEMAND)
      .max(MAX_POOL_DEMAND)
      .refine((n) => n !== 0, 'must not be 0')
      .optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if ((body.desired === undefined) === (body.change === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [body.change === undefined ? 'desired' : 'change'],
        message: 'send exactly one of desired (0–10000) and change (±n)',
      });
  })
  .transform((body): { desired: number } | { change: number } =>
    body.change !== undefined ? { change: body.change } : { desired: body.desired ?? 0 },
  );

/** POST /api/v1/clusters/{clusterId}/pools/{poolId}/plan (a dry run): the pool's demand, or this one. */
export const poolPlanRequestSchema = z
  .object({
    desired: z.number().int().min(0).max(MAX_POOL_DEMAND, `must be at most ${MAX_POOL_DEMAND}`).optional(),
  })
  .strict();

/** PUT /api/v1/clusters/{clusterId}/pools/{poolId}/nodes/{nodeId}/idle: whether the node runs nothing now. */
export const poolNodeIdleRequestSchema = z.object({ idle: z.boolean() }).strict();

/** POST /api/v1/clusters/{clusterId}/pools/{poolId}/spillover: run the spillover now (demand unchanged). */
export const poolSpilloverRequestSchema = z
  .object({ reason: z.string().min(1).max(200).optional() })
  .strict();

export type MakeActiveRequest = z.infer<typeof makeActiveRequestSchema>;
export type FailoverRequest = z.infer<typeof failoverRequestSchema>;

export const preconditionSchema = z.object({
  name: z.string(),
  ok: z.boolean(),
  value: z.unknown(),
  limit: z.number().optional(),
  detail: z.string(),
});

/** The make-active confirmation screen (`makeActivePlan.ts`), as `POST …/makeactive` without `confirm` answers it. */
export const makeActivePlanSchema = z.object({
  clusterId: z.string(),
  epoch: z.number(),
  currentActive: z.string().nullable(),
  target: z.string(),
  becomesActive: z.string(),
  becomesPassive: z.array(z.string()),
  preconditions: z.array(preconditionSchema),
  hooks: z.array(z.object({ node: z.string(), command: z.string(), runs: z.string() })),
  blockers: z.array(z.string()),
  canRun: z.boolean(),
});

export const makeActivePlanAnswerSchema = z.object({ plan: makeActivePlanSchema });

/** 202: the operation started (or, `started: false`, the one already running for the cluster). */
export const operationStartedSchema = z.object({
  operationId: z.string(),
  started: z.boolean(),
  statusUrl: z.string(),
});

export type OperationStartedBody = z.infer<typeof operationStartedSchema>;
