import type { CheckConfig } from '../config';
import type { GpuReport } from '../client';
import { runCommandCheck } from './command';
import { runGpuCheck } from './gpu';
import { runHttpCheck } from './http';
import { runReplicationCheck } from './replication';
import { runTcpCheck } from './tcp';
import type { CheckResult, CheckRound } from './types';

export type { CheckResult, CheckRound } from './types';

export interface CheckRunner {
  /** Runs every check in parallel, each bounded by its own timeout. */
  run(): Promise<CheckRound>;
}

/** Runs one configured check; never throws (a check that breaks is a failing check). */
export async function runCheck(
  check: CheckConfig,
): Promise<{ result: CheckResult; gpus?: GpuReport[]; replicationLagMs?: number }> {
  try {
    switch (check.type) {
      case 'command':
        return { result: await runCommandCheck(check) };
      case 'tcp':
        return { result: await runTcpCheck(check) };
      case 'http':
        return { result: await runHttpCheck(check) };
      case 'gpu':
        return await runGpuCheck(check);
      case 'replication': {
        const { replicationLagMs, ...result } = await runReplicationCheck(check);
        return replicationLagMs === undefined ? { result } : { result, replicationLagMs };
      }
    }
  } catch (error) {
    return {
      result: {
        name: check.name,
        status: 'fail',
        detail: `the check broke: ${(error as Error).message}`,
        durationMs: 0,
      },
    };
  }
}

export class ConfiguredChecks implements CheckRunner {
  constructor(private readonly checks: readonly CheckConfig[]) {}

  async run(): Promise<CheckRound> {
    const results = await Promise.all(this.checks.map((c) => runCheck(c)));
    const gpus = results.flatMap((r) => r.gpus ?? []);
    const lag = results.find((r) => r.replicationLagMs !== undefined)?.replicationLagMs;
    return {
      checks: results.map((r) => r.result),
      ...(gpus.length ? { gpu: gpus.slice(0, 64) } : {}),
      ...(lag !== undefined ? { replicationLagMs: lag } : {}),
    };
  }
}
