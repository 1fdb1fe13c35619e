import { startLocalStack, type LocalStack, type PairSite } from '../helpers/localStack';
import { activeUnder } from './e2eSupport';

/**
 * The fence paths of an unplanned failover through the local stack. Each one that can confirm the old active fenced
 * lets the promotion happen before the old active's lease would have ended (a long lease makes the difference
 * plain); where nothing can confirm it (its region is down), the promotion waits out the lease plus the drift
 * margin. The old active's agent is "cut off" with SIGSTOP: it neither heartbeats nor acknowledges anything.
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

/** A lease far longer than the detection window (1.5 s), so "before the lease ended" is not a matter of luck. */
const LONG_LEASE = { heartbeatIntervalMs: 250, missedHeartbeats: 6, leaseMs: 10_000, driftMarginMs: 500 };

const stepOf = (operation: any, id: string) =>
  (operation.steps as { id: string; startedAt: number; outcome: string; detail?: any }[]).find(
    (s) => s.id === id,
  );

async function failoverOf(clusterId: string): Promise<any> {
  const operations = await stack.until(
    `the failover of ${clusterId}`,
    () => stack.operations(clusterId),
    (ops) => ops.some((o) => o.kind === 'failover'),
  );
  return stack.ended(clusterId, operations.find((o) => o.kind === 'failover').operationId);
}

describe.each<[string, PairSite, RegExp]>([
  ['an Azure VM', 'azure', /^(stopped|deallocated)$/],
  ['an OCI instance', 'oci', /^stopped$/],
])('cloud power-off of %s', (_what, site, stoppedState) => {
  it('fences the cut-off active through its cloud and promotes before its lease would have ended', async () => {
    const clusterId = `power-${site}`;
    const pair = await stack.declarePair(clusterId, { detection: LONG_LEASE, active: site });
    const a = stack.startAgent(clusterId, 'head-a');
    const b = stack.startAgent(clusterId, 'head-b');
    const before = await activeUnder(stack, clusterId, 'head-a', 1, ['head-b']);
    // The lease only grows while head-a heartbeats: this is a lower bound of the one it holds when cut off.
    const leaseAtLeastUntil = Date.parse(before.leaseExpiresAt);

    await a.kill('SIGSTOP');
    await activeUnder(stack, clusterId, 'head-b', 2);
    const failover = await failoverOf(clusterId);
    expect(failover).toMatchObject({ status: 'succeeded', trigger: { kind: 'detector' }, toEpoch: 2 });
    expect(stepOf(failover, 'fence-head-a-1')).toMatchObject({
      name: 'fence head-a (power-off)',
      outcome: 'ok',
    });
    expect(stepOf(failover, 'fenced-head-a-1')?.detail).toEqual({
      evidence: 'the cloud shows head-a stopped (epoch 1)',
    });
    const promotedAt = stepOf(failover, 'promote-head-b-2')?.startedAt as number;
    expect(promotedAt).toBeLessThan(leaseAtLeastUntil);
    expect((await stack.vm(pair.vm['head-a'] as string))?.powerState).toMatch(stoppedState);
    // head-a's agent did nothing (it is cut off): the cloud fenced it.
    expect(a.runs('demote')).toEqual([]);
    expect(b.runs('promote')).toEqual([expect.objectContaining({ epoch: 2 })]);
  });
});

it('fences a live active by its demotion acknowledgement and promotes before its lease would have ended', async () => {
  // On premises: no cloud to power it off, so the agent's acknowledged demotion is the fence.
  await stack.declarePair('demote', { detection: LONG_LEASE, active: 'on-prem', standby: 'on-prem' });
  const a = stack.startAgent('demote', 'head-a');
  const b = stack.startAgent('demote', 'head-b');
  const before = await activeUnder(stack, 'demote', 'head-a', 1, ['head-b']);
  const leaseAtLeastUntil = Date.parse(before.leaseExpiresAt);

  const started = await stack.failover('demote', { reason: 'move off head-a now' });
  expect(started.status).toBe(202);
  const failover = await stack.ended('demote', started.json.operationId);
  await activeUnder(stack, 'demote', 'head-b', 2, ['head-a']);
  expect(failover).toMatchObject({
    status: 'succeeded',
    trigger: { kind: 'api' },
    actor: 'key:master',
    toEpoch: 2,
  });
  expect(stepOf(failover, 'fence-head-a-1')).toMatchObject({ name: 'fence head-a (demote)', outcome: 'ok' });
  expect(stepOf(failover, 'fenced-head-a-1')?.detail).toEqual({
    evidence: 'head-a acknowledged its demotion from epoch 1',
  });
  // head-a received the demotion under epoch 1, ran its hook and acknowledged; then head-b was promoted.
  const [demoted] = a.runs('demote');
  expect(demoted).toMatchObject({ commandId: 'demote-1', epoch: 1 });
  const promotedAt = stepOf(failover, 'promote-head-b-2')?.startedAt as number;
  expect(promotedAt).toBeGreaterThanOrEqual(demoted?.at as number);
  expect(promotedAt).toBeLessThan(leaseAtLeastUntil);
  expect(b.runs('promote')).toEqual([expect.objectContaining({ epoch: 2 })]);
});

/**
 * The old active's region is down: the simulator refuses (or never answers) every request about head-a's VM, and
 * head-a's agent is unreachable. Nothing can confirm a fence; the promotion must come once the recorded lease plus
 * the drift margin has passed — no earlier, and without waiting on the unreachable cloud much longer than that.
 */
async function regionDown(clusterId: string, down: 'refuse' | 'hang'): Promise<void> {
  const detection = { heartbeatIntervalMs: 250, missedHeartbeats: 6, leaseMs: 3000, driftMarginMs: 500 };
  const pair = await stack.declarePair(clusterId, { detection });
  const a = stack.startAgent(clusterId, 'head-a');
  const b = stack.startAgent(clusterId, 'head-b');
  await activeUnder(stack, clusterId, 'head-a', 1, ['head-b']);

  await stack.setRegionDown('azure', pair.region['head-a'], down);
  try {
    await a.kill('SIGSTOP');
    // The recorded lease of the revoked epoch, read while the failover waits on it.
    const revoked = await stack.until(
      'the failover to revoke epoch 1',
      () => stack.status(clusterId),
      (s) => s.revoked === true || s.epoch > 1,
    );
    expect(revoked).toMatchObject({ revoked: true, epoch: 1 });
    const leaseEndedAt = Date.parse(revoked.leaseExpiresAt);

    await activeUnder(stack, clusterId, 'head-b', 2);
    const failover = await failoverOf(clusterId);
    expect(failover).toMatchObject({ status: 'succeeded', toEpoch: 2 });
    // No fence was confirmed: the power-off attempt ended when the lease ran out.
    expect(stepOf(failover, 'fenced-head-a-1')).toBeUndefined();
    expect(stepOf(failover, 'fence-head-a-1')).toMatchObject({
      name: 'fence head-a (power-off)',
      outcome: 'warn',
      detail: { endedBy: 'the old lease and the drift margin ran out' },
    });
    const promotedAt = stepOf(failover, 'promote-head-b-2')?.startedAt as number;
    expect(promotedAt).toBeGreaterThanOrEqual(leaseEndedAt + detection.driftMarginMs);
    expect((await stack.vm(pair.vm['head-a'] as string))?.powerState).toBe('running');
    expect(b.runs('promote')).toEqual([expect.objectContaining({ epoch: 2 })]);
  } finally {
    await stack.setRegionDown('azure', pair.region['head-a'], null);
  }
}

it('waits out the lease and the drift margin when the old active region refuses every request', async () => {
  await regionDown('regiondown', 'refuse');
});

// The fence's power-off is followed at most min(lease, 10 s) and a power-state read at most 3 s: a region that never
// answers costs a bounded wait, and the lease wait decides.
it('waits out the lease and the drift margin, not the cloud, when the old active region never answers', async () => {
  await regionDown('regionhang', 'hang');
});

it('fences a cut-off active through the fencer node fence-peer hook and promotes before its lease would have ended', async () => {
  // On premises: no cloud to power head-a off, and head-a is cut off (no demotion): only the fencer can fence it.
  await stack.declarePair('peer', {
    detection: LONG_LEASE,
    active: 'on-prem',
    standby: 'on-prem',
    fencer: true,
  });
  const a = stack.startAgent('peer', 'head-a');
  const b = stack.startAgent('peer', 'head-b');
  const fencer = stack.startAgent('peer', 'fencer', { fencePeer: true });
  const before = await activeUnder(stack, 'peer', 'head-a', 1, ['head-b', 'fencer']);
  const leaseAtLeastUntil = Date.parse(before.leaseExpiresAt);

  await a.kill('SIGSTOP');
  await activeUnder(stack, 'peer', 'head-b', 2);
  const failover = await failoverOf('peer');
  expect(failover).toMatchObject({ status: 'succeeded', trigger: { kind: 'detector' }, toEpoch: 2 });
  // The fencer ran its fence-peer hook against head-a under the revoked epoch, once, and acknowledged it.
  const [fenced] = fencer.runs('fencePeer');
  expect(fencer.runs('fencePeer')).toHaveLength(1);
  expect(fenced).toMatchObject({ operation: 'fence-peer', epoch: 1, target: 'head-a' });
  expect(stepOf(failover, 'fenced-head-a-1')?.detail).toEqual({
    evidence: 'fencer fenced head-a through its fence-peer hook (epoch 1)',
  });
  const promotedAt = stepOf(failover, 'promote-head-b-2')?.startedAt as number;
  expect(promotedAt).toBeGreaterThanOrEqual(fenced?.at as number);
  expect(promotedAt).toBeLessThan(leaseAtLeastUntil);
  expect(a.runs('demote')).toEqual([]);
  expect(fencer.runs('promote')).toEqual([]);
  expect(b.runs('promote')).toEqual([expect.objectContaining({ epoch: 2 })]);
});
