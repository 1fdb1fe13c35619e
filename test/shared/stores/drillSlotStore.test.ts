import { startAzurite, type RunningAzurite } from '../../../devhost';
import { connectionStringFor } from '../../../devhost/storage/startAzurite';
import { StorageUnavailableError } from '../../../shared/errors';
import { DrillSlotStore } from '../../../shared/stores/drillSlotStore';
import {
  createTableClients,
  ensureTables,
  tableNames,
  type TableClients,
} from '../../../shared/stores/tableClients';

let azurite: RunningAzurite;
let tables: TableClients;
let store: DrillSlotStore;
const T = Date.UTC(2030, 0, 1, 3);
const HOUR = 3_600_000;

beforeAll(async () => {
  azurite = await startAzurite({ inMemory: true });
  tables = createTableClients(azurite.connectionString, tableNames('SlotTest'));
  await ensureTables(tables);
  store = new DrillSlotStore(tables.drillSlots);
});
afterAll(async () => {
  await azurite.stop();
});

it('lets exactly one of many concurrent claimers of a slot win', async () => {
  // Eight hosts, each with its own table client and store, on the same table.
  const hosts = Array.from(
    { length: 8 },
    () => new DrillSlotStore(createTableClients(azurite.connectionString, tableNames('SlotTest')).drillSlots),
  );
  const results = await Promise.all(hosts.map((host, i) => host.claim('race', T, `host-${i}`)));
  expect(results.filter(Boolean)).toHaveLength(1);
  expect(await store.claim('race', T, 'late')).toBe(false);
  // The next slot is a new row: claimable again.
  expect(await store.claim('race', T + HOUR, 'host-0')).toBe(true);
});

it('answers the latest slot claimed, whatever order the claims were made in', async () => {
  expect(await store.lastClaimed('order')).toBeUndefined();
  expect(await store.claim('order', T + 2 * HOUR, 'h')).toBe(true);
  expect(await store.lastClaimed('order')).toBe(T + 2 * HOUR);
  expect(await store.claim('order', T, 'h')).toBe(true); // an older slot (a slow host) does not move it back
  expect(await store.lastClaimed('order')).toBe(T + 2 * HOUR);
  expect(await store.claim('order', T + 30 * 24 * HOUR + 1000, 'h')).toBe(true);
  expect(await store.lastClaimed('order')).toBe(T + 30 * 24 * HOUR + 1000);
});

it("keeps clusters apart, including one whose id starts with another's", async () => {
  expect(await store.claim('hpc', T + 5 * HOUR, 'h')).toBe(true);
  expect(await store.claim('hpc-2', T + 9 * HOUR, 'h')).toBe(true);
  expect(await store.lastClaimed('hpc')).toBe(T + 5 * HOUR);
  expect(await store.lastClaimed('hpc-2')).toBe(T + 9 * HOUR);
  expect(await store.claim('hpc-2', T + 5 * HOUR, 'h')).toBe(true);
});

it('releases a claim so the slot can be claimed again; releasing twice is fine', async () => {
  expect(await store.claim('rel', T, 'h')).toBe(true);
  expect(await store.claim('rel', T + HOUR, 'h')).toBe(true);
  await store.release('rel', T + HOUR);
  await store.release('rel', T + HOUR);
  expect(await store.lastClaimed('rel')).toBe(T);
  expect(await store.claim('rel', T + HOUR, 'other')).toBe(true);
  expect(await store.lastClaimed('rel')).toBe(T + HOUR);
});

it('refuses an invalid cluster id in its query', async () => {
  await expect(store.lastClaimed("x' or true or 'x")).rejects.toThrow(/invalid id/);
});

it('reports unreachable storage as retryable StorageUnavailableError', async () => {
  const dead = createTableClients(
    connectionStringFor('127.0.0.1', { blob: 1, queue: 1, table: 1 }),
    tableNames('Dead'),
  );
  const deadStore = new DrillSlotStore(dead.drillSlots);
  for (const call of [() => deadStore.claim('c1', T, 'h'), () => deadStore.lastClaimed('c1')]) {
    const error = await call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect((error as StorageUnavailableError).retryable).toBe(true);
    expect(String((error as Error).message)).not.toContain('AccountKey');
  }
}, 60_000);
