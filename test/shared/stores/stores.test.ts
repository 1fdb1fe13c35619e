import { manyNodeCluster } from '../../helpers/controlPlane';
import { startAzurite, type RunningAzurite } from '../../../devhost';
import { parseClusterDocument, type ClusterDocument } from '../../../shared/domain/clusterDocument';
import { initialClusterState } from '../../../shared/domain/clusterState';
import { grantLease, revoke } from '../../../shared/domain/decisions';
import { StorageUnavailableError } from '../../../shared/errors';
import { AuditLog } from '../../../shared/stores/auditLog';
import { ClusterStore } from '../../../shared/stores/clusterStore';
import { HeartbeatStore, type HeartbeatRecord } from '../../../shared/stores/heartbeatStore';
import { OperationStore, type OperationRecord } from '../../../shared/stores/operationStore';
import {
  createTableClients,
  ensureTables,
  tableNames,
  type TableClients,
} from '../../../shared/stores/tableClients';
import { connectionStringFor } from '../../../devhost/storage/startAzurite';

let azurite: RunningAzurite;
let tables: TableClients;
const T = Date.UTC(2030, 0, 1);

beforeAll(async () => {
  azurite = await startAzurite({ inMemory: true });
  tables = createTableClients(azurite.connectionString, tableNames('StoresTest'));
  await ensureTables(tables);
});
afterAll(async () => {
  await azurite.stop();
});

function doc(id: string): ClusterDocument {
  const parsed = parseClusterDocument({
    id,
    kind: 'active-passive',
    nodes: [
      { id: 'a', role: 'active', site: { cloud: 'azure', region: 'westeurope' } },
      { id: 'b', role: 'standby', site: { cloud: 'azure', region: 'northeurope' } },
    ],
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.value;
}

describe('ClusterStore', () => {
  it('writes documents conditionally: insert only once, then only over the ETag it read', async () => {
    const store = new ClusterStore(tables.clusters, tables.clusterState);
    const first = await store.writeDocument(doc('c1'), T, undefined);
    expect(first.ok).toBe(true);
    expect(await store.writeDocument(doc('c1'), T + 1, undefined)).toEqual({ ok: false, reason: 'conflict' });
    const updated = { ...doc('c1'), description: 'head nodes' };
    const etag = first.ok ? first.etag : '';
    expect((await store.writeDocument(updated, T + 2, etag)).ok).toBe(true);
    expect(await store.writeDocument(doc('c1'), T + 3, etag)).toEqual({ ok: false, reason: 'conflict' });
    expect((await store.getDocument('c1'))?.document.description).toBe('head nodes');
    expect((await store.listDocuments()).map((d) => d.document.id)).toContain('c1');
  });

  it('stores values larger than one table property (64 KiB): a 200-node document and a large state', async () => {
    const store = new ClusterStore(tables.clusters, tables.clusterState);
    const big = parseClusterDocument(manyNodeCluster('big', 200, 'rg-hpc-cluster'));
    if (!big.ok) throw new Error(JSON.stringify(big.problems));
    expect(JSON.stringify(big.value).length).toBeGreaterThan(40_000);
    expect((await store.writeDocument(big.value, T, undefined)).ok).toBe(true);
    expect((await store.getDocument('big'))?.document).toEqual(big.value);
    // Non-ASCII text (surrogate pairs across chunk and 64 KiB transfer boundaries) comes back intact.
    const state = { ...initialClusterState('big', 'node-0', T), note: 'x\u{1f680}'.repeat(20_000) };
    const created = await store.createState(state);
    expect((await store.getState('big'))?.state).toEqual(state);
    const smaller = { ...state, note: 'short' };
    expect((await store.replaceState(smaller, created.etag)).ok).toBe(true);
    expect((await store.getState('big'))?.state).toEqual(smaller);
  });

  it('serialises state changes by ETag: a write based on a stale read is a conflict and changes nothing', async () => {
    const store = new ClusterStore(tables.clusters, tables.clusterState);
    const created = await store.createState(initialClusterState('c2', 'a', T));
    const grant = grantLease(created.state, 'a', 1, T + 10, 4000);
    if (!grant.granted) throw new Error('expected a grant');
    const afterGrant = await store.replaceState(grant.state, created.etag);
    expect(afterGrant.ok).toBe(true);
    // A revocation decided on the first read loses: it must re-read and decide again.
    expect(await store.replaceState(revoke(created.state, T + 20, 'x'), created.etag)).toEqual({
      ok: false,
      reason: 'conflict',
    });
    expect((await store.getState('c2'))?.state).toMatchObject({ revoked: false, leaseExpiresAt: T + 4010 });
  });

  it('creating the state twice keeps the first', async () => {
    const store = new ClusterStore(tables.clusters, tables.clusterState);
    await store.createState(initialClusterState('c3', 'a', T));
    const again = await store.createState(initialClusterState('c3', 'b', T + 5));
    expect(again.state.activeNodeId).toBe('a');
  });
});

describe('HeartbeatStore', () => {
  const hb = (seq: number): HeartbeatRecord => ({
    clusterId: 'c1',
    nodeId: 'a',
    seq,
    receivedAt: T + seq,
    role: 'active',
    epoch: 1,
    checks: [{ name: 'ping', status: 'ok' }],
  });

  it('writes a heartbeat in one conditional request and refuses a write based on a stale ETag', async () => {
    const store = new HeartbeatStore(tables.heartbeats);
    const first = await store.put(hb(1), undefined);
    expect(first.ok).toBe(true);
    expect(await store.put(hb(1), undefined)).toEqual({ ok: false, reason: 'conflict' });
    if (!first.ok) return;
    const second = await store.put(hb(2), first.etag);
    expect(second.ok).toBe(true);
    expect(await store.put(hb(3), first.etag)).toEqual({ ok: false, reason: 'conflict' });
    expect((await store.get('c1', 'a'))?.record.seq).toBe(2);
    await store.put({ ...hb(1), nodeId: 'b' }, undefined);
    await store.put({ ...hb(1), clusterId: 'c1-other' }, undefined);
    expect((await store.listForCluster('c1')).map((r) => r.nodeId).sort()).toEqual(['a', 'b']);
  });

  it('stores a heartbeat larger than one table property, and a smaller one over it', async () => {
    const store = new HeartbeatStore(tables.heartbeats);
    const checks = Array.from({ length: 32 }, (_, i) => ({
      name: `check-${i}`,
      status: 'warn' as const,
      detail: 'é\t\n\u0001'.repeat(125), // 500 characters, 1,375 as JSON
    }));
    const big = { ...hb(1), clusterId: 'big-hb', checks };
    const first = await store.put(big, undefined);
    if (!first.ok) throw new Error('expected a write');
    expect((await store.get('big-hb', 'a'))?.record).toEqual(big);
    expect((await store.listForCluster('big-hb'))[0]).toEqual(big);
    const small = { ...hb(2), clusterId: 'big-hb' };
    expect((await store.put(small, first.etag)).ok).toBe(true);
    expect((await store.get('big-hb', 'a'))?.record).toEqual(small);
  });
});

describe('OperationStore and AuditLog', () => {
  it('records a detection exactly once even when several hosts race', async () => {
    const store = new OperationStore(tables.operations);
    const op: OperationRecord = {
      clusterId: 'c1',
      operationId: 'detect-1',
      kind: 'failure-detected',
      status: 'pending',
      createdAt: T,
      updatedAt: T,
      epoch: 1,
      evidence: { missed: 5 },
    };
    const results = await Promise.all(
      [1, 2, 3, 4].map((i) => store.createOnce({ ...op, evidence: { host: i } })),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const winner = results.find((r) => r.created)?.operation.evidence;
    expect(results.every((r) => JSON.stringify(r.operation.evidence) === JSON.stringify(winner))).toBe(true);
    expect((await store.listUnfinished('c1')).map((o) => o.operationId)).toEqual(['detect-1']);
  });

  it('keeps the audit log newest first', async () => {
    const log = new AuditLog(tables.audit);
    await log.append({ clusterId: 'c9', at: T, actor: 'admin', action: 'declare', detail: {} });
    await log.append({ clusterId: 'c9', at: T + 1000, actor: 'admin', action: 'break-witness', detail: {} });
    expect((await log.recent('c9')).map((e) => e.action)).toEqual(['break-witness', 'declare']);
  });

  it('refuses to put an invalid id into a filter', async () => {
    await expect(new AuditLog(tables.audit).recent("x' or true or 'x")).rejects.toThrow(/invalid id/);
  });

  it('reports unreachable storage as retryable StorageUnavailableError', async () => {
    const dead = createTableClients(
      connectionStringFor('127.0.0.1', { blob: 1, queue: 1, table: 1 }),
      tableNames('Dead'),
    );
    const store = new ClusterStore(dead.clusters, dead.clusterState);
    const error = await store.getState('c1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect((error as StorageUnavailableError).retryable).toBe(true);
    expect(String((error as Error).message)).not.toContain('AccountKey');
  }, 30_000);
});
