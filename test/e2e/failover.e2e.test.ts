import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InstanceIds } from '../../orchestrations/contracts';
import { startLocalStack, type LocalStack, type StackAgent } from '../helpers/localStack';
import { activeUnder, FAST } from './e2eSupport';

/**
 * Unplanned failover through the local stack: the control plane in a devhost with the cloud simulator, and real
 * agent processes whose hooks write marker files.
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

async function pairUp(clusterId: string): Promise<{ a: StackAgent; b: StackAgent }> {
  const a = stack.startAgent(clusterId, 'head-a');
  const b = stack.startAgent(clusterId, 'head-b');
  await activeUnder(stack, clusterId, 'head-a', 1, ['head-b']);
  return { a, b };
}

it('takes over a killed active with the standby under a new epoch; the old agent, restarted, stays standby and never promotes again', async () => {
  const pair = await stack.declarePair('kill', { detection: FAST });
  const { a, b } = await pairUp('kill');
  expect(a.runs('promote')).toEqual([expect.objectContaining({ commandId: 'promote-1', epoch: 1 })]);

  await a.kill('SIGKILL');
  const status = await activeUnder(stack, 'kill', 'head-b', 2);
  expect(status.witness).toMatchObject({ epoch: 2, activeNodeId: 'head-b' });
  expect(b.runs('promote')).toEqual([
    expect.objectContaining({ operation: 'promote', commandId: 'promote-2', epoch: 2 }),
  ]);

  // The detector started it: one detection, one failover, both ended, the failover with its steps and RTO.
  const operations = await stack.operations('kill');
  const detection = operations.find((o) => o.kind === 'failure-detected');
  const failover = await stack.ended(
    'kill',
    operations.find((o) => o.kind === 'failover')?.operationId as string,
  );
  expect(operations.filter((o) => o.kind === 'failover')).toHaveLength(1);
  expect(failover).toMatchObject({
    status: 'succeeded',
    trigger: { kind: 'detector', reference: detection.operationId },
    epoch: 1,
    toEpoch: 2,
    rtoMs: expect.any(Number),
  });
  expect(failover.steps.map((s: { id: string }) => s.id)).toEqual([
    'revoke-1',
    'fence-head-a-1',
    'fenced-head-a-1',
    'target-head-b',
    'promote-head-b-2',
    'ack-head-b-promote-2',
    'verify-head-b-2',
  ]);
  await stack.until(
    'the detection to end with its failover',
    () => stack.operation('kill', detection.operationId),
    (d) => d.status === 'succeeded',
  );
  // The fence was the cloud's: head-a's VM is off, by one power-off.
  expect((await stack.vm(pair.vm['head-a'] as string))?.powerState).toMatch(/^(stopped|deallocated)$/);
  const actions = await stack.sim('GET', '/admin/arm/actions');
  expect(
    (actions.actions as { action: string; resourceId: string }[]).filter(
      (x) => x.action === 'powerOff' && x.resourceId.toLowerCase() === pair.vm['head-a']?.toLowerCase(),
    ),
  ).toHaveLength(1);

  // head-a's agent comes back: it demotes itself for the epoch it held, then is told standby.
  await a.restart();
  await stack.until(
    'three heartbeats of the restarted head-a answered standby under epoch 2',
    () =>
      Promise.resolve(
        a.process.logs.filter(
          (r) => r.msg === 'heartbeat' && r.replyRole === 'standby' && r.replyEpoch === 2,
        ),
      ),
    (beats) => beats.length >= 3,
  );
  const after = await stack.status('kill');
  expect(after).toMatchObject({ epoch: 2, activeNodeId: 'head-b' });
  expect(after.nodes.find((n: { nodeId: string }) => n.nodeId === 'head-a')).toMatchObject({
    reportedRole: 'standby',
  });
  // Its promote hook ran once, for epoch 1, before the crash: never again.
  expect(a.runs('promote')).toEqual([expect.objectContaining({ commandId: 'promote-1', epoch: 1 })]);
  expect(a.runs('demote')).toEqual([expect.objectContaining({ epoch: 1, role: 'standby' })]);
  expect(b.runs('demote')).toEqual([]);
  expect(a.process.logs.filter((r) => r.msg === 'active')).toEqual([]);
});

function alertOn(resourceId: string): unknown {
  const fixture = JSON.parse(
    readFileSync(path.join(__dirname, '../fixtures/alerts/metric-vm-fired.json'), 'utf8'),
  );
  fixture.data.essentials.alertTargetIDs = [resourceId];
  fixture.data.essentials.configurationItems = [resourceId.split('/').at(-1)];
  return fixture;
}

it('starts one failover for the detector, five copies of an alert and an operator request at once', async () => {
  const pair = await stack.declarePair('storm', { detection: FAST });
  const { a, b } = await pairUp('storm');

  // head-a dies. The detector records the silence and starts its failover; the moment that failover has taken the
  // detection in hand (running), the alert arrives five times (an action group's retries) and an operator asks for
  // a failover too.
  await a.kill('SIGKILL');
  const detection = await stack.until(
    'the detection of head-a, handled by its failover',
    () => stack.operations('storm'),
    (ops) => ops.some((o) => o.kind === 'failure-detected' && o.status === 'running'),
  );
  const alert = alertOn(pair.vm['head-a'] as string);
  const answers = await Promise.all([
    ...Array.from({ length: 5 }, () => stack.alert(alert)),
    stack.failover('storm', { reason: 'head-a is not answering (operator)' }),
  ]);
  const manual = answers[5] as { status: number; json: { operationId: string; started: boolean } };
  expect(manual.status).toBe(202);

  await activeUnder(stack, 'storm', 'head-b', 2);
  const operations = await stack.until(
    'every operation of storm to end',
    () => stack.operations('storm'),
    (ops) => ops.every((o) => o.status !== 'pending' && o.status !== 'running'),
  );
  const failovers = operations.filter((o) => o.kind === 'failover');
  const changed = failovers.filter((o) => o.status === 'succeeded');
  expect(changed).toHaveLength(1);
  const winner = changed[0];
  // The detector's failover is the one: it handled the detection, which ended with it.
  const detected = detection.find((o) => o.kind === 'failure-detected');
  expect(winner).toMatchObject({
    trigger: { kind: 'detector', reference: detected.operationId },
    toEpoch: 2,
  });
  expect(operations.find((o) => o.operationId === detected.operationId)).toMatchObject({
    status: 'succeeded',
    outcome: expect.objectContaining({ operationId: winner.operationId }),
  });
  // The operator's request joined it.
  expect(manual.json).toMatchObject({ operationId: winner.operationId, started: false });
  // Each alert joined it (202) or, arriving after head-a's lease was revoked, found no active to fail over (200).
  for (const answer of answers.slice(0, 5)) {
    expect([200, 202]).toContain(answer.status);
    const joined = (answer.json.operations ?? []) as { operationId: string; started: boolean }[];
    for (const op of joined)
      expect(op).toEqual({ clusterId: 'storm', operationId: winner.operationId, started: false });
  }
  // Nothing else ran: the other failover records (none expected) ended without a change.
  for (const other of failovers.filter((o) => o !== winner))
    expect(other.status).toMatch(/^(refused|superseded)$/);
  const audit = await stack.audit('storm');
  expect(audit.filter((e) => e.action === 'alert-received')).toHaveLength(5);
  expect(audit.filter((e) => e.action === 'promoted')).toHaveLength(1);
  expect(audit.filter((e) => e.action === 'failover-started')).toHaveLength(1);
  // One promote hook, one power-off of head-a's VM, one epoch change.
  expect(b.runs('promote')).toEqual([expect.objectContaining({ epoch: 2 })]);
  const actions = await stack.sim('GET', '/admin/arm/actions');
  expect(
    (actions.actions as { action: string; resourceId: string }[]).filter(
      (x) => x.action === 'powerOff' && x.resourceId.toLowerCase() === pair.vm['head-a']?.toLowerCase(),
    ),
  ).toHaveLength(1);
  expect((await stack.status('storm')).epoch).toBe(2);
});

it('refuses and records a second automatic failover within the cooldown; an operator can still fail over', async () => {
  await stack.declarePair('flap', {
    detection: FAST,
    failover: { cooldownMs: 600_000 },
  });
  const { a, b } = await pairUp('flap');
  await a.kill('SIGKILL');
  await activeUnder(stack, 'flap', 'head-b', 2);
  await a.restart();
  await stack.until(
    'head-a back as a standby',
    () => stack.status('flap'),
    (s) => s.nodes.find((n: { nodeId: string }) => n.nodeId === 'head-a')?.reportedRole === 'standby',
  );

  // head-b dies too, well within the cooldown of the first failover: the detector notices, the failover refuses.
  await b.kill('SIGKILL');
  const refused = await stack.until(
    'the second failover to be refused',
    () => stack.operations('flap'),
    (ops) => ops.some((o) => o.kind === 'failover' && o.status === 'refused'),
  );
  const second = refused.find((o) => o.kind === 'failover' && o.status === 'refused');
  expect(second).toMatchObject({
    trigger: { kind: 'detector' },
    epoch: 2,
    reason: expect.stringMatching(/cooldown \(600000 ms\) lifts at/),
    endedAt: expect.any(Number),
  });
  expect(second.steps ?? []).toEqual([]);
  // Its detection ended with it, refused, and the audit says who refused what and why.
  const detection = refused.find((o) => o.operationId === second.trigger.reference);
  await stack.until(
    'the second detection to end refused',
    () => stack.operation('flap', detection.operationId),
    (d) => d.status === 'refused',
  );
  const audit = await stack.audit('flap');
  expect(audit).toContainEqual(
    expect.objectContaining({
      action: 'failover-refused',
      actor: 'controller',
      detail: expect.objectContaining({
        operationId: second.operationId,
        reason: expect.stringContaining('cooldown'),
      }),
    }),
  );
  // The refusal code is in the orchestration's result, and recorded with the operation and in its audit entry.
  const refusedEntry = audit.find(
    (e) => e.action === 'failover-refused' && e.detail.operationId === second.operationId,
  );
  const codeRecorded = {
    operation: JSON.stringify(second).includes('"CoolingDown"'),
    audit: JSON.stringify(refusedEntry).includes('"CoolingDown"'),
  };
  const code = stack.cp.host.keys.systemKeys.durabletask_extension as string;
  const instance = await fetch(
    `${stack.url}/runtime/webhooks/durabletask/instances/${InstanceIds.clusterOperation('flap')}?code=${code}`,
  ).then((r) => r.json() as Promise<any>);
  expect(instance.output).toMatchObject({
    status: 'refused',
    code: 'CoolingDown',
    operationId: second.operationId,
  });
  const status = await stack.status('flap');
  expect(status).toMatchObject({ epoch: 2, activeNodeId: 'head-b' });
  expect(a.runs('promote')).toEqual([expect.objectContaining({ epoch: 1 })]);

  // An operator is not held back by the anti-flapping policy.
  const manual = await stack.failover('flap', { reason: 'head-b is gone too' });
  expect(manual.status).toBe(202);
  expect(await stack.ended('flap', manual.json.operationId)).toMatchObject({
    status: 'succeeded',
    toEpoch: 3,
  });
  await activeUnder(stack, 'flap', 'head-a', 3);
  expect(a.runs('promote').map((r) => r.epoch)).toEqual([1, 3]);
  // Last, so that everything above is checked either way: the code must be on the record, not only in the result.
  expect(codeRecorded).toEqual({ operation: true, audit: true });
});
