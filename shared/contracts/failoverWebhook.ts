import { z } from 'zod';
import { idSchema } from './ids';

/**
 * `POST /api/v1/webhooks/failover`: a generic failover request signed per the Standard Webhooks specification
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature`; see shared/auth/standardWebhooks.ts). The body is strict
 * (an unknown field is refused); the answer is read leniently.
 */

/** The largest body accepted, in bytes (413 beyond). */
export const FAILOVER_WEBHOOK_MAX_BYTES = 16 * 1024;

/** The longest `reason`, in characters. */
export const FAILOVER_WEBHOOK_REASON_MAX_CHARS = 500;

export const failoverWebhookBodySchema = z
  .object({
    /** The cluster to fail over. */
    clusterId: idSchema,
    /** Why: it goes to the operation and the audit log. */
    reason: z
      .string()
      .min(1, 'must not be empty')
      .max(
        FAILOVER_WEBHOOK_REASON_MAX_CHARS,
        `must be at most ${FAILOVER_WEBHOOK_REASON_MAX_CHARS} characters`,
      )
      .refine((s) => s.trim().length > 0, 'must not be blank'),
    /** A node of the cluster to prefer; without it the healthiest standby is chosen. */
    targetNodeId: idSchema.optional(),
  })
  .strict();

export type FailoverWebhookBody = z.infer<typeof failoverWebhookBodySchema>;

/**
 * 202: the failover operation of the cluster started (`started: true`) or was joined (`started: false`: one was
 * running); 200 with `duplicate: true`: this `webhook-id` was delivered before, and this is its operation.
 */
export const failoverWebhookAnswerSchema = z.object({
  operationId: z.string(),
  clusterId: z.string(),
  statusUrl: z.string(),
  started: z.boolean(),
  duplicate: z.boolean(),
});

export type FailoverWebhookAnswer = z.infer<typeof failoverWebhookAnswerSchema>;
