import { z } from 'zod';
import { epochSchema } from './agentApi';
import { idSchema } from './ids';

/**
 * The peer API: agent to agent, over the network the cluster's nodes share (ARCHITECTURE.md "Peer promises").
 * Requests are signed with the v1 agent scheme (`shared/auth/signedRequest.ts`) under the cluster's peer key
 * (`derivePeerKey`, issued with each node key at enrollment) at key version `PEER_KEY_VERSION`: the sender's node id in
 * `x-fp-node`, a sequence strictly increasing per sender. Bodies are strict (unknown fields refused).
 */
export const PEER_ROUTES = {
  /** POST: ask for a promise. */
  promise: '/peer/v1/promise',
  /** GET: the listener answers (no signature; reveals only the cluster and node ids). */
  health: '/peer/v1/health',
} as const;

/** The key version peer requests are signed under (the peer key has one version per cluster). */
export const PEER_KEY_VERSION = 1;

/** POST /peer/v1/promise */
export const promiseRequestSchema = z
  .object({
    clusterId: idSchema,
    /** The node asked (the listener refuses a request meant for another node). */
    to: idSchema,
    /** The epoch the sender holds the active role under. */
    epoch: epochSchema.min(1),
    /** How long the promise should last: the sender's control-plane lease duration. */
    durationMs: z
      .number()
      .int()
      .min(1)
      .max(2 ** 31 - 1),
  })
  .strict();
export type PromiseRequestBody = z.infer<typeof promiseRequestSchema>;

/** 200: granted (persisted before this answer). 409: refused, with a stable code. */
export const promiseAnswerSchema = z.union([
  z.object({ granted: z.literal(true), epoch: epochSchema, durationMs: z.number().int().positive() }),
  z.object({
    granted: z.literal(false),
    code: z.string().max(64),
    reason: z.string().max(500),
  }),
]);
export type PromiseAnswer = z.infer<typeof promiseAnswerSchema>;
