import { ackNeverCounts, commandAck, MAX_ACK_BYTES, outputTail } from '../../agent/acks';
import type { OperationResult, StepResult } from '../../agent/hooks';
import { BOUNDS } from '../../shared/contracts/bounds';
import { commandAckBodySchema } from '../../shared/contracts/agentApi';

const step = (name: string, stdout: string, stderr = '', exitCode: number | null = 0): StepResult => ({
  phase: 'main',
  name,
  command: ['x'],
  status: exitCode === 0 ? 'ok' : 'fail',
  end: `exit ${exitCode}`,
  exitCode,
  attempts: 1,
  durationMs: 10.6,
  stdout,
  stderr,
});

const operation = (steps: StepResult[]): OperationResult => ({
  operation: 'demote',
  operationId: 'demote-4',
  epoch: 4,
  reason: 'test',
  status: 'ok',
  detail: 'demote-4: ok',
  startedAt: '2026-11-30T20:00:00.000Z',
  finishedAt: '2026-11-30T20:00:02.000Z',
  steps,
});

describe('the acknowledgement body', () => {
  it('carries every step of the operations, in order, with the end of its output', () => {
    const ack = commandAck(
      { id: 'demote-4', type: 'demote', epoch: 4 },
      'fail',
      'demote-4: main step stop failed',
      [operation([step('stop', 'stopping\n', 'refused\n', 2)]), operation([step('fence', '')])],
      Date.UTC(2026, 10, 30),
    );
    expect(ack).toEqual({
      commandId: 'demote-4',
      type: 'demote',
      epoch: 4,
      outcome: 'failed',
      startedAt: '2026-11-30T20:00:00.000Z',
      finishedAt: '2026-11-30T20:00:02.000Z',
      steps: [
        { name: 'stop', exitCode: 2, durationMs: 11, outputTail: 'stopping\nrefused\n' },
        { name: 'fence', exitCode: 0, durationMs: 11, outputTail: '' },
      ],
      message: 'demote-4: main step stop failed',
    });
    expect(commandAckBodySchema.safeParse(ack).success).toBe(true);
  });

  it('bounds each tail, the steps, and the whole body below the control plane limit', () => {
    expect(outputTail({ stdout: 'a'.repeat(3000) + 'END', stderr: '' })).toBe(
      'a'.repeat(BOUNDS.outputTail - 3) + 'END',
    );
    // 40 steps of control characters (6 bytes each once JSON-escaped): far above 64 KiB before fitting.
    const noisy = Array.from({ length: 40 }, (_, i) => step(`s${i}`, '\u0001'.repeat(3000) + `end${i}`));
    const ack = commandAck({ id: 'fence-4', type: 'fence', epoch: 4 }, 'ok', '', [operation(noisy)], 0);
    expect(ack.steps).toHaveLength(BOUNDS.ackSteps);
    expect(Buffer.byteLength(JSON.stringify(ack))).toBeLessThanOrEqual(MAX_ACK_BYTES);
    expect(ack.steps[0]?.outputTail.endsWith('end0')).toBe(true);
    expect(commandAckBodySchema.safeParse(ack).success).toBe(true);
  });

  it('without hooks (a refused command) is timed now, with the refusal as its message', () => {
    const ack = commandAck({ id: 'promote-1', type: 'promote', epoch: 1 }, 'refused', 'refused: old', [], 0);
    expect(ack).toMatchObject({
      outcome: 'failed',
      startedAt: '1970-01-01T00:00:00.000Z',
      finishedAt: '1970-01-01T00:00:00.000Z',
      steps: [],
      message: 'refused: old',
    });
  });
});

describe('ackNeverCounts', () => {
  it('gives up on a refused body, a missing route and an epoch ahead; retries anything else', () => {
    for (const status of [400, 404, 413, 422]) expect(ackNeverCounts(status, undefined)).toBe(true);
    expect(ackNeverCounts(409, { error: { code: 'EpochAhead', message: 'm' } })).toBe(true);
    expect(ackNeverCounts(409, { error: { code: 'ReplayedSequence', message: 'm' } })).toBe(false);
    for (const status of [401, 403, 429, 500, 503]) expect(ackNeverCounts(status, undefined)).toBe(false);
  });
});
