import {
  commandAckAnswerSchema,
  type CommandAckBody,
  type CommandAckStep,
  type CommandOutcome,
} from '../shared/contracts/agentApi';
import { BOUNDS } from '../shared/contracts/bounds';
import { readErrorBody } from '../shared/contracts/errors';
import type { ApiResult, ControlPlaneApi } from './client';
import type { Clock, TimerHandle } from './clock';
import type { OperationResult, StepResult } from './hooks';
import type { Logger } from './log';
import type { CommandRecord, StateKeeper } from './state';

/** The command outcome of a command record's status: anything but ok and warn failed. */
export function commandOutcome(status: CommandRecord['status']): CommandOutcome {
  return status === 'ok' || status === 'warn' ? status : 'failed';
}

/** The end of a step's output (stdout, then stderr), bounded for the contract. */
export function outputTail(step: Pick<StepResult, 'stdout' | 'stderr'>): string {
  const text = [step.stdout, step.stderr]
    .filter((t) => t !== '')
    .join(step.stdout.endsWith('\n') ? '' : '\n');
  return text.length > BOUNDS.outputTail ? text.slice(text.length - BOUNDS.outputTail) : text;
}

const clamp = (n: number, max: number) => Math.min(max, Math.max(0, Math.round(n)));

/** A hook step as the acknowledgement carries it. */
export function ackStep(step: StepResult): CommandAckStep {
  return {
    name: step.name.slice(0, BOUNDS.stepName),
    exitCode:
      step.exitCode !== null &&
      Number.isSafeInteger(step.exitCode) &&
      Math.abs(step.exitCode) <= BOUNDS.exitCode
        ? step.exitCode
        : null,
    durationMs: clamp(step.durationMs, BOUNDS.durationMs),
    outputTail: outputTail(step),
  };
}

/**
 * The largest acknowledgement body the agent sends, in bytes: below the control plane's default limit on agent
 * requests (`AGENT_MAX_BODY_BYTES`, 64 KiB), which 32 steps of 2,000 characters of (escaped, multi-byte) output
 * could exceed. Output tails are shortened, longest first, to fit.
 */
export const MAX_ACK_BYTES = 48 * 1024;

/** Shortens the output tails (keeping their ends) until the body fits in `maxBytes`. */
export function fitAck(body: CommandAckBody, maxBytes = MAX_ACK_BYTES): CommandAckBody {
  const steps = body.steps.map((s) => ({ ...s }));
  const size = () => Buffer.byteLength(JSON.stringify({ ...body, steps }), 'utf8');
  while (size() > maxBytes) {
    const longest = steps.reduce<CommandAckStep | undefined>(
      (max, s) => (s.outputTail.length > (max?.outputTail.length ?? 0) ? s : max),
      undefined,
    );
    if (!longest) break;
    const keep = Math.floor(longest.outputTail.length / 2);
    longest.outputTail = keep > 0 ? longest.outputTail.slice(longest.outputTail.length - keep) : '';
  }
  return { ...body, steps };
}

/** The acknowledgement of a finished command, from its record and the hook operations it ran (in order). */
export function commandAck(
  command: Pick<CommandRecord, 'id' | 'type' | 'epoch'>,
  status: CommandRecord['status'],
  detail: string,
  results: readonly OperationResult[],
  wallNow: number,
): CommandAckBody {
  const steps = results.flatMap((r) => r.steps).map(ackStep);
  const now = new Date(wallNow).toISOString();
  return fitAck({
    commandId: command.id,
    type: command.type,
    epoch: command.epoch,
    outcome: commandOutcome(status),
    startedAt: results[0]?.startedAt ?? now,
    finishedAt: results[results.length - 1]?.finishedAt ?? now,
    steps: steps.length > BOUNDS.ackSteps ? steps.slice(0, BOUNDS.ackSteps) : steps,
    ...(detail ? { message: detail.slice(0, BOUNDS.ackMessage) } : {}),
  });
}

/**
 * Whether an answer says the acknowledgement will never count, so re-sending it is pointless: the body is refused
 * (400, 413, 422), the route does not exist on this control plane (404), or the epoch is ahead of the cluster's
 * (409 EpochAhead). Anything else that is not 2xx (a replayed sequence — the client moves above it —, a key not
 * yet issued, 5xx) is retried.
 */
export function ackNeverCounts(status: number, json: unknown): boolean {
  if (status === 400 || status === 404 || status === 413 || status === 422) return true;
  return status === 409 && readErrorBody(json)?.code === 'EpochAhead';
}

export interface AckSenderDeps {
  client: ControlPlaneApi;
  state: StateKeeper;
  clock: Clock;
  log: Logger;
  /** The longest wait between two attempts: the heartbeat interval, so a lost ack costs at most one interval. */
  maxDelayMs: () => number;
  /** The first retry's delay (doubling up to `maxDelayMs`). */
  firstDelayMs?: number;
}

/**
 * Sends command acknowledgements: queued (on disk, in the state) when a command finishes and sent at once, one at
 * a time in order; until the control plane answers 2xx (or says it will never count) an ack is re-sent with
 * exponential backoff capped at the heartbeat interval, and at every `flush` (each heartbeat cycle, the start).
 */
export class AckSender {
  readonly #d: AckSenderDeps;
  #failures = 0;
  #timer: TimerHandle | null = null;
  #flushing: Promise<void> | null = null;
  #again = false;
  #stopped = false;

  constructor(deps: AckSenderDeps) {
    this.#d = deps;
  }

  /** The acknowledgements not yet answered. */
  get pending(): readonly CommandAckBody[] {
    return this.#d.state.current.pendingAcks;
  }

  /** Persists the acknowledgement (replacing an older one of the same command), then sends what is pending. */
  async queue(ack: CommandAckBody): Promise<void> {
    await this.#d.state.update((st) => {
      st.pendingAcks = st.pendingAcks.filter((a) => a.commandId !== ack.commandId);
      st.pendingAcks.push(ack);
    });
    void this.flush();
  }

  /** Sends every pending acknowledgement now (joining a send in progress). */
  flush(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#flushing) {
      this.#again = true;
      return this.#flushing;
    }
    this.#clearTimer();
    const run = (async () => {
      try {
        do {
          this.#again = false;
          await this.#sendAll();
        } while (this.#again && !this.#stopped);
      } finally {
        this.#flushing = null;
      }
    })();
    this.#flushing = run;
    return run;
  }

  /** Resolves when no send is in progress. */
  async settled(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  stop(): void {
    this.#stopped = true;
    this.#clearTimer();
  }

  async #sendAll(): Promise<void> {
    for (;;) {
      const ack = this.pending[0];
      if (!ack || this.#stopped) return;
      const result = await this.#d.client.ack(ack);
      const verdict = this.#verdict(ack, result);
      if (verdict === 'retry') {
        this.#retryLater();
        return;
      }
      this.#failures = 0;
      await this.#d.state.update((st) => {
        st.pendingAcks = st.pendingAcks.filter((a) => a !== ack);
      });
    }
  }

  #verdict(ack: CommandAckBody, result: ApiResult): 'done' | 'retry' {
    const fields = { commandId: ack.commandId, epoch: ack.epoch, outcome: ack.outcome };
    if (!result.ok) {
      this.#d.log.warn('acknowledgement not sent: will retry', { ...fields, error: result.message });
      return 'retry';
    }
    const { status, json } = result.answer;
    if (status >= 200 && status < 300) {
      const answer = commandAckAnswerSchema.safeParse(json);
      this.#d.log.info('command acknowledged', {
        ...fields,
        ...(answer.success && answer.data.delivered !== undefined
          ? { delivered: answer.data.delivered }
          : {}),
        ...(answer.success && answer.data.duplicate ? { duplicate: true } : {}),
      });
      return 'done';
    }
    const error = readErrorBody(json);
    if (ackNeverCounts(status, json)) {
      this.#d.log.error('acknowledgement refused for good: dropped', {
        ...fields,
        httpStatus: status,
        ...(error ? { code: error.code, error: error.message } : {}),
      });
      return 'done';
    }
    this.#d.log.warn('acknowledgement refused: will retry', {
      ...fields,
      httpStatus: status,
      ...(error ? { code: error.code } : {}),
    });
    return 'retry';
  }

  #retryLater(): void {
    this.#failures++;
    const first = this.#d.firstDelayMs ?? 250;
    const delay = Math.min(this.#d.maxDelayMs(), first * 2 ** Math.min(20, this.#failures - 1));
    this.#clearTimer();
    this.#timer = this.#d.clock.setTimer(() => {
      this.#timer = null;
      void this.flush();
    }, delay);
  }

  #clearTimer(): void {
    if (this.#timer) this.#d.clock.clearTimer(this.#timer);
    this.#timer = null;
  }
}
