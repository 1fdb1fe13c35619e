import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gpuCheckResult, parseNvidiaSmiCsv, runGpuCheck } from '../../../agent/checks/gpu';
import { heartbeatBodySchema } from '../../../shared/contracts/agentApi';

describe('parseNvidiaSmiCsv', () => {
  it('reads one GPU per line: index, utilization, memory used and total (MiB), uncorrected ECC errors', () => {
    expect(parseNvidiaSmiCsv('0, 35, 1024, 81920, 0\n1, 100, 81000, 81920, 2\n')).toEqual({
      gpus: [
        { index: 0, utilizationPercent: 35, memoryUsedMiB: 1024, memoryTotalMiB: 81920, eccErrors: 0 },
        { index: 1, utilizationPercent: 100, memoryUsedMiB: 81000, memoryTotalMiB: 81920, eccErrors: 2 },
      ],
      problems: [],
      lost: [],
    });
  });

  it('leaves out fields nvidia-smi cannot tell ([N/A], [Not Supported]) and ignores blank lines', () => {
    expect(
      parseNvidiaSmiCsv('\r\n0, [N/A], 10, 24576, [Not Supported]\r\n\n3, 5, [N/A], 24576, N/A\n').gpus,
    ).toEqual([
      { index: 0, memoryUsedMiB: 10, memoryTotalMiB: 24576 },
      { index: 3, utilizationPercent: 5, memoryTotalMiB: 24576 },
    ]);
  });

  it('keeps to the contract bounds, so an odd reading never costs the heartbeat', () => {
    // 1e12 MiB and 1e400 (Infinity) are left out; a huge ECC count is capped, still failing the check.
    const csv = parseNvidiaSmiCsv('0, 150, 1000000000000, 1e400, 99999999999\n');
    expect(csv.gpus).toEqual([{ index: 0, eccErrors: 2 ** 31 - 1 }]);
    expect(heartbeatBodySchema.safeParse({ role: 'standby', epoch: 1, gpu: csv.gpus }).success).toBe(true);
  });

  it('reports lines it cannot read, and GPUs that fell off the bus or need a reset (XID-like)', () => {
    const csv = parseNvidiaSmiCsv(
      [
        '0, 1, 2, 3, 0',
        'Unable to determine the device handle for GPU 0000:3B:00.0: Unknown Error',
        '1, 2, 3',
        'x, 1, 2, 3, 4',
        '2, [GPU requires reset], 0, 0, 0',
      ].join('\n'),
    );
    expect(csv.gpus).toEqual([
      { index: 0, utilizationPercent: 1, memoryUsedMiB: 2, memoryTotalMiB: 3, eccErrors: 0 },
    ]);
    expect(csv.problems).toEqual(['1, 2, 3', 'x, 1, 2, 3, 4']);
    expect(csv.lost).toEqual([
      'Unable to determine the device handle for GPU 0000:3B:00.0: Unknown Error',
      '2, [GPU requires reset], 0, 0, 0',
    ]);
  });
});

describe('gpuCheckResult', () => {
  it('is ok with a summary when every GPU is clean', () => {
    expect(gpuCheckResult('gpu', parseNvidiaSmiCsv('0, 35, 1, 2, 0\n1, 87, 1, 2, [N/A]\n'))).toEqual({
      name: 'gpu',
      status: 'ok',
      detail: '2 GPUs, busiest at 87%, no uncorrected ECC errors',
    });
  });

  it('fails on uncorrected ECC errors, naming the GPUs', () => {
    expect(gpuCheckResult('gpu', parseNvidiaSmiCsv('0, 1, 1, 2, 0\n1, 1, 1, 2, 3\n2, 1, 1, 2, 1\n'))).toEqual(
      {
        name: 'gpu',
        status: 'fail',
        detail: 'GPU 1: 3 uncorrected ECC errors; GPU 2: 1 uncorrected ECC errors',
      },
    );
  });

  it('warns on a lost GPU or an unreadable line, and fails when no GPU is listed', () => {
    expect(
      gpuCheckResult('gpu', parseNvidiaSmiCsv('0, 1, 1, 2, 0\nGPU 0000:3B:00.0: GPU is lost\n')),
    ).toMatchObject({
      status: 'warn',
      detail: 'XID-like problem: GPU 0000:3B:00.0: GPU is lost',
    });
    expect(gpuCheckResult('gpu', parseNvidiaSmiCsv('0, 1, 1, 2, 0\ngarbage\n')).status).toBe('warn');
    expect(gpuCheckResult('gpu', parseNvidiaSmiCsv(''))).toMatchObject({
      status: 'fail',
      detail: 'nvidia-smi listed no GPU',
    });
  });
});

describe('runGpuCheck', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'fp-agent-gpu-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const fake = (name: string, body: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };

  it('runs the query command and returns the GPUs for the heartbeat', async () => {
    const smi = fake('smi-ok', 'echo "$@" > "$(dirname "$0")/args"; echo "0, 12, 100, 200, 0"');
    const { result, gpus } = await runGpuCheck({
      name: 'gpu',
      command: [smi, '--query-gpu=x'],
      timeoutMs: 5000,
    });
    expect(result).toMatchObject({
      name: 'gpu',
      status: 'ok',
      detail: '1 GPU, busiest at 12%, no uncorrected ECC errors',
    });
    expect(gpus).toEqual([
      { index: 0, utilizationPercent: 12, memoryUsedMiB: 100, memoryTotalMiB: 200, eccErrors: 0 },
    ]);
  });

  it('is skipped with a warning when nvidia-smi is not installed', async () => {
    const { result, gpus } = await runGpuCheck({
      name: 'gpu',
      command: [path.join(dir, 'nvidia-smi-not-here')],
      timeoutMs: 5000,
    });
    expect(result).toMatchObject({
      status: 'warn',
      detail: expect.stringMatching(/not found: GPU check skipped/),
    });
    expect(gpus).toBeUndefined();
  });

  it('fails with the first line of the error when nvidia-smi fails', async () => {
    const smi = fake(
      'smi-broken',
      'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver." >&2; exit 9',
    );
    const { result } = await runGpuCheck({ name: 'gpu', command: [smi], timeoutMs: 5000 });
    expect(result).toMatchObject({
      status: 'fail',
      detail: "exit 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
    });
  });
});
