import { request } from '../../helpers/durableHttp';
import { agentRequest, startControlPlane, type ControlPlane } from '../../helpers/controlPlane';
import { paths } from '../../../shared/contracts/routes';

let cp: ControlPlane;
const keys: Record<string, Buffer> = {};
const ok = [
  { name: 'failoverping', status: 'fail' },
  { name: 'database', status: 'ok' },
];

beforeAll(async () => {
  cp = await startControlPlane();
  const document = {
    id: 'pair',
    kind: 'two-node-witness',
    nodes: [
      { id: 'ase-1', role: 'active', site: { cloud: 'on-prem', region: 'plant-a' } },
      { id: 'ase-2', role: 'standby', site: { cloud: 'on-prem', region: 'plant-a' } },
    ],
    witness: { arbitrationWindowMs: 300 },
  };
  expect(
    (
      await request(`${cp.host.url}${paths.cluster('pair')}`, {
        method: 'PUT',
        key: cp.adminKey,
        body: document,
      })
    ).status,
  ).toBe(201);
  for (const node of ['ase-1', 'ase-2']) {
    keys[node] = Buffer.from(
      (
        await request(`${cp.host.url}${paths.nodeKey('pair', node)}`, {
          method: 'POST',
          key: cp.adminKey,
        })
      ).json.key,
      'base64',
    );
  }
});
afterAll(async () => {
  await cp.stop();
});

const ask = (nodeId: string, seq: number, body: unknown) =>
  agentRequest(`${cp.host.url}${paths.agentArbitrate()}`, {
    clusterId: 'pair',
    nodeId,
    key: keys[nodeId] as Buffer,
    seq,
    body,
  });

it('grants the vote to exactly one side of a partition: the healthy active keeps it, the standby must fence', async () => {
  // The active holds a lease, then both nodes lose each other and ask the witness at the same time.
  const hb = await agentRequest(`${cp.host.url}${paths.agentHeartbeat()}`, {
    clusterId: 'pair',
    nodeId: 'ase-1',
    key: keys['ase-1'] as Buffer,
    seq: 1,
    body: { role: 'active', epoch: 1, checks: ok },
  });
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
  const next = await agentRequest(`${cp.host.url}${paths.agentHeartbeat()}`, {
    clusterId: 'pair',
    nodeId: 'ase-1',
    key: keys['ase-1'] as Buffer,
    seq: 3,
    body: { role: 'active', epoch: 1, checks: ok },
  });
  expect(next.json).toMatchObject({ role: 'active', epoch: 2 });
});

it('refuses a replayed arbitration request and a malformed one', async () => {
  const replay = await ask('ase-2', 1, { epoch: 2, checks: ok });
  expect(replay).toMatchObject({
    status: 409,
    json: { error: { code: 'ReplayedSequence', lastAcceptedSeq: 1 } },
  });
  expect((await ask('ase-2', 50, { epoch: 0 })).status).toBe(422);
  expect((await ask('ase-2', 51, { epoch: 9 })).json.error.code).toBe('EpochAhead');
});

it('starts a terminated arbitration of the same epoch afresh instead of answering from it forever', async () => {
  const status = (await request(`${cp.host.url}${paths.clusterStatus('pair')}`, { key: cp.functionKey }))
    .json;
  const epoch = status.epoch as number;
  const code = cp.host.keys.systemKeys.durabletask_extension;
  const api = `${cp.host.url}/runtime/webhooks/durabletask`;
  const started = await request(
    `${api}/orchestrators/arbitrationOrchestrator/arbitrate-pair-${epoch}?code=${code}`,
    {
      method: 'POST',
      body: { clusterId: 'pair', epoch, windowMs: 600_000 },
    },
  );
  expect(started.status).toBe(202);
  await request(`${api}/instances/arbitrate-pair-${epoch}/terminate?reason=stuck&code=${code}`, {
    method: 'POST',
  });
  const deadline = Date.now() + 10_000;
  while (
    (await request(`${api}/instances/arbitrate-pair-${epoch}?code=${code}`)).json.runtimeStatus !==
    'Terminated'
  ) {
    if (Date.now() > deadline) throw new Error('the arbitration was not terminated');
    await new Promise((r) => setTimeout(r, 20));
  }
  const answer = await ask('ase-2', 300, { epoch, checks: ok });
  expect(answer.status).toBe(200);
  expect(answer.json).toMatchObject({ decision: expect.stringMatching(/^(won|lost)$/), epoch: epoch + 1 });
});
