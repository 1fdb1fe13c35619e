import type { HookOperation, HooksConfig, HookStep } from './config';
import type { Logger } from './log';
import { describeEnd, runProcess } from './process';
import type { Outcome } from './state';

export interface HookContext {
  operation: HookOperation;
  /** The command id (`promote-3`) or the agent's own id for what it decided itself (`self-fence-3-…`). */
  operationId: string;
  epoch: number;
  /** The role the node takes by this operation. */
  role: 'active' | 'standby';
  reason: string;
}

export interface StepResult {
  phase: 'pre' | 'main' | 'post';
  name: string;
  command: string[];
  status: 'ok' | 'fail';
  /** "exit 0", "timed out after 60000 ms", "could not start: …". */
  end: string;
  exitCode: number | null;
  attempts: number;
  durationMs: number;
  /** Bounded (8 KiB each: the first and last 4 KiB). */
  stdout: string;
  stderr: string;
}

export interface OperationResult {
  operation: HookOperation;
  operationId: string;
  epoch: number;
  reason: string;
  status: Outcome;
  /** One line, for the `hook:<operation>` check and the logs. */
  detail: string;
  startedAt: string;
  finishedAt: string;
  steps: StepResult[];
}

export interface HookRunner {
  run(context: HookContext, signal?: AbortSignal): Promise<OperationResult>;
}

const PHASES: Record<HookOperation, [keyof HooksConfig, keyof HooksConfig, keyof HooksConfig]> = {
  promote: ['prePromote', 'promote', 'postPromote'],
  demote: ['preDemote', 'demote', 'postDemote'],
  fence: ['preFence', 'fence', 'postFence'],
};

/**
 * Runs the configured steps of an operation: pre steps, the operation's steps, post steps, one after the other.
 * Each step is a command with arguments (no shell), its own environment on top of the agent's plus FP_EPOCH,
 * FP_ROLE, FP_CLUSTER, FP_NODE, FP_OPERATION_ID, FP_OPERATION, FP_STEP and FP_REASON, a timeout and retries.
 *
 * - promote stops at the first failing pre or main step (the node must not half-become active); a failing post
 *   step makes the outcome `warn`.
 * - demote and fence run every step whatever fails before (getting out of the active role is never skipped); a
 *   failing main step makes the outcome `fail`, a failing pre or post step `warn`.
 */
export class ConfiguredHooks implements HookRunner {
  constructor(
    private readonly hooks: HooksConfig,
    private readonly identity: { clusterId: string; nodeId: string },
    private readonly log: Logger,
    private readonly wallNow: () => number = Date.now,
  ) {}

  async run(context: HookContext, signal?: AbortSignal): Promise<OperationResult> {
    const startedAt = new Date(this.wallNow()).toISOString();
    const [pre, main, post] = PHASES[context.operation];
    const strict = context.operation === 'promote';
    const steps: StepResult[] = [];
    let mainFailed = false;
    let sideFailed = false;
    let stopped = false;
    const phases: [StepResult['phase'], HookStep[]][] = [
      ['pre', this.hooks[pre]],
      ['main', this.hooks[main]],
      ['post', this.hooks[post]],
    ];
    for (const [phase, list] of phases) {
      for (const [index, step] of list.entries()) {
        if (stopped || signal?.aborted) {
          stopped = true;
          break;
        }
        const result = await this.#step(context, phase, index, step, signal);
        steps.push(result);
        if (result.status === 'ok') continue;
        if (phase === 'main' || (phase === 'pre' && strict)) mainFailed = true;
        else sideFailed = true;
        if (strict && phase !== 'post') stopped = true;
      }
    }
    const aborted = signal?.aborted ?? false;
    const status: Outcome = mainFailed || aborted ? 'fail' : sideFailed ? 'warn' : 'ok';
    const firstFailure = steps.find((s) => s.status === 'fail');
    const total = steps.reduce((sum, s) => sum + s.durationMs, 0);
    const detail = aborted
      ? `${context.operationId}: aborted (${signalReason(signal)})`
      : steps.length === 0
        ? `${context.operationId}: no ${context.operation} hook configured`
        : firstFailure
          ? `${context.operationId}: ${firstFailure.phase} step ${firstFailure.name} failed (${firstFailure.end})` +
            (firstLine(firstFailure.stderr || firstFailure.stdout)
              ? `: ${firstLine(firstFailure.stderr || firstFailure.stdout)}`
              : '')
          : `${context.operationId}: ${steps.length} step${steps.length === 1 ? '' : 's'} ok in ${total} ms`;
    return {
      operation: context.operation,
      operationId: context.operationId,
      epoch: context.epoch,
      reason: context.reason,
      status,
      detail: detail.length > 200 ? `${detail.slice(0, 199)}…` : detail,
      startedAt,
      finishedAt: new Date(this.wallNow()).toISOString(),
      steps,
    };
  }

  async #step(
    context: HookContext,
    phase: StepResult['phase'],
    index: number,
    step: HookStep,
    signal?: AbortSignal,
  ): Promise<StepResult> {
    const name =
      step.name ?? `${phase === 'main' ? context.operation : `${phase}-${context.operation}`}-${index + 1}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...step.env,
      FP_EPOCH: String(context.epoch),
      FP_ROLE: context.role,
      FP_CLUSTER: this.identity.clusterId,
      FP_NODE: this.identity.nodeId,
      FP_OPERATION_ID: context.operationId,
      FP_OPERATION: context.operation,
      FP_STEP: name,
      FP_REASON: context.reason,
    };
    let attempts = 0;
    let totalMs = 0;
    for (;;) {
      attempts++;
      this.log.info('hook step started', {
        operation: context.operation,
        operationId: context.operationId,
        epoch: context.epoch,
        step: name,
        phase,
        attempt: attempts,
      });
      const result = await runProcess({
        argv: step.command,
        env,
        timeoutMs: step.timeoutMs,
        ...(step.cwd ? { cwd: step.cwd } : {}),
        ...(signal ? { signal } : {}),
      });
      totalMs += result.durationMs;
      const ok = result.exitCode === 0 && !result.timedOut && !result.aborted;
      const end = describeEnd(result, step.timeoutMs);
      this.log[ok ? 'info' : 'warn']('hook step finished', {
        operation: context.operation,
        operationId: context.operationId,
        step: name,
        phase,
        attempt: attempts,
        end,
        durationMs: result.durationMs,
        ...(ok ? {} : { output: firstLine(result.stderr || result.stdout) }),
      });
      const done = ok || attempts > step.retries || result.aborted || signal?.aborted;
      if (done)
        return {
          phase,
          name,
          command: [...step.command],
          status: ok ? 'ok' : 'fail',
          end,
          exitCode: result.exitCode,
          attempts,
          durationMs: totalMs,
          stdout: result.stdout,
          stderr: result.stderr,
        };
      await delay(step.retryDelayMs, signal);
    }
  }
}

const firstLine = (text: string) => (text.split('\n').find((l) => l.trim()) ?? '').trim().slice(0, 120);

const signalReason = (signal?: AbortSignal) =>
  signal?.reason instanceof Error
    ? signal.reason.message
    : typeof signal?.reason === 'string'
      ? signal.reason
      : 'stopped';

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
