import { z } from 'zod';
import { BOUNDS } from './bounds';
import { idSchema } from './ids';

/**
 * The agent API (`/api/v1/agent/*`). Request bodies are strict: the control plane refuses unknown fields (422), so
 * a typo is an error rather than a silently ignored field. Answers are read leniently: unknown fields are dropped,
 * so the control plane can add fields without breaking agents already deployed. Every number is bounded
 * (`bounds.ts`).
 */

export const roleSchema = z.enum(['active', 'standby']);
export type Role = z.infer<typeof roleSchema>;

/** An epoch: 0 before the first grant, then raised by every role change. */
export const epochSchema = z.number().int().min(0).max(BOUNDS.epoch);

/** A request sequence number as the control plane reports it (0: none accepted yet). */
export const seqSchema = z.number().int().min(0).max(BOUNDS.seq);

/** One health check's result, as heartbeats and arbitration requests carry it. */
export const checkReportSchema = z
  .object({
    name: z.string().min(1).max(BOUNDS.checkName),
    status: z.enum(['ok', 'warn', 'fail']),
    detail: z.string().max(BOUNDS.checkDetail).optional(),
  })
  .strict();
export type CheckReport = z.infer<typeof checkReportSchema>;

/** One GPU as `nvidia-smi` reported it; fields it could not read are left out. */
export const gpuReportSchema = z
  .object({
    index: z.number().int().min(0).max(BOUNDS.gpuIndex),
    utilizationPercent: z.number().min(0).max(100).optional(),
    memoryUsedMiB: z.number().min(0).max(BOUNDS.gpuMemoryMiB).optional(),
    memoryTotalMiB: z.number().min(0).max(BOUNDS.gpuMemoryMiB).optional(),
    eccErrors: z.number().int().min(0).max(BOUNDS.count).optional(),
    xidErrors: z.number().int().min(0).max(BOUNDS.count).optional(),
  })
  .strict();
export type GpuReport = z.infer<typeof gpuReportSchema>;

/** A peer listener's URL as agents advertise it: `http(s)://host:port`, no path beyond `/`. */
export const peerUrlSchema = z
  .string()
  .max(300)
  .regex(/^https?:\/\/[A-Za-z0-9._\-:[\]]+(\/)?$/, 'must be http(s)://host:port');

/** The peer part of a heartbeat. */
export const peerHeartbeatSchema = z
  .object({
    /** Where this node's peer listener is reached by the other nodes of the cluster. */
    url: peerUrlSchema.optional(),
    /** The promise binding this node now (it accepts no promotion until it lapses). */
    promise: z
      .object({
        to: idSchema,
        epoch: epochSchema,
        /** What is left of it, on this node's clock, when the heartbeat is sent. */
        remainingMs: z.number().int().min(0).max(BOUNDS.durationMs),
      })
      .strict()
      .optional(),
    /** The highest epoch the control plane said was revoked: this node promises nothing under it or below. */
    closedEpoch: epochSchema.optional(),
  })
  .strict();
export type PeerHeartbeat = z.infer<typeof peerHeartbeatSchema>;

/** POST /api/v1/agent/heartbeat */
export const heartbeatBodySchema = z
  .object({
    role: roleSchema,
    epoch: epochSchema,
    checks: z.array(checkReportSchema).max(BOUNDS.checks).default([]),
    replicationLagMs: z.number().int().min(0).max(BOUNDS.durationMs).optional(),
    /** The node demoted itself under this epoch and will accept no grant under it (or any older one). */
    demotedAtEpoch: epochSchema.min(1).optional(),
    gpu: z.array(gpuReportSchema).max(BOUNDS.gpus).optional(),
    /** The hooks the agent has configured (`promote`, `demote`, `fence`, `fence-peer`, ...): what a drill checks. */
    hooks: z.array(z.string().min(1).max(64)).max(32).optional(),
    /** Peer promises (shared/domain/peerPromises.ts): what this node offers and holds. */
    peer: peerHeartbeatSchema.optional(),
  })
  .strict();
export type HeartbeatBody = z.infer<typeof heartbeatBodySchema>;

/**
 * The command types of the contract. An agent ignores (and logs) a type it does not know, so the control plane can
 * send a new type without making older agents refuse the whole heartbeat answer.
 */
export const AGENT_COMMAND_TYPES = ['promote', 'demote', 'fence', 'fence-peer', 'drill-silence'] as const;
export const agentCommandTypeSchema = z.enum(AGENT_COMMAND_TYPES);
export type AgentCommandType = z.infer<typeof agentCommandTypeSchema>;

export const agentCommandSchema = z.object({
  /** Unique per command: agents run each id at most once, and acknowledge it under this id. */
  id: z.string().min(1).max(200),
  /** One of `AGENT_COMMAND_TYPES`; a string so that a new type does not make older agents refuse the whole answer. */
  type: z.string().min(1).max(64),
  epoch: epochSchema,
  /**
   * The cluster and node the command is for. Always sent by this control plane; optional when read, for answers of
   * an older one. An agent ignores a command addressed to another cluster or node.
   */
  clusterId: idSchema.optional(),
  nodeId: idSchema.optional(),
  /** For `fence-peer`: the node to fence. */
  targetNodeId: idSchema.optional(),
  /**
   * For `drill-silence` (a failover drill): acknowledge, then send no heartbeat for this long (the lease lapses and
   * the agent self-fences as it would in a real failure), then heartbeat again and take the role it is given.
   */
  silenceMs: z.number().int().positive().max(BOUNDS.durationMs).optional(),
});
export type AgentCommand = z.infer<typeof agentCommandSchema>;

/** The heartbeat answer (200). */
export const heartbeatReplySchema = z.object({
  role: roleSchema,
  epoch: epochSchema,
  /** Only for the active: how long it may act, timed by the agent from when it sent this heartbeat. */
  lease: z.object({ durationMs: z.number().int().positive().max(BOUNDS.durationMs) }).nullable(),
  commands: z.array(agentCommandSchema).max(100).default([]),
  heartbeatIntervalMs: z.number().int().min(50).max(600_000),
  /** The answer's epoch is revoked: a standby promises nothing under it any more (peer promises). */
  revoked: z.boolean().optional(),
  /**
   * With `revoked`: the revoked epoch's active is confirmed fenced (cloud power state stopped, its demotion or a
   * fence-peer acknowledged). A standby may release its promises under that epoch (or older) at once.
   */
  fenced: z.boolean().optional(),
  /**
   * With a lease, when the cluster uses peer leases: the epoch's promotable set (fixed per epoch) and where each
   * node's peer listener is. The active holds a peer lease only with a promise from every node listed.
   */
  peers: z
    .object({
      epoch: epochSchema,
      nodes: z.array(z.object({ nodeId: idSchema, url: peerUrlSchema.nullable() })).max(64),
    })
    .optional(),
});
export type HeartbeatReply = z.infer<typeof heartbeatReplySchema>;

/** POST /api/v1/agent/arbitrate */
export const arbitrateBodySchema = z
  .object({
    /** The epoch the node last saw: arbitration is about the partition under this epoch. */
    epoch: epochSchema.min(1),
    checks: z.array(checkReportSchema).max(BOUNDS.checks).default([]),
  })
  .strict();
export type ArbitrateBody = z.infer<typeof arbitrateBodySchema>;

/**
 * The arbitration answer: 200 with the decision (`fence` tells a loser to fence itself), or 202
 * `{decision: 'pending', statusUrl}` to poll with a signed GET.
 */
export const arbitrationAnswerSchema = z.object({
  /** `refused`: the cluster's failover policy (manual mode, anti-flapping) kept the active; nothing changed. */
  decision: z.enum(['won', 'lost', 'superseded', 'pending', 'refused']),
  epoch: epochSchema.optional(),
  role: roleSchema.optional(),
  fence: z.boolean().optional(),
  /** The winner, or the active node when superseded (null while the cluster has none). */
  winner: idSchema.nullable().optional(),
  statusUrl: z.string().max(2048).optional(),
  /** Why, for `refused`. */
  reason: z.string().max(1000).optional(),
});
export type ArbitrationAnswer = z.infer<typeof arbitrationAnswerSchema>;

/** The outcome of a command as the agent acknowledges it. */
export const commandOutcomeSchema = z.enum(['ok', 'warn', 'failed']);
export type CommandOutcome = z.infer<typeof commandOutcomeSchema>;

/** One hook step of an acknowledged command. */
export const commandAckStepSchema = z
  .object({
    name: z.string().min(1).max(BOUNDS.stepName),
    /** null when the step did not exit by itself (timed out, killed by a signal, could not start). */
    exitCode: z.number().int().min(-BOUNDS.exitCode).max(BOUNDS.exitCode).nullable(),
    durationMs: z.number().int().min(0).max(BOUNDS.durationMs),
    /** The end of the step's output (stdout, then stderr), at most `BOUNDS.outputTail` characters. */
    outputTail: z.string().max(BOUNDS.outputTail),
  })
  .strict();
export type CommandAckStep = z.infer<typeof commandAckStepSchema>;

const isoTimeSchema = z.string().max(40).datetime({ offset: true });

/**
 * POST /api/v1/agent/ack: the agent's acknowledgement of a command it ran (or refused), sent as soon as its hooks
 * finished and re-sent until the control plane answers. The cluster and node are the signed request's.
 */
export const commandAckBodySchema = z
  .object({
    commandId: z.string().min(1).max(200),
    type: agentCommandTypeSchema,
    epoch: epochSchema,
    outcome: commandOutcomeSchema,
    startedAt: isoTimeSchema.optional(),
    finishedAt: isoTimeSchema.optional(),
    steps: z.array(commandAckStepSchema).max(BOUNDS.ackSteps),
    message: z.string().max(BOUNDS.ackMessage).optional(),
  })
  .strict();
export type CommandAckBody = z.infer<typeof commandAckBodySchema>;

/** The answer to an acknowledgement (200): recorded (or a duplicate of one recorded), and whether an operation got it. */
export const commandAckAnswerSchema = z.object({
  recorded: z.boolean(),
  duplicate: z.boolean().optional(),
  delivered: z.boolean().optional(),
});
export type CommandAckAnswer = z.infer<typeof commandAckAnswerSchema>;

/**
 * The external event `ack` raised to the cluster's operation (`cluster-<id>`) for every acknowledgement recorded
 * while it runs. `receivedAt` is the control plane's time (ISO 8601). Whether it counts for what the operation
 * waits on is `ackCounts` (shared/domain/commandAcks.ts).
 */
export interface CommandAckEvent {
  clusterId: string;
  nodeId: string;
  commandId: string;
  type: AgentCommandType;
  epoch: number;
  outcome: CommandOutcome;
  steps: CommandAckStep[];
  receivedAt: string;
}
