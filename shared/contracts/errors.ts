import { z } from 'zod';
import { BOUNDS } from './bounds';

/** One problem of an invalid body: where (`nodes.1.id`, `(body)`) and what. */
export const problemSchema = z.object({ path: z.string(), message: z.string() }).passthrough();
export type Problem = z.infer<typeof problemSchema>;

/** The error code of a 409 answering a replayed or old request sequence number. */
export const REPLAYED_SEQUENCE = 'ReplayedSequence';

/**
 * Every error the API answers: `{ "error": { "code", "message", ...details } }`. `code` is stable (clients branch
 * on it), `message` is for people (clients must not parse it). Known details are typed here; others pass through,
 * so readers stay lenient when the control plane adds one.
 */
export const errorBodySchema = z.object({
  error: z
    .object({
      code: z.string().min(1).max(100),
      message: z.string(),
      /** `ReplayedSequence` (409): the node's last accepted sequence number; the agent goes on above it. */
      lastAcceptedSeq: z.number().int().min(0).max(BOUNDS.seq).optional(),
      /** 400/422: every problem of the body. */
      problems: z.array(problemSchema).optional(),
    })
    .passthrough(),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** Builds an error body. */
export const errorBody = (
  code: string,
  message: string,
  details: Record<string, unknown> = {},
): ErrorBody => ({ error: { ...details, code, message } });

/** Reads an error body leniently: undefined if `json` is not one. */
export function readErrorBody(json: unknown): ErrorBody['error'] | undefined {
  const parsed = errorBodySchema.safeParse(json);
  return parsed.success ? parsed.data.error : undefined;
}
