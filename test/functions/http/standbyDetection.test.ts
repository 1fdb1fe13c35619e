import { paths } from '../../../shared/contracts/routes';
import { agentRequest, startControlPlane, type ControlPlane } from '../../helpers/controlPlane';
import { request } from '../../helpers/durableHttp';
import { waitFor } from '../../helpers/waitFor';

/**
 * A standby's heartbeat is a detection witness: with the detector's timer switched off, the silence of the active
 * is still detected (recorded once, as the detector would) and its failover started, by the standby's heartbeat
 * that sees it first — within one standby heartbeat of the window's end rather than at the next detector round.
 */
let cp: ControlPlane;
const keys: Record<string, Buffer> = {};
let seq = 0;

beforeAll(async () => {
  cp = await startControlPlane({ 'AzureWebJobs.failureDetector.Disabled': 'true' });
  const declared = await request(`${cp.host.url}${paths.cluster('sd')}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: {
      id: 'sd',
      kind: 'active-passive',
      nodes: [
        { id: 'head-a', role: 'active', site: { cloud: 'on-prem', region: 'hall-1' } },
        { id: 'head-b', role: 'standby', site: { cloud: 'on-prem', region: 'hall-2' } },
      ],
      detection: { heartbeatIntervalMs: 250, missedHeartbeats: 4, leaseMs: 1000, driftMarginMs: 250 },
    },
  });
  expect(declared.status).toBe(201);
  for (const node of ['head-a', 'head-b']) {
    const issued = await request(`${cp.host.url}${paths.nodeKey('sd', node)}`, {
      method: 'POST',
      key: cp.adminKey,
    });
    keys[node] = Buffer.from(issued.json.key, 'base64');
  }
});
afterAll(async () => {
  await cp.stop();
});

const heartbeat = (nodeId: string, role: 'active' | 'standby', epoch: number) =>
  agentRequest(`${cp.host.url}${paths.agentHeartbeat()}`, {
    clusterId: 'sd',
    nodeId,
    key: keys[nodeId] as Buffer,
    seq: ++seq,
    body: { role, epoch, checks: [{ name: 'ping', status: 'ok' }] },
  });

it("detects the active's silence from the standby's heartbeats and starts the failover, with the detector off", async () => {
  expect((await heartbeat('head-a', 'active', 1)).json).toMatchObject({ role: 'active' });
  const heardAt = Date.now();
  // head-a goes silent; head-b keeps heartbeating, and is told to take over once the failover promotes it
  const promoted = await waitFor(
    async () => {
      const reply = (await heartbeat('head-b', 'standby', 1)).json;
      return reply.role === 'active' && reply;
    },
    { timeoutMs: 20_000, intervalMs: 250, description: 'head-b promoted' },
  );
  expect(promoted).toMatchObject({ epoch: 2 });
  const { operations } = (await request(`${cp.host.url}${paths.operations('sd')}`, { key: cp.functionKey }))
    .json;
  const detections = (operations as any[]).filter((o) => o.kind === 'failure-detected');
  expect(detections).toHaveLength(1);
  expect(detections[0]).toMatchObject({ operationId: expect.stringMatching(/^detect-1-/) });
  expect(detections[0].createdAt - heardAt).toBeGreaterThanOrEqual(1000); // not before the window
  const failover = (operations as any[]).find((o) => o.kind === 'failover');
  expect(failover).toMatchObject({ trigger: { kind: 'detector', reference: detections[0].operationId } });
});
