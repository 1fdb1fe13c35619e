import type {
  ApiResult,
  ArbitrateBody,
  CommandAckBody,
  ControlPlaneApi,
  HeartbeatBody,
} from '../../../agent/client';
import type { CheckRound, CheckRunner } from '../../../agent/checks';
import type { HookContext, HookRunner, OperationResult, StepResult } from '../../../agent/hooks';
import { Logger } from '../../../agent/log';
import type { Outcome } from '../../../agent/state';
import {
  arbitrateBodySchema,
  commandAckBodySchema,
  heartbeatBodySchema,
  type HeartbeatReply,
} from '../../../shared/contracts/agentApi';
import type { ManualClock } from './manualClock';

/**
 * What the control plane answers a body its contract schema refuses (422): every body the agent sends goes through
 * JSON and the schema first, so an agent drifting from the contract fails these tests as it would fail in production.
 */
function contractRefusal(
  schema: typeof heartbeatBodySchema | typeof arbitrateBodySchema | typeof commandAckBodySchema,
  body: unknown,
): Answer | undefined {
  const parsed = schema.safeParse(JSON.parse(JSON.stringify(body)));
  if (parsed.success) return undefined;
  const problems = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  return {
    status: 422,
    json: { error: { code: 'InvalidBody', message: 'refused by the contract', problems } },
  };
}

/** The heartbeat answer, as the contract defines it. */
export type Reply = HeartbeatReply;

export const reply = (overrides: Partial<Reply> = {}): Reply => ({
  role: 'standby',
  epoch: 1,
  lease: null,
  commands: [],
  heartbeatIntervalMs: 1000,
  ...overrides,
});

export const grant = (epoch: number, durationMs = 4000, commands: Reply['commands'] = []): Reply =>
  reply({ role: 'active', epoch, lease: { durationMs }, commands });

export const promote = (epoch: number) => ({ id: `promote-${epoch}`, type: 'promote', epoch });
export const demote = (epoch: number) => ({ id: `demote-${epoch}`, type: 'demote', epoch });

type Answer = { status: number; json: unknown; retryAfterMs?: number } | { fail: string };

/**
 * A scripted control plane. Each request takes the next queued answer (or the default one). `sentAt` is the clock's
 * time when the request is sent; `latencyMs` moves the clock on before the answer arrives, like a slow network.
 */
export class FakeControlPlane implements ControlPlaneApi {
  readonly heartbeats: HeartbeatBody[] = [];
  readonly arbitrations: ArbitrateBody[] = [];
  readonly statusPolls: string[] = [];
  /** Every acknowledgement sent, in order (re-sends included). */
  readonly acks: CommandAckBody[] = [];
  /** Answers to acknowledgements; the default is 200 `{ recorded: true, delivered: true }`. */
  readonly ackAnswers: Answer[] = [];
  readonly queue: Answer[] = [];
  readonly arbitrationAnswers: Answer[] = [];
  latencyMs = 0;
  defaultAnswer: Answer = { status: 200, json: reply() };
  #seq = 0;

  constructor(private readonly clock: ManualClock) {}

  answer(...answers: (Reply | Answer)[]): this {
    for (const a of answers) this.queue.push('role' in a ? { status: 200, json: a } : a);
    return this;
  }

  heartbeat(body: HeartbeatBody): Promise<ApiResult> {
    this.heartbeats.push(structuredClone(body));
    const scripted = this.queue.shift() ?? this.defaultAnswer;
    return Promise.resolve(this.#respond(contractRefusal(heartbeatBodySchema, body) ?? scripted));
  }

  arbitrate(body: ArbitrateBody): Promise<ApiResult> {
    this.arbitrations.push(structuredClone(body));
    const scripted = this.arbitrationAnswers.shift() ?? { fail: 'no answer scripted' };
    return Promise.resolve(this.#respond(contractRefusal(arbitrateBodySchema, body) ?? scripted));
  }

  ack(body: CommandAckBody): Promise<ApiResult> {
    this.acks.push(structuredClone(body));
    const scripted = this.ackAnswers.shift() ?? { status: 200, json: { recorded: true, delivered: true } };
    return Promise.resolve(this.#respond(contractRefusal(commandAckBodySchema, body) ?? scripted));
  }

  arbitrationStatus(statusUrl: string): Promise<ApiResult> {
    this.statusPolls.push(statusUrl);
    return Promise.resolve(this.#respond(this.arbitrationAnswers.shift() ?? { fail: 'no answer scripted' }));
  }

  #respond(answer: Answer): ApiResult {
    const sentAt = this.clock.now();
    const seq = ++this.#seq;
    if (this.latencyMs) this.clock.advance(this.latencyMs);
    if ('fail' in answer) return { ok: false, kind: 'network', message: answer.fail };
    return { ok: true, seq, sentAt, answer: answer };
  }
}

interface PendingRun {
  context: HookContext;
  signal: AbortSignal | undefined;
  finish: (status?: Outcome) => void;
}

/**
 * Records hook operations. By default each finishes at once with `ok`; with `hold` set for an operation, runs of it
 * wait until the test calls `finish` (or the run is aborted).
 */
export class FakeHooks implements HookRunner {
  readonly runs: HookContext[] = [];
  readonly pending: PendingRun[] = [];
  readonly hold = new Set<string>();
  readonly outcome = new Map<string, Outcome>();
  /** The steps an operation reports (none by default). */
  readonly steps = new Map<string, StepResult[]>();

  run(context: HookContext, signal?: AbortSignal): Promise<OperationResult> {
    this.runs.push(context);
    const result = (status: Outcome): OperationResult => ({
      operation: context.operation,
      operationId: context.operationId,
      epoch: context.epoch,
      reason: context.reason,
      status,
      detail: `${context.operationId}: ${status}`,
      startedAt: '2026-11-22T12:00:00.000Z',
      finishedAt: '2026-11-22T12:00:00.000Z',
      steps: structuredClone(this.steps.get(context.operation) ?? []),
    });
    if (!this.hold.has(context.operation))
      return Promise.resolve(result(this.outcome.get(context.operation) ?? 'ok'));
    return new Promise((resolve) => {
      const run: PendingRun = {
        context,
        signal,
        finish: (status = 'ok') => {
          this.pending.splice(this.pending.indexOf(run), 1);
          resolve(result(status));
        },
      };
      this.pending.push(run);
      signal?.addEventListener('abort', () => run.finish('fail'), { once: true });
    });
  }

  get operations(): string[] {
    return this.runs.map((r) => `${r.operation}:${r.operationId}`);
  }
}

export class FakeChecks implements CheckRunner {
  round: CheckRound = { checks: [] };
  run(): Promise<CheckRound> {
    return Promise.resolve(structuredClone(this.round));
  }
}

/** A logger that keeps its records for assertions. */
export function memoryLogger(level: 'debug' | 'info' = 'debug'): {
  log: Logger;
  records: Record<string, unknown>[];
} {
  const records: Record<string, unknown>[] = [];
  return {
    log: new Logger(level, {}, (line) => records.push(JSON.parse(line) as Record<string, unknown>)),
    records,
  };
}
