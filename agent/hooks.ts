import type { HookOperation, HooksConfig, HookStep, PeersConfig } from './config';
import type { Logger } from './log';
import { describeEnd, runProcess } from './process';
import type { Outcome } from './state';

export interface HookContext {
  operation: HookOperation;
  /** The command id (`promote-3`) or the agent's own id for what it decided itself (`self-fence-3-…`). */
  operationId: string;
  epoch: number;
  /** The role the node takes by this operation; none for `fence-peer` (an action on another node). */
  role?: 'active' | 'standby';
  reason: string;
  /** For `fence-peer`: the node to fence. */
  targetNodeId?: string;
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

type Phases = [pre: keyof HooksConfig | null, main: keyof HooksConfig, post: keyof HooksConfig | null];
const PHASES: Record<HookOperation, Phases> = {
  promote: ['prePromote', 'promote', 'postPromote'],
  demote: ['preDemote', 'demote', 'postDemote'],
  fence: ['preFence', 'fence', 'postFence'],
  'fence-peer': [null, 'fencePeer', null],
};

/**
 * The operations with at least one step configured (pre, main or post), in contract order: what the agent reports
 * in its heartbeats as `hooks` (a validate drill checks them).
 */
export function configuredOperations(hooks: HooksConfig): HookOperation[] {
  return (Object.keys(PHASES) as HookOperation[]).filter((operation) =>
    PHASES[operation].some((phase) => phase !== null && hooks[phase].length > 0),
  );
}

/** Operations that stop at their first failing step (and fail): promote, and fence-peer (its power-off is verified). */
const STRICT: ReadonlySet<HookOperation> = new Set(['promote', 'fence-peer']);

export interface ConfiguredHooksOptions {
  /** The peers a `fence-peer` may name, with their BMC details (given to the hook as FP_BMC_*). */
  peers?: PeersConfig;
  wallNow?: () => number;
}

/**
 * Runs the configured steps of an operation: pre steps, the operation's steps, post steps, one after the other.
 * Each step is a command with arguments (no shell), its own environment on top of the agent's plus FP_EPOCH,
 * FP_ROLE, FP_CLUSTER, FP_NODE, FP_OPERATION_ID, FP_OPERATION, FP_STEP and FP_REASON, a timeout and retries.
 *
 * - promote stops at the first failing pre or main step (the node must not half-become active); a failing post
 *   step makes the outcome `warn`.
 * - demote and fence run every step whatever fails before (getting out of the active role is never skipped); a
 *   failing main step makes the outcome `fail`, a failing pre or post step `warn`.
 * - fence-peer (steps only, no pre or post) stops at the first failing step, and fails: it is either ok or failed,
 *   never `warn`. Its steps also get FP_TARGET_NODE and, when the peer's BMC is configured, FP_BMC_ADDRESS,
 *   FP_BMC_USER and FP_BMC_PASSWORD_FILE (a path: the password itself never passes through the agent); no FP_ROLE.
 */
export class ConfiguredHooks implements HookRunner {
  private readonly peers: PeersConfig;
  private readonly wallNow: () => number;

  constructor(
    private readonly hooks: HooksConfig,
    private readonly identity: { clusterId: string; nodeId: string },
    private readonly log: Logger,
    options: ConfiguredHooksOptions = {},
  ) {
    this.peers = options.peers ?? {};
    this.wallNow = options.wallNow ?? Date.now;
  }

  async run(context: HookContext, signal?: AbortSignal): Promise<OperationResult> {
    const startedAt = new Date(this.wallNow()).toISOString();
    const [pre, main, post] = PHASES[context.operation];
    const strict = STRICT.has(context.operation);
    const steps: StepResult[] = [];
    let mainFailed = false;
    let sideFailed = false;
    let stopped = false;
    const phases: [StepResult['phase'], HookStep[]][] = [
      ['pre', pre ? this.hooks[pre] : []],
      ['main', this.hooks[main]],
      ['post', post ? this.hooks[post] : []],
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
      FP_CLUSTER: this.identity.clusterId,
      FP_NODE: this.identity.nodeId,
      FP_OPERATION_ID: context.operationId,
      FP_OPERATION: context.operation,
      FP_STEP: name,
      FP_REASON: context.reason,
      FP_ROLE: context.role,
      ...this.#peerEnv(context.targetNodeId),
    };
    // Unset, not inherited from the agent's environment: a fence-peer has no FP_ROLE, a peer without a BMC no FP_BMC_*.
    for (const [variable, value] of Object.entries(env)) if (value === undefined) delete env[variable];
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

  /** The target of a fence-peer and its BMC; variables of the agent's own environment never stand in for them. */
  #peerEnv(target: string | undefined): Record<string, string | undefined> {
    if (target === undefined) return {};
    const bmc = Object.hasOwn(this.peers, target) ? this.peers[target]?.bmc : undefined;
    return {
      FP_TARGET_NODE: target,
      FP_BMC_ADDRESS: bmc?.address,
      FP_BMC_USER: bmc?.user,
      FP_BMC_PASSWORD_FILE: bmc?.passwordFile,
    };
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
