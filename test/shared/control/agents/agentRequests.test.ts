import { deriveNodeKey } from '../../../../shared/auth/nodeKeys';
import { signRequest } from '../../../../shared/auth/signedRequest';
import {
  AgentDirectory,
  arbitrationEpochRefusal,
  sequenceRefusal,
} from '../../../../shared/control/agents/agentRequests';
import { printable } from '../../../../shared/domain/clusterStatus';
import type { Services } from '../../../../shared/services/services';

describe('arbitrationEpochRefusal (for /agent/arbitrate)', () => {
  it('refuses a stale epoch naming the current one, an epoch ahead, and passes the current one', () => {
    expect(arbitrationEpochRefusal(3, 5)).toMatchObject({
      ok: false,
      kind: 'conflict',
      code: 'StaleEpoch',
      details: { currentEpoch: 5 },
      message: expect.stringContaining('the cluster is at epoch 5'),
    });
    expect(arbitrationEpochRefusal(6, 5)).toMatchObject({ code: 'EpochAhead', details: { currentEpoch: 5 } });
    expect(arbitrationEpochRefusal(5, 5)).toBeUndefined();
  });
});

describe('sequenceRefusal: one sequence per key version', () => {
  it('starts afresh with a newer key version, refuses an older one, and otherwise needs a greater sequence', () => {
    const last = { seq: 2 ** 48, keyVersion: 1 };
    expect(sequenceRefusal({ seq: 1, keyVersion: 2 }, last)).toBeUndefined();
    expect(sequenceRefusal({ seq: 2 ** 48, keyVersion: 1 }, last)).toMatchObject({
      code: 'ReplayedSequence',
      details: { lastAcceptedSeq: 2 ** 48 },
    });
    expect(sequenceRefusal({ seq: 9, keyVersion: 1 }, { seq: 3, keyVersion: 2 })).toMatchObject({
      code: 'StaleKeyVersion',
    });
    expect(sequenceRefusal({ seq: 4, keyVersion: 2 }, { seq: 3, keyVersion: 2 })).toBeUndefined();
  });
});

describe('printable', () => {
  it('removes ANSI sequences and shows control characters escaped, on one line', () => {
    expect(printable('a\u001b[31mred\u001b[0m\nb\r\u0007\u009b\u2028')).toBe(
      'ared\\x0ab\\x0d\\x07\\x9b\\u2028',
    );
    expect(printable('plain ok')).toBe('plain ok');
  });
});

describe('AgentDirectory cache bounds (injected clock)', () => {
  const master = Buffer.alloc(32, 7);
  let now = 1_000_000;
  let documentReads = 0;
  let nodes = ['a', 'b'];
  let keyVersion = 1;
  const services = {
    now: () => now,
    config: { nodeKeyMaster: master, agentClockToleranceMs: 60_000, agentMaxBodyBytes: 65_536 },
    clusters: {
      getDocument: () => {
        documentReads++;
        return Promise.resolve({
          document: { id: 'c', nodes: nodes.map((id) => ({ id })) },
          etag: '',
          updatedAt: 0,
        });
      },
    },
    credentials: {
      get: (clusterId: string, nodeId: string) =>
        Promise.resolve({ credential: { clusterId, nodeId, keyVersion, issuedAt: 0 }, etag: '' }),
    },
  } as unknown as Services;
  let seq = 1;
  const verify = (directory: AgentDirectory, nodeId: string, version: number) => {
    const headers = signRequest({
      method: 'POST',
      path: '/api/v1/agent/heartbeat',
      body: '{}',
      clusterId: 'c',
      nodeId,
      keyVersion: version,
      timestamp: now,
      seq: seq++,
      key: deriveNodeKey(master, 'c', nodeId, version),
    });
    return directory.verify('POST', '/api/v1/agent/heartbeat', headers, Buffer.from('{}'));
  };

  it('sees a node removed by another instance within 1 s, and at once after forgetCluster', async () => {
    const directory = new AgentDirectory(services);
    expect(await verify(directory, 'b', 1)).toMatchObject({ ok: true });
    nodes = ['a'];
    now += 999;
    expect(await verify(directory, 'b', 1)).toMatchObject({ ok: true }); // still within the 1 s bound
    now += 1;
    expect(await verify(directory, 'b', 1)).toMatchObject({ ok: false, status: 401 });
    nodes = ['a', 'b'];
    expect(await verify(directory, 'b', 1)).toMatchObject({ ok: false }); // cached for up to 1 s
    directory.forgetCluster('c');
    expect(await verify(directory, 'b', 1)).toMatchObject({ ok: true });
    expect(documentReads).toBe(3);
  });

  it('stops accepting a key version two rotations old within 12.5 s, and at once after forgetNode', async () => {
    keyVersion = 1;
    const directory = new AgentDirectory(services);
    expect(await verify(directory, 'a', 1)).toMatchObject({ ok: true });
    keyVersion = 3;
    expect(await verify(directory, 'a', 1)).toMatchObject({ ok: true }); // cached: another instance rotated
    now += 12_500;
    expect(await verify(directory, 'a', 1)).toMatchObject({ ok: false, status: 401 });
    keyVersion = 1;
    const second = new AgentDirectory(services);
    expect(await verify(second, 'a', 1)).toMatchObject({ ok: true });
    keyVersion = 3;
    second.forgetNode('c', 'a');
    expect(await verify(second, 'a', 1)).toMatchObject({ ok: false, status: 401 });
  });
});
