import { randomBytes } from 'node:crypto';
import { startAzurite, type RunningAzurite } from '../../../../devhost';
import { loadConfig, type Config } from '../../../../shared/config/config';
import { declareCluster } from '../../../../shared/control/clusters/clusterAdmin';
import {
  detectFailureOf,
  detectFailures,
  detectionId,
  silence,
} from '../../../../shared/control/detection/failureDetector';
import type { DetectionView } from '../../../../shared/domain/clusterState';
import { grantLease, revoke } from '../../../../shared/domain/decisions';
import { createServices, type Services } from '../../../../shared/services/services';
import { createTableClients, ensureTables, tableNames } from '../../../../shared/stores/tableClients';
import { twoNodeCluster } from '../../../helpers/controlPlane';

/**
 * The detector and the control plane's own outages (issue 15): an active's silence is counted from no earlier than
 * when this host's services started, and not at all while a standby's promise confirms the active alive.
 */
let azurite: RunningAzurite;
let config: Config;
const T0 = Date.UTC(2032, 0, 1);
let clock = T0;

beforeAll(async () => {
  azurite = await startAzurite({ inMemory: true });
  config = loadConfig({
    AzureWebJobsStorage: azurite.connectionString,
    NODE_KEY_MASTER: randomBytes(32).toString('base64'),
    TABLE_PREFIX: 'DetSince',
  });
  await ensureTables(createTableClients(config.storage, tableNames(config.tablePrefix)));
});
afterAll(async () => {
  await azurite.stop();
});

/** A host process started now (its services created on the test's clock). */
const startHost = (): Services => createServices(config, () => clock);

async function heardFromActive(services: Services, clusterId: string): Promise<void> {
  const stored = (await services.clusters.getState(clusterId))!;
  const grant = grantLease(stored.state, stored.state.activeNodeId!, stored.state.epoch, clock, 4000);
  if (!grant.granted) throw new Error('expected a grant');
  const heartbeat = {
    clusterId,
    nodeId: stored.state.activeNodeId!,
    seq: clock,
    receivedAt: clock,
    role: 'active' as const,
    epoch: stored.state.epoch,
    checks: [],
  };
  const write = await services.clusters.replaceState(
    { ...grant.state, activeHeartbeat: heartbeat },
    stored.etag,
  );
  if (!write.ok) throw new Error('lost the race');
}

const ofCluster = async (services: Services, clusterId: string) =>
  (await detectFailures(services)).filter((d) => d.clusterId === clusterId);

describe('silence (pure)', () => {
  const view: DetectionView = {
    epoch: 3,
    activeNodeId: 'head-a',
    revoked: false,
    leaseExpiresAt: T0 + 4000,
    heard: { nodeId: 'head-a', at: T0 },
    policy: { heartbeatIntervalMs: 1000, missedHeartbeats: 5 },
  };

  it('counts from the later of the last heartbeat and the detector start, and keeps the last heartbeat as its id', () => {
    expect(silence(view, T0 + 5000)).toMatchObject({ heardAt: T0, verdict: { failed: true, missed: 5 } });
    expect(silence(view, T0 + 5000, T0 + 60_000)).toBeUndefined();
    expect(silence(view, T0 + 64_999, T0 + 60_000)).toBeUndefined();
    expect(silence(view, T0 + 65_000, T0 + 60_000)).toMatchObject({
      heardAt: T0,
      verdict: { failed: true, missed: 5, silentForMs: 5000 },
    });
    // A detector started before the last heartbeat changes nothing.
    expect(silence(view, T0 + 5000, T0 - 10_000)).toMatchObject({ heardAt: T0 });
  });

  it('detects nothing while a peer confirms the active alive, and resumes once the confirmation ends', () => {
    const confirmed = { ...view, peerConfirmedUntil: T0 + 9000 };
    expect(silence(confirmed, T0 + 8999)).toBeUndefined();
    expect(silence(confirmed, T0 + 9000)).toMatchObject({ activeNodeId: 'head-a', heardAt: T0 });
  });

  it('names a silence after a peer confirmation by the confirmation’s end: a new detection, not the refused one', () => {
    // Detected at T0 + 5 s as detect-3-T0; its failover was refused (a peer confirmed the active until T0 + 9 s).
    expect(silence(view, T0 + 5000)).toMatchObject({ evidenceAt: T0 });
    const after = silence({ ...view, peerConfirmedUntil: T0 + 9000 }, T0 + 9000);
    expect(after).toMatchObject({ heardAt: T0, evidenceAt: T0 + 9000 });
    expect(detectionId(3, after!.evidenceAt)).toBe(`detect-3-${T0 + 9000}`);
  });
});

describe('a restarted control plane host', () => {
  it('does not detect an active whose last heartbeat predates its start until a full window after the start', async () => {
    clock = T0;
    const before = startHost();
    expect((await declareCluster(before, 'restart', twoNodeCluster('restart'), 'test')).ok).toBe(true);
    await heardFromActive(before, 'restart');
    // The control plane is down for a minute: no heartbeat arrives, nobody detects.
    clock = T0 + 60_000;
    const restarted = startHost();
    expect(restarted.startedAt).toBe(T0 + 60_000);
    expect(await ofCluster(restarted, 'restart')).toEqual([]);
    expect(await detectFailureOf(restarted, 'restart')).toBeUndefined();
    clock = T0 + 64_999;
    expect(await ofCluster(restarted, 'restart')).toEqual([]);
    // A host that ran all along (it heard nothing either) would have detected it: the start is what holds it back.
    expect(
      silence(
        (await before.clusters.listDetectionViews()).find((v) => v.clusterId === 'restart')!.view!,
        clock,
        before.startedAt,
      ),
    ).toBeDefined();
    // The active, still silent a full window after the start: detected, under its last heartbeat's id.
    clock = T0 + 65_000;
    expect(await ofCluster(restarted, 'restart')).toMatchObject([
      { activeNodeId: 'head-a', epoch: 1, operationId: `detect-1-${T0}`, created: true },
    ]);
  });

  it("hastens a standby's heartbeats only when the window counted from the start is about to end", async () => {
    clock = T0;
    const before = startHost();
    await declareCluster(before, 'restart-urgent', twoNodeCluster('restart-urgent'), 'test');
    await heardFromActive(before, 'restart-urgent');
    clock = T0 + 60_000;
    const restarted = startHost();
    const standbyBeat = async (seq: number) => {
      const outcome = await restarted.agents.heartbeats.handle(
        { ok: true, clusterId: 'restart-urgent', nodeId: 'head-b', keyVersion: 1, seq, timestamp: clock },
        Buffer.from(JSON.stringify({ role: 'standby', epoch: 1, checks: [] })),
      );
      if (!outcome.ok) throw new Error(JSON.stringify(outcome));
      return outcome;
    };
    expect(await standbyBeat(1)).toMatchObject({ reply: { heartbeatIntervalMs: 1000 } });
    clock = T0 + 64_000; // one interval before the window counted from the start ends
    const late = await standbyBeat(2);
    expect(late).toMatchObject({ reply: { heartbeatIntervalMs: 100 } });
    expect(late).not.toHaveProperty('activeSilent');
    clock = T0 + 65_000;
    expect(await standbyBeat(3)).toMatchObject({ activeSilent: true });
  });

  it('an active heard again after the restart is measured from that heartbeat as always', async () => {
    clock = T0;
    const host = startHost();
    await declareCluster(host, 'heard-again', twoNodeCluster('heard-again'), 'test');
    await heardFromActive(host, 'heard-again');
    clock = T0 + 30_000;
    const restarted = startHost();
    clock = T0 + 31_000;
    await heardFromActive(restarted, 'heard-again');
    clock = T0 + 35_999;
    expect(await ofCluster(restarted, 'heard-again')).toEqual([]);
    clock = T0 + 36_000;
    expect(await ofCluster(restarted, 'heard-again')).toMatchObject([
      { operationId: `detect-1-${T0 + 31_000}`, created: true },
    ]);
  });
});

describe('a cluster a failover left without an active', () => {
  /** The epoch revoked and nobody promoted (a failover that ended `NoHealthyTarget`), written at `clock`. */
  async function leftWithoutActive(services: Services, clusterId: string): Promise<number> {
    const stored = (await services.clusters.getState(clusterId))!;
    const state = {
      ...revoke(stored.state, clock, 'no active: no healthy node to promote'),
      updatedAt: clock,
    };
    if (!(await services.clusters.replaceState(state, stored.etag)).ok) throw new Error('lost the race');
    return clock;
  }

  it('gets another failover once per state version, after twice the window (at least 15 s), never in manual mode', async () => {
    clock = T0;
    const host = startHost();
    await declareCluster(host, 'orphan', twoNodeCluster('orphan'), 'test');
    await heardFromActive(host, 'orphan');
    clock = T0 + 10_000;
    const revokedAt = await leftWithoutActive(host, 'orphan');
    // Not before the retry delay (2 × 5 s window = 10 s, raised to 15 s).
    clock = revokedAt + 14_999;
    expect(await ofCluster(host, 'orphan')).toEqual([]);
    clock = revokedAt + 15_000;
    expect(await ofCluster(host, 'orphan')).toEqual([
      {
        clusterId: 'orphan',
        epoch: 1,
        activeNodeId: 'head-a',
        operationId: `detect-1-retry-${revokedAt}`,
        created: true,
      },
    ]);
    // Recorded once: the next round finds it pending.
    expect(await ofCluster(host, 'orphan')).toMatchObject([{ created: false }]);
    const record = await host.operations.getWithEtag('orphan', `detect-1-retry-${revokedAt}`);
    expect(record?.operation).toMatchObject({ kind: 'failure-detected', status: 'pending', epoch: 1 });
    // The retried failover failed again: the state is rewritten, and the next retry is one delay after that.
    clock = revokedAt + 20_000;
    const again = await leftWithoutActive(host, 'orphan');
    clock = again + 15_000;
    expect(await ofCluster(host, 'orphan')).toMatchObject([
      { operationId: `detect-1-retry-${again}`, created: true },
    ]);

    // A cluster an operation still works on (a failover waiting out a long lease, a drill) is left to it.
    clock = T0;
    await declareCluster(host, 'orphan-busy', twoNodeCluster('orphan-busy'), 'test');
    await heardFromActive(host, 'orphan-busy');
    const busyAt = await leftWithoutActive(host, 'orphan-busy');
    await host.operations.createOnce({
      clusterId: 'orphan-busy',
      operationId: 'drill-1',
      kind: 'drill',
      status: 'running',
      createdAt: busyAt,
      updatedAt: busyAt,
      epoch: 1,
      evidence: {},
    });
    clock = busyAt + 60_000;
    expect(await ofCluster(host, 'orphan-busy')).toEqual([]);

    // A manual-mode cluster waits for its operator.
    clock = T0;
    await declareCluster(
      host,
      'orphan-manual',
      { ...twoNodeCluster('orphan-manual'), failover: { mode: 'manual' } },
      'test',
    );
    await heardFromActive(host, 'orphan-manual');
    const manualAt = await leftWithoutActive(host, 'orphan-manual');
    clock = manualAt + 60_000;
    expect(await ofCluster(host, 'orphan-manual')).toEqual([]);
  });
});
