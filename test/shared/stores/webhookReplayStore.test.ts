import { startAzurite, type RunningAzurite } from '../../../devhost';
import { createTableClients, ensureTables, tableNames } from '../../../shared/stores/tableClients';
import { WebhookReplayStore, type WebhookDelivery } from '../../../shared/stores/webhookReplayStore';

let azurite: RunningAzurite;
let store: WebhookReplayStore;
const T = Date.UTC(2030, 0, 1);

beforeAll(async () => {
  azurite = await startAzurite({ inMemory: true });
  const tables = createTableClients(azurite.connectionString, tableNames('ReplayTest'));
  await ensureTables(tables);
  store = new WebhookReplayStore(tables.webhookReplay);
});
afterAll(async () => {
  await azurite.stop();
});

const delivery = (webhookId: string, overrides: Partial<WebhookDelivery> = {}): WebhookDelivery => ({
  webhookId,
  clusterId: 'hpc-1',
  operationId: 'failover-wh-0123456789abcdef01234567',
  bodySha256: 'a'.repeat(64),
  timestampSeconds: T / 1000,
  receivedAt: T + 123,
  expiresAt: T + 300_000,
  ...overrides,
});

it('remembers an id once: the first record stands and is read back whole', async () => {
  expect(await store.get('msg_1')).toBeUndefined();
  expect(await store.insertIfAbsent(delivery('msg_1'))).toEqual({ inserted: true });
  expect(await store.get('msg_1')).toEqual(delivery('msg_1'));
  expect(
    await store.insertIfAbsent(delivery('msg_1', { operationId: 'other', bodySha256: 'b'.repeat(64) })),
  ).toEqual({
    inserted: false,
    existing: delivery('msg_1'),
  });
});

it('of concurrent inserts of one id, exactly one inserts and the others read its record', async () => {
  const results = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      store.insertIfAbsent(delivery('msg_race', { operationId: `op-${i}` })),
    ),
  );
  const inserted = results.filter((r) => r.inserted);
  expect(inserted).toHaveLength(1);
  const winner = (await store.get('msg_race'))?.operationId;
  for (const r of results) if (!r.inserted) expect(r.existing.operationId).toBe(winner);
});

it('keys any visible-ASCII id, including the characters a table key refuses, and keeps ids apart', async () => {
  const odd = ['a/b', 'a\\b', 'a#b', 'a?b', 'A', 'a'];
  for (const id of odd)
    expect(await store.insertIfAbsent(delivery(id, { clusterId: `c-${odd.indexOf(id)}` }))).toEqual({
      inserted: true,
    });
  for (const id of odd) expect((await store.get(id))?.clusterId).toBe(`c-${odd.indexOf(id)}`);
  const long = 'x'.repeat(256);
  expect(await store.insertIfAbsent(delivery(long))).toEqual({ inserted: true });
  expect((await store.get(long))?.webhookId).toBe(long);
});
