import { BOUNDS } from '../../shared/contracts/bounds';
import type { GpuReport } from '../../shared/contracts/agentApi';
import { describeEnd, runProcess } from '../process';
import { shortDetail, type CheckResult } from './types';

export interface GpuCsv {
  gpus: GpuReport[];
  /** Lines that could not be read. */
  problems: string[];
  /** GPUs nvidia-smi could not query (fallen off the bus, needs a reset: what XID 79/48-class errors look like). */
  lost: string[];
}

const UNAVAILABLE = /^\[?(N\/A|Not Supported|Unknown Error|GPU requires reset|Insufficient Permissions)\]?$/i;
const LOST = /GPU is lost|requires reset|Unknown Error|Unable to determine the device handle/i;

function numberField(text: string | undefined): number | undefined {
  const value = (text ?? '').trim();
  if (value === '' || UNAVAILABLE.test(value)) return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/**
 * Parses `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total,
 * ecc.errors.uncorrected.volatile.total --format=csv,noheader,nounits`: one line per GPU, five fields. "[N/A]" and
 * "[Not Supported]" leave the field out (ECC off, a consumer GPU); a line saying the GPU is lost or needs a reset
 * is reported in `lost`.
 */
export function parseNvidiaSmiCsv(text: string): GpuCsv {
  const gpus: GpuReport[] = [];
  const problems: string[] = [];
  const lost: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (LOST.test(line)) {
      lost.push(line);
      continue;
    }
    const fields = line.split(',').map((f) => f.trim());
    const index = numberField(fields[0]);
    if (fields.length !== 5 || index === undefined || !Number.isInteger(index) || index > BOUNDS.gpuIndex) {
      problems.push(line);
      continue;
    }
    const gpu: GpuReport = { index };
    const utilization = numberField(fields[1]);
    if (utilization !== undefined && utilization <= 100) gpu.utilizationPercent = utilization;
    const used = numberField(fields[2]);
    if (used !== undefined && used <= BOUNDS.gpuMemoryMiB) gpu.memoryUsedMiB = used;
    const total = numberField(fields[3]);
    if (total !== undefined && total <= BOUNDS.gpuMemoryMiB) gpu.memoryTotalMiB = total;
    const ecc = numberField(fields[4]);
    // Outside the contract's bounds a value is left out (or a count capped): the heartbeat must still be accepted.
    if (ecc !== undefined && Number.isInteger(ecc)) gpu.eccErrors = Math.min(ecc, BOUNDS.count);
    gpus.push(gpu);
  }
  return { gpus, problems, lost };
}

/** Turns the parsed query into a check: fail on uncorrected ECC errors or no GPU, warn on lost GPUs or odd lines. */
export function gpuCheckResult(name: string, csv: GpuCsv): Pick<CheckResult, 'name' | 'status' | 'detail'> {
  const ecc = csv.gpus.filter((g) => (g.eccErrors ?? 0) > 0);
  if (ecc.length > 0)
    return {
      name,
      status: 'fail',
      detail: shortDetail(ecc.map((g) => `GPU ${g.index}: ${g.eccErrors} uncorrected ECC errors`).join('; ')),
    };
  if (csv.gpus.length === 0 && csv.lost.length === 0)
    return { name, status: 'fail', detail: 'nvidia-smi listed no GPU' };
  if (csv.lost.length > 0)
    return { name, status: 'warn', detail: shortDetail(`XID-like problem: ${csv.lost[0] ?? ''}`) };
  if (csv.problems.length > 0)
    return {
      name,
      status: 'warn',
      detail: shortDetail(`unreadable nvidia-smi line: ${csv.problems[0] ?? ''}`),
    };
  const busiest = Math.max(...csv.gpus.map((g) => g.utilizationPercent ?? 0));
  return {
    name,
    status: 'ok',
    detail: `${csv.gpus.length} GPU${csv.gpus.length === 1 ? '' : 's'}, busiest at ${busiest}%, no uncorrected ECC errors`,
  };
}

export interface GpuCheckOptions {
  name: string;
  command: readonly string[];
  timeoutMs: number;
}

/** Runs the nvidia-smi query. No nvidia-smi on the machine: the check is skipped with status warn. */
export async function runGpuCheck(
  options: GpuCheckOptions,
): Promise<{ result: CheckResult; gpus?: GpuReport[] }> {
  const result = await runProcess({ argv: options.command, timeoutMs: options.timeoutMs, killGraceMs: 500 });
  const base = { name: options.name, durationMs: result.durationMs };
  if (result.spawnError?.code === 'ENOENT')
    return {
      result: {
        ...base,
        status: 'warn',
        detail: `${options.command[0] ?? 'nvidia-smi'} not found: GPU check skipped (no NVIDIA driver on this node?)`,
      },
    };
  if (result.exitCode !== 0 || result.timedOut) {
    const output = shortDetail(result.stdout) || shortDetail(result.stderr);
    const end = describeEnd(result, options.timeoutMs);
    return { result: { ...base, status: 'fail', detail: shortDetail(output ? `${end}: ${output}` : end) } };
  }
  const csv = parseNvidiaSmiCsv(result.stdout);
  return {
    result: { ...base, ...gpuCheckResult(options.name, csv) },
    ...(csv.gpus.length ? { gpus: csv.gpus } : {}),
  };
}
