import { request } from '../../helpers/durableHttp';
import { agentRequest, startControlPlane, type ControlPlane } from '../../helpers/controlPlane';
import { paths } from '../../../shared/contracts/routes';

let cp: ControlPlane;
const ok = [
  { name: 'failoverping', status: 'fail' },
  { name: 'database', status: 'ok' },
];

beforeAll(async () => {
  cp = await startControlPlane();
});
afterAll(async () => {
  await cp.stop();
});

/** Declares a two-node witness cluster of its own for one test (no test depends on another), with node keys. */
async function pair(id: string) {
  const document = {
    id,
    kind: 'two-node-witness',
    nodes: [
      { id: 'ase-1', role: 'active', site: { cloud: 'on-prem', region: 'plant-a' } },
      { id: 'ase-2', role: 'standby', site: { cloud: 'on-prem', region: 'plant-a' } },
    ],
    witness: { arbitrationWindowMs: 300 },
  };
  const declared = await request(`${cp.host.url}${paths.cluster(id)}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: document,
  });
  expect(declared.status).toBe(201);
  const keys: Record<string, Buffer> = {};
  for (const node of ['ase-1', 'ase-2']) {
    const issued = await request(`${cp.host.url}${paths.nodeKey(id, node)}`, {
      method: 'POST',
      key: cp.adminKey,
    });
    keys[node] = Buffer.from(issued.json.key, 'base64');
  }
  const signed = (path: string, nodeId: string, seq: number, body: unknown) =>
    agentRequest(`${cp.host.url}${path}`, { clusterId: id, nodeId, key: keys[nodeId] as Buffer, seq, body });
  return {
    ask: (nodeId: string, seq: number, body: unknown) => signed(paths.agentArbitrate(), nodeId, seq, body),
    heartbeat: (nodeId: string, seq: number, body: unknown) =>
      signed(paths.agentHeartbeat(), nodeId, seq, body),
  };
}

it('grants the vote to exactly one side of a partition: the healthy active keeps it, the standby must fence', async () => {
  const { ask, heartbeat } = await pair('pair');
  // The active holds a lease, then both nodes lose each other and ask the witness at the same time.
  const hb = await heartbeat('ase-1', 1, { role: 'active', epoch: 1, checks: ok });
  expect(hb.json.role).toBe('active');
  const [a, b] = await Promise.all([
    ask('ase-1', 2, { epoch: 1, checks: ok }),
    ask('ase-2', 1, { epoch: 1, checks: ok }),
  ]);
  expect(a).toMatchObject({
    status: 200,
    json: { decision: 'won', epoch: 2, role: 'active', fence: false, winner: 'ase-1' },
  });
  expect(b).toMatchObject({
    status: 200,
    json: { decision: 'lost', epoch: 2, role: 'standby', fence: true, winner: 'ase-1' },
  });
  const status = (await request(`${cp.host.url}${paths.clusterStatus('pair')}`, { key: cp.functionKey }))
    .json;
  expect(status).toMatchObject({
    epoch: 2,
    activeNodeId: 'ase-1',
    witness: { epoch: 2, activeNodeId: 'ase-1', decidedBy: 'arbitrate-pair-1' },
  });
  // The active's heartbeat under the old epoch is still granted and learns the new epoch.
  const next = await heartbeat('ase-1', 3, { role: 'active', epoch: 1, checks: ok });
  expect(next.json).toMatchObject({ role: 'active', epoch: 2 });
});

it('refuses a replayed arbitration request, a malformed one, and one naming another epoch, starting nothing', async () => {
  const { ask } = await pair('refusals');
  expect((await ask('ase-2', 1, { epoch: 1, checks: ok })).status).toBe(200);
  const replay = await ask('ase-2', 1, { epoch: 2, checks: ok });
  expect(replay).toMatchObject({
    status: 409,
    json: { error: { code: 'ReplayedSequence', lastAcceptedSeq: 1 } },
  });
  expect((await ask('ase-2', 50, { epoch: 0 })).status).toBe(422);
  // The first arbitration raised the epoch to 2: epoch 1 is stale, epoch 9 is ahead. Neither starts an arbitration.
  const stale = await ask('ase-2', 51, { epoch: 1, checks: ok });
  expect(stale).toMatchObject({ status: 409, json: { error: { code: 'StaleEpoch', currentEpoch: 2 } } });
  const ahead = await ask('ase-2', 52, { epoch: 9, checks: ok });
  expect(ahead).toMatchObject({ status: 409, json: { error: { code: 'EpochAhead', currentEpoch: 2 } } });
  const code = cp.host.keys.systemKeys.durabletask_extension;
  for (const epoch of [9, 2]) {
    const instance = await request(
      `${cp.host.url}/runtime/webhooks/durabletask/instances/arbitrate-refusals-${epoch}?code=${code}`,
    );
    expect(instance.status).toBe(404);
  }
  const status = (await request(`${cp.host.url}${paths.clusterStatus('refusals')}`, { key: cp.functionKey }))
    .json;
  expect(status.epoch).toBe(2);
});

it('starts a terminated arbitration of the same epoch afresh instead of answering from it forever', async () => {
  const { ask } = await pair('restart');
  const epoch = 1;
  const code = cp.host.keys.systemKeys.durabletask_extension;
  const api = `${cp.host.url}/runtime/webhooks/durabletask`;
  const started = await request(
    `${api}/orchestrators/arbitrationOrchestrator/arbitrate-restart-${epoch}?code=${code}`,
    {
      method: 'POST',
      body: { clusterId: 'restart', epoch, windowMs: 600_000 },
    },
  );
  expect(started.status).toBe(202);
  await request(`${api}/instances/arbitrate-restart-${epoch}/terminate?reason=stuck&code=${code}`, {
    method: 'POST',
  });
  const deadline = Date.now() + 10_000;
  while (
    (await request(`${api}/instances/arbitrate-restart-${epoch}?code=${code}`)).json.runtimeStatus !==
    'Terminated'
  ) {
    if (Date.now() > deadline) throw new Error('the arbitration was not terminated');
    await new Promise((r) => setTimeout(r, 20));
  }
  const answer = await ask('ase-2', 1, { epoch, checks: ok });
  expect(answer.status).toBe(200);
  expect(answer.json).toMatchObject({ decision: expect.stringMatching(/^(won|lost)$/), epoch: epoch + 1 });
});
