import { randomBytes } from 'node:crypto';
import { request } from '../../helpers/durableHttp';
import {
  agentRequest,
  startControlPlane,
  twoNodeCluster,
  type ControlPlane,
} from '../../helpers/controlPlane';
import { InstanceIds, Orchestrations } from '../../../orchestrations/contracts';
import { paths } from '../../../shared/contracts/routes';

let cp: ControlPlane;

beforeAll(async () => {
  cp = await startControlPlane();
});
afterAll(async () => {
  await cp.stop();
});

/** Declares a two-node cluster of its own for one test, with node keys; answers its epoch and a signed ack sender. */
async function cluster(id: string) {
  const declared = await request(`${cp.host.url}${paths.cluster(id)}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: twoNodeCluster(id),
  });
  expect(declared.status).toBe(201);
  const keys: Record<string, Buffer> = {};
  for (const node of ['head-a', 'head-b']) {
    const issued = await request(`${cp.host.url}${paths.nodeKey(id, node)}`, {
      method: 'POST',
      key: cp.adminKey,
    });
    keys[node] = Buffer.from(issued.json.key, 'base64');
  }
  const status = await request(`${cp.host.url}${paths.clusterStatus(id)}`, { key: cp.functionKey });
  const epoch = status.json.epoch as number;
  const ack = (nodeId: string, seq: number, body: unknown, key = keys[nodeId] as Buffer) =>
    agentRequest(`${cp.host.url}${paths.agentAck()}`, { clusterId: id, nodeId, key, seq, body });
  return { epoch, ack };
}

const body = (epoch: number) => ({
  commandId: `promote-${epoch}`,
  type: 'promote',
  epoch,
  outcome: 'ok',
  startedAt: new Date().toISOString(),
  finishedAt: new Date().toISOString(),
  steps: [{ name: 'takeover', exitCode: 0, durationMs: 20, outputTail: 'done\n' }],
});

const durable = (path: string) =>
  `${cp.host.url}/runtime/webhooks/durabletask/${path}${path.includes('?') ? '&' : '?'}code=${encodeURIComponent(
    cp.host.keys.systemKeys.durabletask_extension as string,
  )}`;

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('POST /api/v1/agent/ack', () => {
  it('records a signed acknowledgement; nothing runs for the cluster, so it is not delivered', async () => {
    const { epoch, ack } = await cluster('ack-a');
    const first = await ack('head-b', 1, body(epoch));
    expect(first).toEqual({ status: 200, json: { recorded: true, delivered: false } });
    // Re-sent (the answer was lost): harmless.
    expect(await ack('head-b', 2, body(epoch))).toEqual({
      status: 200,
      json: { recorded: true, delivered: false, duplicate: true },
    });
  });

  it('refuses a bad signature (401), a replayed sequence and an epoch ahead (409), an invalid body (422)', async () => {
    const { epoch, ack } = await cluster('ack-b');
    expect(await ack('head-b', 1, body(epoch), randomBytes(32))).toMatchObject({
      status: 401,
      json: { error: { code: 'BadSignature' } },
    });
    expect((await ack('head-b', 1, body(epoch))).status).toBe(200);
    expect(await ack('head-b', 1, { ...body(epoch), commandId: 'other' })).toMatchObject({
      status: 409,
      json: { error: { code: 'ReplayedSequence' } },
    });
    expect(await ack('head-b', 2, body(epoch + 1))).toMatchObject({
      status: 409,
      json: { error: { code: 'EpochAhead', currentEpoch: epoch } },
    });
    expect(await ack('head-b', 3, { ...body(epoch), outcome: 'fail' })).toMatchObject({
      status: 422,
      json: { error: { code: 'InvalidCommandAcknowledgement' } },
    });
  });

  it("raises the event `ack` to the cluster's running operation", async () => {
    const { epoch, ack } = await cluster('ack-c');
    // The failover orchestration is not built yet: any orchestration under the operation's id stands in for it,
    // waiting (a long window) with the event buffered in its history.
    const instanceId = InstanceIds.clusterOperation('ack-c');
    const started = await request(durable(`orchestrators/${Orchestrations.arbitration}/${instanceId}`), {
      method: 'POST',
      body: { clusterId: 'ack-c', epoch, windowMs: 600_000 },
    });
    expect(started.status).toBe(202);
    const status = () =>
      request(durable(`instances/${instanceId}?showHistory=true`)).then((r) => r.json as Record<string, any>);
    await until('the operation to run', status, (s) => s?.runtimeStatus === 'Running');

    expect(await ack('head-b', 1, body(epoch))).toEqual({
      status: 200,
      json: { recorded: true, delivered: true },
    });
    const raised = (s: Record<string, any>) =>
      ((s.history ?? []) as { EventType: string; FunctionName?: string }[]).filter(
        (e) => e.EventType === 'EventRaised' && e.FunctionName === 'ack',
      );
    const after = await until('the ack in its history', status, (s) => raised(s).length > 0);
    expect(raised(after)).toHaveLength(1);

    await request(durable(`instances/${instanceId}/terminate?reason=test-done`), { method: 'POST' });
  });
});
