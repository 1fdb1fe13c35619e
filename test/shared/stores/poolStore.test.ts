import { startAzurite, type RunningAzurite } from '../../../devhost';
import { PoolStore } from '../../../shared/stores/poolStore';
import { createTableClients, ensureTables, tableNames } from '../../../shared/stores/tableClients';

let azurite: RunningAzurite;
let store: PoolStore;
const T = Date.UTC(2031, 4, 1);

beforeAll(async () => {
  azurite = await startAzurite({ inMemory: true });
  const tables = createTableClients(azurite.connectionString, tableNames('PoolTest'));
  await ensureTables(tables);
  store = new PoolStore(tables.pools);
});
afterAll(async () => {
  await azurite.stop();
});

describe('the pool store', () => {
  it('has no state for a pool nobody changed', async () => {
    expect(await store.get('c', 'gpu')).toBeUndefined();
  });

  it('creates the state on the first change and keeps what later changes leave alone', async () => {
    await store.update('c1', 'gpu', (s) => ({ ...s, demand: { count: 10, setAt: T, setBy: 'admin' } }), T);
    const written = await store.update(
      'c1',
      'gpu',
      (s) => ({ ...s, coolDowns: [{ siteId: 'we', until: T + 60_000, kind: 'quota', reason: 'no quota' }] }),
      T + 5,
    );
    expect(written).toMatchObject({ demand: { count: 10 }, coolDowns: [{ siteId: 'we' }], updatedAt: T + 5 });
    expect((await store.get('c1', 'gpu'))?.state).toEqual(written);
  });

  it('keeps both of two changes made at once (If-Match, re-applied on a lost race)', async () => {
    await Promise.all(
      ['a', 'b', 'c', 'd'].map((siteId) =>
        store.update('c2', 'gpu', (s) => ({ ...s, placements: [...s.placements, { siteId, count: 1 }] }), T),
      ),
    );
    const placed = (await store.get('c2', 'gpu'))?.state.placements.map((p) => p.siteId).sort();
    expect(placed).toEqual(['a', 'b', 'c', 'd']);
  });
});
