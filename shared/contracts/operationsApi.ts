import { z } from 'zod';

/**
 * The operations history and the audit log on the wire: `GET /api/v1/clusters/{clusterId}/operations` (newest first,
 * paged), `GET …/operations/{operationId}` and `GET …/audit`. Read by the CLI and the portal.
 */

/** `?limit=&continuation=` of a paged list: 1–100 items (default 20), the opaque token of the previous page. */
export const pageQuerySchema = z
  .object({
    limit: z
      .string()
      .regex(/^[0-9]{1,3}$/, 'must be a whole number from 1 to 100')
      .transform(Number)
      .pipe(z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100'))
      .optional(),
    continuation: z.string().min(1).max(1024).optional(),
  })
  .strict();

export type PageQuery = z.infer<typeof pageQuerySchema>;

export const operationStepSchema = z.object({
  id: z.string(),
  name: z.string(),
  startedAt: z.number(),
  endedAt: z.number().optional(),
  outcome: z.enum(['running', 'ok', 'warn', 'failed', 'skipped']),
  detail: z.record(z.unknown()).optional(),
});

export const operationSchema = z.object({
  clusterId: z.string(),
  operationId: z.string(),
  kind: z.string(),
  status: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
  epoch: z.number(),
  evidence: z.record(z.unknown()),
  trigger: z.object({ kind: z.string(), reference: z.string().optional() }).optional(),
  actor: z.string().optional(),
  targetNodeId: z.string().nullable().optional(),
  toEpoch: z.number().optional(),
  steps: z.array(operationStepSchema).optional(),
  rtoMs: z.number().optional(),
  reason: z.string().optional(),
  endedAt: z.number().optional(),
});

export const operationPageSchema = z.object({
  operations: z.array(operationSchema),
  continuation: z.string().optional(),
});

export const auditEntrySchema = z.object({
  clusterId: z.string(),
  at: z.number(),
  actor: z.string(),
  action: z.string(),
  detail: z.record(z.unknown()),
});

export const auditPageSchema = z.object({
  entries: z.array(auditEntrySchema),
  continuation: z.string().optional(),
});

export type OperationPageBody = z.infer<typeof operationPageSchema>;
export type AuditPageBody = z.infer<typeof auditPageSchema>;
