import {
  AGENT_COMMAND_TYPES,
  agentCommandSchema,
  arbitrateBodySchema,
  arbitrationAnswerSchema,
  BOUNDS,
  commandAckAnswerSchema,
  commandAckBodySchema,
  errorBodySchema,
  heartbeatBodySchema,
  heartbeatReplySchema,
  readErrorBody,
} from '../../../shared/contracts';
import { parseAgentBody } from '../../../shared/control/agents/agentRequests';
import { arbitrationAnswer } from '../../../shared/control/arbitration/answer';
import { parseDocumentText } from '../../../shared/control/clusters/clusterAdmin';
import { parseClusterDocument } from '../../../shared/domain/clusterDocument';
import { ackCounts } from '../../../shared/domain/commandAcks';

const heartbeat = {
  role: 'active',
  epoch: 3,
  checks: [{ name: 'slurmctld', status: 'ok', detail: 'running' }],
  replicationLagMs: 120,
  demotedAtEpoch: 3,
  gpu: [{ index: 0, utilizationPercent: 97.5, memoryUsedMiB: 80_000, memoryTotalMiB: 81_920, eccErrors: 0 }],
};

const issues = (result: { success: boolean; error?: { issues: { path: (string | number)[] }[] } }) =>
  result.success ? [] : [...new Set(result.error?.issues.map((i) => i.path.join('.')))];

describe('the heartbeat body', () => {
  it('accepts what an agent sends, demotedAtEpoch, gpu and replicationLagMs included', () => {
    expect(heartbeatBodySchema.parse(heartbeat)).toEqual(heartbeat);
    expect(heartbeatBodySchema.parse({ role: 'standby', epoch: 0 })).toEqual({
      role: 'standby',
      epoch: 0,
      checks: [],
    });
  });

  it('refuses unknown fields, at every level', () => {
    expect(issues(heartbeatBodySchema.safeParse({ ...heartbeat, lease: 5 }))).toEqual(['']);
    expect(
      issues(
        heartbeatBodySchema.safeParse({ ...heartbeat, checks: [{ name: 'a', status: 'ok', extra: 1 }] }),
      ),
    ).toEqual(['checks.0']);
    expect(
      issues(heartbeatBodySchema.safeParse({ ...heartbeat, gpu: [{ index: 0, temperatureC: 60 }] })),
    ).toEqual(['gpu.0']);
  });

  it.each([
    ['epoch', { epoch: BOUNDS.epoch + 1 }],
    ['epoch', { epoch: 1e308 }],
    ['epoch', { epoch: Infinity }],
    ['epoch', { epoch: -1 }],
    ['epoch', { epoch: 1.5 }],
    ['demotedAtEpoch', { demotedAtEpoch: 0 }],
    ['demotedAtEpoch', { demotedAtEpoch: 2 ** 31 }],
    ['replicationLagMs', { replicationLagMs: 2 ** 31 }],
    ['replicationLagMs', { replicationLagMs: 1e308 }],
    ['gpu.0.index', { gpu: [{ index: 65 }] }],
    ['gpu.0.utilizationPercent', { gpu: [{ index: 0, utilizationPercent: 100.1 }] }],
    ['gpu.0.memoryUsedMiB', { gpu: [{ index: 0, memoryUsedMiB: 1e308 }] }],
    ['gpu.0.memoryTotalMiB', { gpu: [{ index: 0, memoryTotalMiB: 2 ** 24 + 1 }] }],
    ['gpu.0.eccErrors', { gpu: [{ index: 0, eccErrors: 2 ** 31 }] }],
    ['gpu.0.xidErrors', { gpu: [{ index: 0, xidErrors: Number.MAX_SAFE_INTEGER }] }],
    ['gpu', { gpu: Array.from({ length: 65 }, (_v, index) => ({ index: index % 64 })) }],
    ['checks', { checks: Array.from({ length: 33 }, () => ({ name: 'a', status: 'ok' })) }],
    ['checks.0.name', { checks: [{ name: 'n'.repeat(65), status: 'ok' }] }],
    ['checks.0.detail', { checks: [{ name: 'a', status: 'ok', detail: 'd'.repeat(501) }] }],
  ])('bounds %s', (path, change) => {
    expect(issues(heartbeatBodySchema.safeParse({ ...heartbeat, ...change }))).toEqual([path]);
  });

  it('accepts the bounds themselves', () => {
    const edge = {
      ...heartbeat,
      epoch: BOUNDS.epoch,
      demotedAtEpoch: BOUNDS.epoch,
      replicationLagMs: BOUNDS.durationMs,
      gpu: [{ index: 64, memoryUsedMiB: 2 ** 24, eccErrors: 2 ** 31 - 1, xidErrors: 2 ** 31 - 1 }],
    };
    expect(heartbeatBodySchema.safeParse(edge).success).toBe(true);
  });
});

describe('parseAgentBody', () => {
  const parse = (text: string) => parseAgentBody(Buffer.from(text), heartbeatBodySchema, 'heartbeat');

  it('refuses a duplicate key with 422 naming it, before the schema sees the body', () => {
    expect(parse('{"role": "standby", "epoch": 1, "role": "active"}')).toEqual({
      ok: false,
      refusal: {
        ok: false,
        kind: 'unprocessable',
        code: 'InvalidJson',
        message: 'the heartbeat body is not valid JSON: duplicate key "role" at $.role',
        details: { path: '$.role' },
      },
    });
  });

  it('refuses a number beyond a double (Infinity) rather than storing null', () => {
    expect(parse('{"role": "standby", "epoch": 1, "replicationLagMs": 1e999}')).toMatchObject({
      ok: false,
      refusal: { kind: 'unprocessable', code: 'InvalidJson', details: { path: '$.replicationLagMs' } },
    });
  });

  it('keeps its answers for text that is not JSON and for an invalid body', () => {
    expect(parse('{')).toEqual({
      ok: false,
      refusal: {
        ok: false,
        kind: 'unprocessable',
        code: 'InvalidJson',
        message: 'the heartbeat body is not JSON',
      },
    });
    expect(parse('{"role": "standby", "epoch": 1e308}')).toMatchObject({
      ok: false,
      refusal: {
        kind: 'unprocessable',
        code: 'InvalidHeartbeat',
        details: { problems: [{ path: 'epoch' }] },
      },
    });
    expect(parse('{"role": "standby", "epoch": 1}')).toEqual({
      ok: true,
      value: { role: 'standby', epoch: 1, checks: [] },
    });
  });
});

describe('the cluster document body (admin)', () => {
  it('refuses a duplicate JSON key, naming it', () => {
    expect(parseDocumentText('{"id": "a", "nodes": [], "id": "b"}', 'json')).toEqual({
      ok: false,
      message: expect.stringContaining('the body is not valid JSON: duplicate key "id" at $.id'),
    });
  });

  it('refuses a duplicate YAML key too', () => {
    expect(parseDocumentText('id: a\nkind: active-passive\nid: b\n', 'yaml')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/not valid YAML.*unique/i),
    });
  });
});

describe('the arbitration request', () => {
  it('needs an epoch from 1 to 2^31 - 1 and known fields only', () => {
    expect(arbitrateBodySchema.parse({ epoch: 1 })).toEqual({ epoch: 1, checks: [] });
    expect(issues(arbitrateBodySchema.safeParse({ epoch: 0 }))).toEqual(['epoch']);
    expect(issues(arbitrateBodySchema.safeParse({ epoch: 2 ** 31 }))).toEqual(['epoch']);
    expect(issues(arbitrateBodySchema.safeParse({ epoch: 1, vote: 'me' }))).toEqual(['']);
  });
});

describe('the answers, read leniently', () => {
  const reply = {
    role: 'active',
    epoch: 2,
    lease: { durationMs: 4000 },
    commands: [{ id: 'promote-2', type: 'promote', epoch: 2 }],
    heartbeatIntervalMs: 1000,
  };

  it('drops fields an agent does not know, so the control plane can add some', () => {
    expect(heartbeatReplySchema.parse({ ...reply, advice: 'x' })).toEqual(reply);
    expect(
      heartbeatReplySchema.parse({ ...reply, commands: [{ id: 'x-2', type: 'drain', epoch: 2 }] }),
    ).toEqual({
      ...reply,
      commands: [{ id: 'x-2', type: 'drain', epoch: 2 }],
    });
  });

  it('still bounds their numbers', () => {
    expect(issues(heartbeatReplySchema.safeParse({ ...reply, epoch: 2 ** 31 }))).toEqual(['epoch']);
    expect(issues(heartbeatReplySchema.safeParse({ ...reply, lease: { durationMs: 1e308 } }))).toEqual([
      'lease.durationMs',
    ]);
    expect(issues(heartbeatReplySchema.safeParse({ ...reply, heartbeatIntervalMs: 0 }))).toEqual([
      'heartbeatIntervalMs',
    ]);
  });

  it('reads an arbitration answer, including a superseded one without an active node', () => {
    expect(
      arbitrationAnswerSchema.parse({
        decision: 'superseded',
        epoch: 4,
        role: 'standby',
        fence: true,
        winner: null,
      }),
    ).toMatchObject({ decision: 'superseded', winner: null });
    expect(arbitrationAnswerSchema.safeParse({ decision: 'won', winner: 'Not An Id' }).success).toBe(false);
  });

  it('holds what the control plane answers an arbitration', () => {
    const answers = [
      arbitrationAnswer('a', { outcome: 'decided', winner: 'a', losers: ['b'], epoch: 3, reason: 'r' }),
      arbitrationAnswer('b', { outcome: 'decided', winner: 'a', losers: ['b'], epoch: 3, reason: 'r' }),
      arbitrationAnswer('b', { outcome: 'superseded', epoch: 4, activeNodeId: null }),
      arbitrationAnswer('b', { outcome: 'waiting', winner: 'a', losers: ['b'], retryAt: 1 }),
    ];
    for (const answer of answers) expect(arbitrationAnswerSchema.parse(answer)).toEqual(answer);
  });

  it('reads an error body and its lastAcceptedSeq', () => {
    const body = {
      error: { code: 'ReplayedSequence', message: 'whatever the wording', lastAcceptedSeq: 4711, hint: 'x' },
    };
    expect(readErrorBody(body)).toEqual(body.error);
    expect(readErrorBody({ error: { code: 'X', message: 'm', lastAcceptedSeq: 2 ** 53 } })).toBeUndefined();
    expect(readErrorBody({ error: { code: 'X', message: 'm', lastAcceptedSeq: -1 } })).toBeUndefined();
    expect(readErrorBody({ message: 'no error object' })).toBeUndefined();
    expect(readErrorBody(undefined)).toBeUndefined();
    expect(errorBodySchema.safeParse({ error: { code: '', message: 'm' } }).success).toBe(false);
  });
});

describe('the cluster document numbers', () => {
  const document = (failover: Record<string, unknown>) => ({
    id: 'bcm-head',
    kind: 'active-passive',
    nodes: [
      { id: 'head-a', role: 'active', site: { cloud: 'azure', region: 'westeurope' } },
      { id: 'head-b', role: 'standby', site: { cloud: 'oci', region: 'eu-frankfurt-1' } },
    ],
    failover,
  });

  it('bounds the objectives like every other duration (2^31 - 1 ms)', () => {
    expect(parseClusterDocument(document({ rtoObjectiveMs: BOUNDS.durationMs, rpoObjectiveMs: 0 })).ok).toBe(
      true,
    );
    for (const failover of [{ rtoObjectiveMs: 1e308 }, { rpoObjectiveMs: 2 ** 31 }]) {
      const result = parseClusterDocument(document(failover));
      expect(result).toMatchObject({
        ok: false,
        problems: [{ path: `failover.${Object.keys(failover)[0]}` }],
      });
    }
  });
});

describe('commands and their acknowledgements', () => {
  const ack = {
    commandId: 'promote-4',
    type: 'promote',
    epoch: 4,
    outcome: 'warn',
    startedAt: '2026-11-30T20:00:00.000Z',
    finishedAt: '2026-11-30T20:00:01.500Z',
    steps: [
      { name: 'slurm-takeover', exitCode: 0, durationMs: 1200, outputTail: 'taken over' },
      { name: 'post-promote-1', exitCode: null, durationMs: 300, outputTail: '' },
    ],
    message: 'promote-4: post step post-promote-1 failed (timed out after 300 ms)',
  };

  it('reads a command with its cluster, node and (for fence-peer) target, and one of an older control plane', () => {
    const command = {
      id: 'fence-peer-5',
      type: 'fence-peer',
      epoch: 5,
      clusterId: 'bcm-head',
      nodeId: 'head-b',
      targetNodeId: 'head-a',
    };
    expect(agentCommandSchema.parse(command)).toEqual(command);
    expect(agentCommandSchema.parse({ id: 'promote-2', type: 'promote', epoch: 2 })).toEqual({
      id: 'promote-2',
      type: 'promote',
      epoch: 2,
    });
    expect(issues(agentCommandSchema.safeParse({ ...command, nodeId: 'Head B' }))).toEqual(['nodeId']);
    expect(AGENT_COMMAND_TYPES).toEqual(['promote', 'demote', 'fence', 'fence-peer', 'drill-silence']);
  });

  it('accepts what an agent sends', () => {
    expect(commandAckBodySchema.parse(ack)).toEqual(ack);
    const minimal = { commandId: 'demote-3', type: 'demote', epoch: 3, outcome: 'ok', steps: [] };
    expect(commandAckBodySchema.parse(minimal)).toEqual(minimal);
  });

  it('refuses unknown fields and types, at every level', () => {
    expect(issues(commandAckBodySchema.safeParse({ ...ack, nodeId: 'head-a' }))).toEqual(['']);
    expect(issues(commandAckBodySchema.safeParse({ ...ack, type: 'drain' }))).toEqual(['type']);
    expect(issues(commandAckBodySchema.safeParse({ ...ack, outcome: 'fail' }))).toEqual(['outcome']);
    expect(
      issues(commandAckBodySchema.safeParse({ ...ack, steps: [{ ...ack.steps[0], stdout: 'x' }] })),
    ).toEqual(['steps.0']);
  });

  it.each([
    ['epoch', { epoch: 2 ** 31 }],
    ['commandId', { commandId: '' }],
    ['commandId', { commandId: 'x'.repeat(201) }],
    ['startedAt', { startedAt: 'yesterday' }],
    ['message', { message: 'x'.repeat(BOUNDS.ackMessage + 1) }],
    ['steps', { steps: Array.from({ length: BOUNDS.ackSteps + 1 }, () => ack.steps[0]) }],
    ['steps.0.outputTail', { steps: [{ ...ack.steps[0], outputTail: 'x'.repeat(BOUNDS.outputTail + 1) }] }],
    ['steps.0.exitCode', { steps: [{ ...ack.steps[0], exitCode: 1.5 }] }],
    ['steps.0.durationMs', { steps: [{ ...ack.steps[0], durationMs: 2 ** 31 }] }],
    ['steps.0.name', { steps: [{ ...ack.steps[0], name: 'x'.repeat(BOUNDS.stepName + 1) }] }],
  ])('bounds %s', (path, change) => {
    expect(issues(commandAckBodySchema.safeParse({ ...ack, ...change }))).toEqual([path]);
  });

  it('reads the answer leniently', () => {
    expect(commandAckAnswerSchema.parse({ recorded: true, delivered: false, extra: 1 })).toEqual({
      recorded: true,
      delivered: false,
    });
  });
});

describe('ackCounts', () => {
  const expected = { nodeId: 'head-b', epoch: 4, commandId: 'promote-4' };

  it('counts the acknowledgement of the same command by the same node under the same epoch', () => {
    expect(ackCounts({ ...expected }, expected)).toBe(true);
    expect(
      ackCounts({ ...expected, clusterId: 'bcm-head', outcome: 'failed' } as typeof expected, expected),
    ).toBe(true);
  });

  it.each([
    ['another node', { nodeId: 'head-a' }],
    ['another epoch (late)', { epoch: 3 }],
    ['another epoch (ahead)', { epoch: 5 }],
    ['another command', { commandId: 'demote-4' }],
  ])('never counts one of %s', (_what, change) => {
    expect(ackCounts({ ...expected, ...change }, expected)).toBe(false);
  });
});
