import { startLocalStack, type LocalStack } from '../helpers/localStack';
import { activeUnder, FAST } from './e2eSupport';

/**
 * The planned make-active (`cmha makeactive`) through the local stack, with real agents: the plan, the switchover
 * with its acknowledged hook steps, the RPO precondition, and the roll-back when the target cannot take over.
 */
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack();
});
afterEach(async () => {
  await stack.stopAgents();
});
afterAll(async () => {
  await stack?.stop();
});

const node = (status: any, nodeId: string) =>
  (status.nodes as { nodeId: string }[]).find((n) => n.nodeId === nodeId) as any;

it('shows the plan without acting, then switches over on confirm, recording each step, the hook steps and the RTO', async () => {
  await stack.declarePair('switch', { detection: FAST, failover: { rpoObjectiveMs: 5000 } });
  const a = stack.startAgent('switch', 'head-a', { replicationLagMs: 0 });
  const b = stack.startAgent('switch', 'head-b', { replicationLagMs: 40 });
  await activeUnder(stack, 'switch', 'head-a', 1, ['head-b']);
  await stack.until(
    'head-b reporting its replication lag',
    () => stack.status('switch'),
    (s) => node(s, 'head-b').replicationLagMs === 40,
  );

  // The confirmation screen: who becomes what, the preconditions with their values, the hooks that will run.
  const shown = await stack.makeActive('switch', { nodeId: 'head-b' });
  expect(shown.status).toBe(200);
  const { plan } = shown.json;
  expect(plan).toMatchObject({
    epoch: 1,
    currentActive: 'head-a',
    target: 'head-b',
    becomesActive: 'head-b',
    becomesPassive: ['head-a'],
    blockers: [],
    canRun: true,
    hooks: [
      { node: 'head-a', command: 'demote' },
      { node: 'head-b', command: 'promote' },
    ],
  });
  expect(plan.preconditions).toContainEqual(
    expect.objectContaining({ name: 'replication-lag-within-rpo', ok: true, value: 40, limit: 5000 }),
  );
  expect(plan.preconditions.every((p: { ok: boolean }) => p.ok)).toBe(true);
  // Nothing happened.
  expect((await stack.operations('switch')).filter((o) => o.kind === 'make-active')).toEqual([]);
  expect(a.runs('demote')).toEqual([]);

  const confirmed = await stack.makeActive('switch', {
    nodeId: 'head-b',
    confirm: true,
    reason: 'maintenance of head-a',
  });
  expect(confirmed.status).toBe(202);
  expect(confirmed.json).toMatchObject({ started: true });
  const operation = await stack.ended('switch', confirmed.json.operationId);
  await activeUnder(stack, 'switch', 'head-b', 2, ['head-a']);

  expect(operation).toMatchObject({
    kind: 'make-active',
    status: 'succeeded',
    actor: 'key:master',
    trigger: { kind: 'api' },
    targetNodeId: 'head-b',
    epoch: 1,
    toEpoch: 2,
  });
  expect(operation.steps.map((s: { id: string }) => s.id)).toEqual([
    'revoke-1',
    'demote-head-a-1',
    'ack-head-a-demote-1',
    'fenced-head-a-1',
    'promote-head-b-2',
    'ack-head-b-promote-2',
    'verify-head-b-2',
  ]);
  // Every step has its timings.
  const step = (id: string) => operation.steps.find((s: { id: string }) => s.id === id);
  for (const s of operation.steps) {
    expect(s).toMatchObject({ outcome: 'ok', startedAt: expect.any(Number), endedAt: expect.any(Number) });
    expect(s.endedAt).toBeGreaterThanOrEqual(s.startedAt);
    expect(s.startedAt).toBeGreaterThanOrEqual(operation.createdAt);
    expect(s.endedAt).toBeLessThanOrEqual(operation.endedAt);
  }
  // The agents' hook steps, from their acknowledgements: head-a's demotion acknowledged before head-b's promotion,
  // head-b's promotion acknowledged before it was verified.
  expect(step('ack-head-a-demote-1').detail).toMatchObject({
    commandId: 'demote-1',
    epoch: 1,
    hookSteps: [{ name: 'demote-marker', exitCode: 0, durationMs: expect.any(Number) }],
  });
  expect(step('ack-head-b-promote-2').detail).toMatchObject({
    commandId: 'promote-2',
    epoch: 2,
    hookSteps: [{ name: 'promote-marker', exitCode: 0, durationMs: expect.any(Number) }],
  });
  expect(step('ack-head-a-demote-1').endedAt).toBeLessThanOrEqual(step('promote-head-b-2').startedAt);
  expect(step('promote-head-b-2').startedAt).toBeLessThanOrEqual(step('ack-head-b-promote-2').endedAt);
  expect(step('ack-head-b-promote-2').endedAt).toBeLessThanOrEqual(step('verify-head-b-2').endedAt);
  expect(step('fenced-head-a-1').detail.evidence).toBe('head-a acknowledged its demotion from epoch 1');
  // The RTO: from the request to the new active verified, within the operation's life.
  expect(operation.rtoMs).toBeGreaterThan(0);
  expect(operation.rtoMs).toBeLessThanOrEqual(operation.endedAt - operation.createdAt);
  // The agents ran their hooks in order: head-a's demotion under epoch 1 before head-b's promotion under epoch 2.
  const [demoted] = a.runs('demote');
  const [promoted] = b.runs('promote');
  expect(demoted).toMatchObject({ commandId: 'demote-1', epoch: 1, operation: 'demote' });
  expect(promoted).toMatchObject({ commandId: 'promote-2', epoch: 2, operation: 'promote' });
  expect(demoted?.at).toBeLessThanOrEqual(promoted?.at as number);
  expect(b.runs('promote')).toHaveLength(1);
});

it('refuses a make-active whose target lags beyond the RPO objective, and runs it with force', async () => {
  await stack.declarePair('lagging', { detection: FAST, failover: { rpoObjectiveMs: 1000 } });
  stack.startAgent('lagging', 'head-a', { replicationLagMs: 0 });
  const b = stack.startAgent('lagging', 'head-b', { replicationLagMs: 4500 });
  await activeUnder(stack, 'lagging', 'head-a', 1, ['head-b']);
  await stack.until(
    'head-b reporting its lag',
    () => stack.status('lagging'),
    (s) => node(s, 'head-b').replicationLagMs === 4500,
  );

  const shown = await stack.makeActive('lagging', { nodeId: 'head-b' });
  expect(shown.status).toBe(200);
  expect(shown.json.plan).toMatchObject({ blockers: ['replication-lag-within-rpo'], canRun: false });
  expect(shown.json.plan.preconditions).toContainEqual(
    expect.objectContaining({ name: 'replication-lag-within-rpo', ok: false, value: 4500, limit: 1000 }),
  );

  const refused = await stack.makeActive('lagging', { nodeId: 'head-b', confirm: true });
  expect(refused.status).toBe(409);
  expect(refused.json).toMatchObject({
    error: { code: 'PreconditionsNotMet' },
  });
  expect(JSON.stringify(refused.json)).toContain('replication-lag-within-rpo');
  // Nothing started, nothing changed.
  expect((await stack.operations('lagging')).filter((o) => o.kind === 'make-active')).toEqual([]);
  expect(await stack.status('lagging')).toMatchObject({ epoch: 1, activeNodeId: 'head-a' });
  expect(b.runs('promote')).toEqual([]);

  const forced = await stack.makeActive('lagging', { nodeId: 'head-b', confirm: true, force: true });
  expect(forced.status).toBe(202);
  const operation = await stack.ended('lagging', forced.json.operationId);
  expect(operation).toMatchObject({ status: 'succeeded', toEpoch: 2, evidence: { force: true } });
  await activeUnder(stack, 'lagging', 'head-b', 2, ['head-a']);
  expect(b.runs('promote')).toEqual([expect.objectContaining({ epoch: 2 })]);
});

// Written last (see the report): a failed promote acknowledgement should trigger the roll-back at once; until the
// orchestration acts on it, the roll-back comes from the verify timeout (the target never takes its lease).
it('rolls back to the original active under a newer epoch when the target promote hook fails', async () => {
  await stack.declarePair('rollback', { detection: FAST });
  const a = stack.startAgent('rollback', 'head-a');
  const b = stack.startAgent('rollback', 'head-b', { promoteExitCode: 1 });
  await activeUnder(stack, 'rollback', 'head-a', 1, ['head-b']);

  const confirmed = await stack.makeActive('rollback', { nodeId: 'head-b', confirm: true });
  expect(confirmed.status).toBe(202);
  const operation = await stack.ended('rollback', confirmed.json.operationId);
  expect(operation).toMatchObject({
    kind: 'make-active',
    status: 'failed',
    reason: expect.stringMatching(/^rolled back: head-a is active again under epoch \d+/),
  });
  const epoch = operation.toEpoch as number;
  expect(epoch).toBeGreaterThan(2);
  expect(operation.reason).toContain(`under epoch ${epoch}`);
  await activeUnder(stack, 'rollback', 'head-a', epoch, ['head-b']);
  const rollBack = operation.steps.find((s: { id: string }) => s.id.startsWith('roll-back-'));
  expect(rollBack).toMatchObject({
    id: 'roll-back-2',
    outcome: 'warn',
    detail: { reason: expect.any(String) },
  });
  // head-b ran its promote hook once (it failed, and said so); head-a took the role back under epoch 3.
  expect(b.runs('promote')).toEqual([expect.objectContaining({ commandId: 'promote-2', epoch: 2 })]);
  await b.process.waitForLog(
    (r) => r.msg === 'command acknowledged' && r.commandId === 'promote-2' && r.outcome === 'failed',
    'the failed acknowledgement of promote-2',
  );
  expect(a.runs('promote').map((r) => r.epoch)).toEqual([1, epoch]);
  expect((await stack.status('rollback')).epoch).toBe(epoch);
  expect(a.runs('demote')).toEqual([expect.objectContaining({ commandId: 'demote-1', epoch: 1 })]);
  const audit = await stack.audit('rollback');
  expect(audit).toContainEqual(
    expect.objectContaining({
      action: 'make-active-failed',
      detail: expect.objectContaining({ operationId: operation.operationId, active: 'head-a', epoch }),
    }),
  );
});
