import {
  drillBlocker,
  drillPlan,
  drillSilenceMs,
  drillTarget,
} from '../../../../shared/control/drills/drillActivities';
import type { DrillInput } from '../../../../shared/control/drills/drillTypes';
import { parseClusterDocument, type ClusterDocument } from '../../../../shared/domain/clusterDocument';
import { initialClusterState } from '../../../../shared/domain/clusterState';
import type { DrillCheck } from '../../../../shared/domain/drills';

function doc(extra: Record<string, unknown> = {}): ClusterDocument {
  const parsed = parseClusterDocument({
    id: 'c',
    kind: 'active-passive',
    nodes: [
      { id: 'a', role: 'active', site: { cloud: 'on-prem', region: 'r1' } },
      { id: 'b', role: 'standby', site: { cloud: 'on-prem', region: 'r2' }, priority: 20 },
      { id: 'c2', role: 'standby', site: { cloud: 'on-prem', region: 'r3' }, priority: 10 },
    ],
    ...extra,
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.value;
}
const state = initialClusterState('c', 'a', 0, { heartbeatIntervalMs: 1000, missedHeartbeats: 5 });
const input = (mode: DrillInput['mode'], targetNodeId: string | null = null): DrillInput => ({
  drillId: 'drill-1',
  clusterId: 'c',
  mode,
  targetNodeId,
  trigger: { kind: 'api' },
  actor: 'admin',
  requestedAt: 0,
});
const failed = (name: DrillCheck['name'], nodeId?: string): DrillCheck => ({
  name,
  ...(nodeId ? { nodeId } : {}),
  outcome: 'failed',
  startedAt: 0,
  durationMs: 1,
  detail: 'broken',
});

describe('the drill plan', () => {
  it('keeps a failover drill silent past the detection window and the lease, so the failover ends first', () => {
    // 5 s window + 4 s lease + 0.5 s margin + 10 s
    expect(drillSilenceMs(doc())).toBe(19_500);
  });

  it('targets the named node, else the standby with the lowest priority whose checks did not fail', () => {
    expect(drillTarget(doc(), state, [], 'b')).toBe('b');
    expect(drillTarget(doc(), state, [], null)).toBe('c2');
    expect(drillTarget(doc(), state, [failed('standby-heartbeating', 'c2')], null)).toBe('b');
  });

  it("takes the document's target and objectives, and polls at a quarter of the heartbeat interval", () => {
    const plan = drillPlan(
      doc({ drill: { targetNodeId: 'b' }, failover: { rtoObjectiveMs: 30_000, rpoObjectiveMs: 500 } }),
      state,
      input('switchover'),
      [],
    );
    expect(plan).toMatchObject({
      mode: 'switchover',
      originalActive: 'a',
      target: 'b',
      objectives: { rtoMs: 30_000, rpoMs: 500 },
      pollMs: 250,
    });
  });
});

describe('what keeps a drill from acting', () => {
  const plan = (mode: DrillInput['mode'], d = doc()) => drillPlan(d, state, input(mode), []);

  it('a validate drill never acts, so nothing blocks it', () => {
    expect(drillBlocker(plan('validate'), doc(), [failed('witness-writable')])).toBeUndefined();
  });

  it('a failed cluster-wide check, or one of the target or the active, blocks a switchover; others only report', () => {
    expect(drillBlocker(plan('switchover'), doc(), [failed('witness-writable')])).toMatch(
      /nothing was moved: witness-writable failed/,
    );
    expect(drillBlocker(plan('switchover'), doc(), [failed('standby-within-rpo', 'c2')])).toMatch(
      /standby-within-rpo \(c2\)/,
    );
    expect(drillBlocker(plan('switchover'), doc(), [failed('standby-healthy', 'b')])).toBeUndefined();
  });

  it('a failover drill needs automatic failover to measure', () => {
    const manual = doc({ failover: { mode: 'manual' } });
    expect(drillBlocker(plan('failover', manual), manual, [])).toMatch(/failover.mode is manual/);
  });
});
