import { startAzurite, type RunningAzurite } from '../../../devhost';
import {
  OperationStore,
  type OperationRecord,
  type OperationStep,
} from '../../../shared/stores/operationStore';
import { createTableClients, ensureTables, tableNames } from '../../../shared/stores/tableClients';

let azurite: RunningAzurite;
let store: OperationStore;
const T = Date.UTC(2031, 2, 1);

beforeAll(async () => {
  azurite = await startAzurite({ inMemory: true });
  const tables = createTableClients(azurite.connectionString, tableNames('OpsTest'));
  await ensureTables(tables);
  store = new OperationStore(tables.operations);
});
afterAll(async () => {
  await azurite.stop();
});

const operation = (clusterId: string, operationId: string, createdAt: number): OperationRecord => ({
  clusterId,
  operationId,
  kind: 'failover',
  status: 'pending',
  createdAt,
  updatedAt: createdAt,
  epoch: 3,
  evidence: {},
  trigger: { kind: 'api' },
  actor: 'admin',
});

const step = (
  id: string,
  outcome: OperationStep['outcome'],
  detail?: Record<string, unknown>,
): OperationStep => ({
  id,
  name: `step ${id}`,
  startedAt: T,
  ...(outcome === 'running' ? {} : { endedAt: T + 10 }),
  outcome,
  ...(detail ? { detail } : {}),
});

describe('operation records', () => {
  it('creates an operation once, whoever asks twice', async () => {
    expect((await store.createOnce(operation('c1', 'op-1', T))).created).toBe(true);
    const again = await store.createOnce({ ...operation('c1', 'op-1', T + 5), actor: 'someone-else' });
    expect(again).toMatchObject({ created: false, operation: { actor: 'admin', createdAt: T } });
    expect((await store.list('c1')).operations.map((o) => o.operationId)).toEqual(['op-1']);
  });

  it('records each step once under its id (a replayed activity replaces, never duplicates) and starts running', async () => {
    await store.createOnce(operation('c2', 'op-1', T));
    await store.recordStep('c2', 'op-1', step('revoke', 'running'), T + 1);
    await store.recordStep('c2', 'op-1', step('revoke', 'ok', { epoch: 3 }), T + 2);
    await store.recordStep('c2', 'op-1', step('revoke', 'ok', { epoch: 3 }), T + 3);
    const stored = await store.get('c2', 'op-1');
    expect(stored?.status).toBe('running');
    expect(stored?.steps).toEqual([step('revoke', 'ok', { epoch: 3 })]);
  });

  it('keeps both of two steps recorded at the same time (If-Match, re-applied on a lost race)', async () => {
    await store.createOnce(operation('c3', 'op-1', T));
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => store.recordStep('c3', 'op-1', step(`s${i}`, 'ok'), T + i)),
    );
    const ids = (await store.get('c3', 'op-1'))?.steps?.map((s) => s.id).sort();
    expect(ids).toEqual(['s0', 's1', 's2', 's3', 's4', 's5']);
  });

  it('ends an operation once, closing a step still running as skipped; a second end changes nothing', async () => {
    await store.createOnce(operation('c4', 'op-1', T));
    await store.recordStep('c4', 'op-1', step('fence', 'running'), T + 50);
    await store.finish('c4', 'op-1', {
      status: 'succeeded',
      reason: 'promoted b',
      at: T + 100,
      toEpoch: 4,
      rtoMs: 90,
    });
    await store.finish('c4', 'op-1', { status: 'failed', reason: 'late', at: T + 200 });
    expect(await store.get('c4', 'op-1')).toMatchObject({
      status: 'succeeded',
      reason: 'promoted b',
      endedAt: T + 100,
      toEpoch: 4,
      rtoMs: 90,
      steps: [{ id: 'fence', outcome: 'skipped', endedAt: T + 100 }],
    });
    expect(await store.listUnfinished('c4')).toEqual([]);
  });

  it('stores an operation larger than one table property (hook output of many steps)', async () => {
    await store.createOnce(operation('c5', 'op-1', T));
    for (let i = 0; i < 40; i++)
      await store.recordStep(
        'c5',
        'op-1',
        step(`hook-${i}`, 'warn', { outputTail: `line ${i}\n`.repeat(250) }),
        T,
      );
    const stored = await store.get('c5', 'op-1');
    expect(JSON.stringify(stored).length).toBeGreaterThan(70_000);
    expect(stored?.steps).toHaveLength(40);
  });

  it('lists the history newest first, a page at a time, with a continuation token for the next', async () => {
    for (let i = 0; i < 5; i++) await store.createOnce(operation('c6', `op-${i}`, T + i * 1000));
    const first = await store.list('c6', { limit: 2 });
    expect(first.operations.map((o) => o.operationId)).toEqual(['op-4', 'op-3']);
    expect(first.continuation).toBeDefined();
    expect(OperationStore.isContinuation(first.continuation as string)).toBe(true);
    const second = await store.list('c6', { limit: 2, continuation: first.continuation as string });
    expect(second.operations.map((o) => o.operationId)).toEqual(['op-2', 'op-1']);
    const third = await store.list('c6', { limit: 2, continuation: second.continuation as string });
    expect(third.operations.map((o) => o.operationId)).toEqual(['op-0']);
    expect(third.continuation).toBeUndefined();
  });

  it('lists only the operations created since a time, when asked (what a drill looks at)', async () => {
    for (let i = 0; i < 5; i++) await store.createOnce(operation('c6s', `op-${i}`, T + i * 1000));
    expect((await store.list('c6s', { since: T + 2000 })).operations.map((o) => o.operationId)).toEqual([
      'op-4',
      'op-3',
      'op-2',
    ]);
    expect((await store.list('c6s', { since: T + 4001 })).operations).toEqual([]);
    expect((await store.list('c6s', { since: T })).operations).toHaveLength(5);
  });

  it('accepts back only continuation tokens of its own shape (nothing else reaches a filter)', async () => {
    await store.createOnce(operation('c7', 'op-1', T));
    await store.createOnce(operation('c7', 'op-2', T + 1));
    const token = (await store.list('c7', { limit: 1 })).continuation as string;
    expect(OperationStore.isContinuation(token)).toBe(true);
    const forged = Buffer.from("idx-0000000000001-x' or true", 'utf8').toString('base64url');
    expect(OperationStore.isContinuation(forged)).toBe(false);
    expect(OperationStore.isContinuation('not base64 !')).toBe(false);
    await expect(store.list('c7', { continuation: forged })).rejects.toThrow(RangeError);
  });
});
