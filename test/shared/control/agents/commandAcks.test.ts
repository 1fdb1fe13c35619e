import type { RunningAzurite } from '../../../../devhost';
import type { VerifiedRequest } from '../../../../shared/auth/signedRequest';
import type { CommandAckBody } from '../../../../shared/contracts/agentApi';
import { acceptCommandAck, ackCounts } from '../../../../shared/control/agents/commandAcks';
import { declareCluster } from '../../../../shared/control/clusters/clusterAdmin';
import type { Services } from '../../../../shared/services/services';
import { servicesOnAzurite } from '../../../helpers/servicesOnAzurite';
import { twoNodeCluster } from '../../../helpers/controlPlane';

let azurite: RunningAzurite;
let services: Services;
const T0 = Date.UTC(2030, 0, 1);
let clock = T0;

beforeAll(async () => {
  ({ azurite, services } = await servicesOnAzurite('Ack', () => clock));
});
afterAll(async () => {
  await azurite.stop();
});
beforeEach(() => {
  clock = T0;
});

const signed = (clusterId: string, nodeId: string, seq: number): VerifiedRequest => ({
  ok: true,
  clusterId,
  nodeId,
  keyVersion: 1,
  seq,
  timestamp: clock,
});

const ack = (epoch: number, change: Partial<CommandAckBody> = {}): CommandAckBody => ({
  commandId: `promote-${epoch}`,
  type: 'promote',
  epoch,
  outcome: 'ok',
  steps: [{ name: 'takeover', exitCode: 0, durationMs: 1500, outputTail: 'ok\n' }],
  ...change,
});

/** Declares a cluster and answers its epoch. */
async function cluster(id: string): Promise<number> {
  await declareCluster(services, id, twoNodeCluster(id), 'test');
  const stored = await services.clusters.getState(id);
  return stored!.state.epoch;
}

const acknowledgements = async (clusterId: string) =>
  (await services.audit.recent(clusterId)).filter((e) => e.action === 'command-acknowledged');

describe('acceptCommandAck', () => {
  it('records an acknowledgement once, audits it, and answers a duplicate with the first record', async () => {
    const epoch = await cluster('ack1');
    const first = await acceptCommandAck(services, signed('ack1', 'head-b', 1), ack(epoch));
    expect(first).toEqual({
      ok: true,
      duplicate: false,
      event: {
        clusterId: 'ack1',
        nodeId: 'head-b',
        commandId: `promote-${epoch}`,
        type: 'promote',
        epoch,
        outcome: 'ok',
        steps: ack(epoch).steps,
        receivedAt: new Date(T0).toISOString(),
      },
    });
    // The agent re-sends (a lost answer), later and with another outcome: harmless, the first stands.
    clock = T0 + 5000;
    const again = await acceptCommandAck(
      services,
      signed('ack1', 'head-b', 2),
      ack(epoch, { outcome: 'failed' }),
    );
    expect(again).toEqual({ ...first, duplicate: true });
    expect(await services.commandAcks.get('ack1', 'head-b', `promote-${epoch}`)).toMatchObject({
      event: { outcome: 'ok', receivedAt: new Date(T0).toISOString() },
    });
    expect(await acknowledgements('ack1')).toEqual([
      expect.objectContaining({
        actor: 'node:head-b',
        detail: expect.objectContaining({ commandId: `promote-${epoch}`, outcome: 'ok' }) as unknown,
      }),
    ]);
  });

  it('keeps the acknowledgements of one command id by two nodes apart', async () => {
    const epoch = await cluster('ack2');
    const a = await acceptCommandAck(services, signed('ack2', 'head-a', 1), ack(epoch, { commandId: 'x' }));
    const b = await acceptCommandAck(services, signed('ack2', 'head-b', 1), ack(epoch, { commandId: 'x' }));
    expect([a, b]).toMatchObject([
      { ok: true, duplicate: false, event: { nodeId: 'head-a' } },
      { ok: true, duplicate: false, event: { nodeId: 'head-b' } },
    ]);
  });

  it('refuses an epoch ahead of the cluster and records nothing', async () => {
    const epoch = await cluster('ack3');
    const refused = await acceptCommandAck(services, signed('ack3', 'head-b', 1), ack(epoch + 1));
    expect(refused).toMatchObject({
      ok: false,
      kind: 'conflict',
      code: 'EpochAhead',
      details: { currentEpoch: epoch },
    });
    expect(await services.commandAcks.get('ack3', 'head-b', `promote-${epoch + 1}`)).toBeUndefined();
    expect(await acknowledgements('ack3')).toEqual([]);
  });

  it('refuses a replayed sequence number', async () => {
    const epoch = await cluster('ack4');
    expect(await acceptCommandAck(services, signed('ack4', 'head-b', 7), ack(epoch))).toMatchObject({
      ok: true,
    });
    const replayed = await acceptCommandAck(
      services,
      signed('ack4', 'head-b', 7),
      ack(epoch, { commandId: 'demote-9', type: 'demote' }),
    );
    expect(replayed).toMatchObject({ ok: false, kind: 'conflict', code: 'ReplayedSequence' });
    expect(await services.commandAcks.get('ack4', 'head-b', 'demote-9')).toBeUndefined();
  });

  it('answers a node that is not in the cluster like a bad signature', async () => {
    const epoch = await cluster('ack5');
    expect(await acceptCommandAck(services, signed('ack5', 'head-z', 1), ack(epoch))).toMatchObject({
      ok: false,
      kind: 'unauthenticated',
      code: 'BadSignature',
    });
  });

  it('records a late acknowledgement, which never counts for the current epoch', async () => {
    const epoch = await cluster('ack6');
    const late = await acceptCommandAck(services, signed('ack6', 'head-b', 1), ack(epoch - 1));
    if (!late.ok) throw new Error(late.message);
    expect(ackCounts(late.event, { nodeId: 'head-b', epoch, commandId: `promote-${epoch}` })).toBe(false);
    expect(
      ackCounts(late.event, { nodeId: 'head-b', epoch: epoch - 1, commandId: `promote-${epoch - 1}` }),
    ).toBe(true);
  });
});
