import { renderStatusBlock } from '../../../cli/render/statusBlock';
import { peerConfirmedText, promiseText } from '../../../portal/app/format';
import { parseClusterDocument, type ClusterDocument } from '../../../shared/domain/clusterDocument';
import {
  initialClusterState,
  type ClusterState,
  type NodeHeartbeat,
} from '../../../shared/domain/clusterState';
import {
  buildClusterStatus,
  peerConfirmedSentence,
  renderClusterStatusText,
} from '../../../shared/domain/clusterStatus';
import { grantLease } from '../../../shared/domain/decisions';

/**
 * The status of a cluster whose active the control plane does not hear but whose peer confirms it alive (issue 15):
 * the JSON field, the sentence of the text renderers (the API's text/plain, the CLI's block, the portal's), and the
 * promise each bound standby holds.
 */

const T = Date.UTC(2031, 2, 1);
const HEARTBEAT = 1000;

function clusterDocument(): ClusterDocument {
  const parsed = parseClusterDocument({
    id: 'c1',
    kind: 'active-passive',
    nodes: [
      { id: 'head-a', role: 'active', site: { cloud: 'on-prem', region: 'hall-1' } },
      { id: 'head-b', role: 'standby', site: { cloud: 'on-prem', region: 'hall-2' } },
      { id: 'head-c', role: 'standby', site: { cloud: 'on-prem', region: 'hall-3' } },
    ],
    detection: { heartbeatIntervalMs: HEARTBEAT, missedHeartbeats: 3, leaseMs: 4000 },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.value;
}

/** head-a active under epoch 1, last heard (as the active, granted a lease) at `heardAt`. */
function stateHeardAt(heardAt: number): ClusterState {
  const grant = grantLease(
    initialClusterState('c1', 'head-a', T - 60_000, undefined, ['head-b', 'head-c']),
    'head-a',
    1,
    heardAt,
    4000,
  );
  if (!grant.granted) throw new Error('expected a grant');
  return { ...grant.state, activeHeartbeat: hb('head-a', heardAt, 'active') };
}

function hb(nodeId: string, receivedAt: number, role: 'active' | 'standby', peer?: NodeHeartbeat['peer']) {
  return {
    clusterId: 'c1',
    nodeId,
    seq: 1,
    receivedAt,
    role,
    epoch: 1,
    checks: [],
    ...(peer ? { peer } : {}),
  } satisfies NodeHeartbeat;
}

const status = (state: ClusterState, heartbeats: NodeHeartbeat[], now: number) =>
  buildClusterStatus({ document: clusterDocument(), state, heartbeats, witness: null, operations: [], now });

const promise = (remainingMs: number, to = 'head-a', epoch = 1) => ({ promise: { to, epoch, remainingMs } });

describe('the status of an active silent to the control plane but confirmed alive by its peer', () => {
  const now = T + 10_000; // head-a last heard at T
  const bBound = hb('head-b', now - 500, 'standby', promise(3000));

  it('JSON: activePeerConfirmed names the peer and the end of its promise; the bound standby its promise', () => {
    const s = status(stateHeardAt(T), [bBound, hb('head-c', now - 500, 'standby')], now);
    expect(s.activePeerConfirmed).toEqual({
      by: 'head-b',
      epoch: 1,
      until: new Date(now + 2500).toISOString(),
    });
    expect(s.nodes.find((n) => n.nodeId === 'head-b')?.promise).toEqual({
      to: 'head-a',
      epoch: 1,
      remainingMs: 2500,
    });
    expect(s.nodes.find((n) => n.nodeId === 'head-c')?.promise).toBeNull();
    expect(s.nodes.find((n) => n.nodeId === 'head-a')?.promise).toBeNull();
  });

  it('text (API, CLI): the ACTIVE sentence, and per bound node “promised <A> (epoch E) for <n> s”', () => {
    const s = status(stateHeardAt(T), [bBound], now);
    const sentence = `ACTIVE (unreachable from the control plane, confirmed alive by its peer head-b until ${new Date(now + 2500).toISOString()})`;
    expect(peerConfirmedSentence(s.activePeerConfirmed!)).toBe(sentence);
    const api = renderClusterStatusText(s);
    expect(api).toContain(`Active: head-a ${sentence}`);
    expect(api).toMatch(/head-b .*, promised head-a \(epoch 1\) for 3 s/);
    const cli = renderStatusBlock(s);
    expect(cli).toContain(`Active:  head-a ${sentence}`);
    expect(cli).toMatch(/head-b .*, promised head-a \(epoch 1\) for 3 s/);
    // The portal's words are the same.
    expect(peerConfirmedText(s.activePeerConfirmed!)).toBe(sentence);
    expect(promiseText(s.nodes.find((n) => n.nodeId === 'head-b')!.promise!)).toBe(
      'promised head-a (epoch 1) for 3 s',
    );
  });

  it('takes the confirmation the heartbeat path recorded in the state when no row shows it', () => {
    const state: ClusterState = {
      ...stateHeardAt(T),
      peerConfirmed: { by: 'head-c', epoch: 1, until: now + 4000, at: now - 1000 },
    };
    expect(status(state, [], now).activePeerConfirmed).toEqual({
      by: 'head-c',
      epoch: 1,
      until: new Date(now + 4000).toISOString(),
    });
  });

  it('says nothing of the kind when the active is heard, the promise ended, is to another node or epoch', () => {
    const cases: [ClusterState, NodeHeartbeat[]][] = [
      [stateHeardAt(now - 500), [bBound]], // heard within two intervals: a leftover promise
      [stateHeardAt(T), [hb('head-b', now - 3000, 'standby', promise(3000))]], // ended at now
      [stateHeardAt(T), [hb('head-b', now - 500, 'standby', promise(3000, 'head-c'))]],
      [stateHeardAt(T), [hb('head-b', now - 500, 'standby', promise(3000, 'head-a', 0))]],
      [{ ...stateHeardAt(T), revoked: true }, [bBound]], // a failover revoked it
    ];
    for (const [state, heartbeats] of cases) {
      const s = status(state, heartbeats, now);
      expect(s.activePeerConfirmed).toBeNull();
      expect(renderClusterStatusText(s)).not.toContain('confirmed alive');
      expect(renderStatusBlock(s)).not.toContain('confirmed alive');
    }
  });

  it('the CLI reads a status from a server without the fields leniently', () => {
    const s = status(stateHeardAt(T), [bBound], now);
    const { activePeerConfirmed: _a, ...older } = s;
    const nodes = older.nodes.map(({ promise: _p, ...n }) => n);
    const text = renderStatusBlock({ ...older, nodes } as unknown as typeof s);
    expect(text).not.toContain('confirmed alive');
    expect(text).not.toContain('promised');
  });
});
