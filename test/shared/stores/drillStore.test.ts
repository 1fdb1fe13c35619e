import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite, type RunningAzurite } from '../../../devhost';
import type { DrillReport, DrillResult } from '../../../shared/domain/drills';
import { summarize } from '../../../shared/domain/drills';
import { StorageUnavailableError } from '../../../shared/errors';
import { DrillStore } from '../../../shared/stores/drillStore';
import { createTableClients, ensureTables, tableNames } from '../../../shared/stores/tableClients';
import { createBlobServiceClient } from '../../../shared/stores/storageClients';
import { servicesOnAzurite } from '../../helpers/servicesOnAzurite';

let azurite: RunningAzurite;
let store: DrillStore;
let blobs: BlobServiceClient;
const T = Date.UTC(2031, 4, 1);

beforeAll(async () => {
  azurite = await startAzurite({ inMemory: true });
  const tables = createTableClients(azurite.connectionString, tableNames('DrillTest'));
  await ensureTables(tables);
  blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
  store = new DrillStore(tables.drills, blobs.getContainerClient('drilltest-drill-reports'));
  await store.ensureContainer();
});
afterAll(async () => {
  await azurite.stop();
});

const report = (
  clusterId: string,
  n: number,
  overrides: Partial<DrillReport> = {},
  result: DrillResult = 'passed',
): DrillReport => ({
  drillId: `drill-${(T + n * 60_000).toString(36)}`,
  clusterId,
  mode: n % 2 === 0 ? 'switchover' : 'validate',
  trigger: { kind: 'schedule', reference: new Date(T + n * 60_000).toISOString() },
  actor: 'schedule',
  startedAt: T + n * 60_000,
  endedAt: T + n * 60_000 + 30_000,
  result,
  reasons: result === 'passed' ? [] : [`drill ${n} did not pass`],
  objectives: { rtoMs: 60_000, rpoMs: 5_000 },
  measured: n % 2 === 0 ? { rtoMs: 1000 * n, rpoMs: 100 } : { predictedRtoMs: 2000 * n },
  checks: [],
  legs: [],
  history: [],
  ...overrides,
});

describe('DrillStore', () => {
  it('stores the report JSON and HTML as blobs under <cluster>/<drill> with their content types', async () => {
    const r = report('c1', 1);
    const html = '<!DOCTYPE html><p>café ✓</p>';
    await store.save(r, html);
    expect(await store.get('c1', r.drillId)).toEqual(r);
    expect(await store.getHtml('c1', r.drillId)).toBe(html);
    const container = blobs.getContainerClient('drilltest-drill-reports');
    const json = await container.getBlockBlobClient(`c1/${r.drillId}.json`).getProperties();
    const page = await container.getBlockBlobClient(`c1/${r.drillId}.html`).getProperties();
    expect(json.contentType).toBe('application/json; charset=utf-8');
    expect(page.contentType).toBe('text/html; charset=utf-8');
    expect(await store.latest('c1')).toEqual(summarize(r));
  });

  it('answers undefined for a drill it does not have (and for ids that are not ids)', async () => {
    expect(await store.get('c1', 'drill-nope')).toBeUndefined();
    expect(await store.getHtml('c1', 'drill-nope')).toBeUndefined();
    expect(await store.get('c1', '../x')).toBeUndefined();
    expect(await store.latest('nobody')).toBeUndefined();
    expect(await store.list('nobody')).toEqual({ drills: [] });
    expect(await store.history('nobody', 10)).toEqual([]);
  });

  it('saving the same drill again replaces it: one index row, the new report and page', async () => {
    const first = report('c2', 1, {}, 'failed');
    await store.save(first, '<p>one</p>');
    const again = { ...first, result: 'passed' as const, reasons: [], startedAt: first.startedAt + 5 };
    await store.save(again, '<p>two</p>');
    expect(await store.get('c2', first.drillId)).toEqual(again);
    expect(await store.getHtml('c2', first.drillId)).toBe('<p>two</p>');
    expect((await store.list('c2')).drills).toEqual([summarize(again)]);
  });

  it('concurrent saves of one drill leave it listed once', async () => {
    const base = report('c7', 1);
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        store.save({ ...base, startedAt: base.startedAt + i }, `<p>${i}</p>`),
      ),
    );
    const listed = (await store.list('c7')).drills;
    expect(listed).toHaveLength(1);
    expect(listed[0]?.drillId).toBe(base.drillId);
  });

  it('lists newest first, page by page with a continuation', async () => {
    const saved = [3, 1, 5, 2, 4].map((n) => report('c3', n));
    for (const r of saved) await store.save(r, '<p></p>');
    const first = await store.list('c3', { limit: 2 });
    expect(first.drills.map((d) => d.startedAt)).toEqual([T + 5 * 60_000, T + 4 * 60_000]);
    expect(first.continuation).toEqual(expect.any(String));
    expect(DrillStore.isContinuation(first.continuation ?? '')).toBe(true);
    const second = await store.list('c3', { limit: 2, continuation: first.continuation });
    expect(second.drills.map((d) => d.startedAt)).toEqual([T + 3 * 60_000, T + 2 * 60_000]);
    const third = await store.list('c3', { limit: 2, continuation: second.continuation });
    expect(third.drills.map((d) => d.startedAt)).toEqual([T + 60_000]);
    expect(third.continuation).toBeUndefined();
    expect((await store.latest('c3'))?.drillId).toBe(report('c3', 5).drillId);
    // Clusters are apart.
    expect((await store.list('c1')).drills).toHaveLength(1);
  });

  it('refuses a continuation it did not hand out', async () => {
    await expect(store.list('c3', { continuation: 'bm90LWEta2V5' })).rejects.toThrow(RangeError);
    await expect(store.list('c3', { continuation: 'a b' })).rejects.toThrow(RangeError);
  });

  it('history: the last `limit` drills that ran, oldest first, skipped ones left out', async () => {
    for (let n = 1; n <= 8; n++) await store.save(report('c4', n, {}, n === 7 ? 'skipped' : 'passed'), '');
    const points = await store.history('c4', 4);
    expect(points.map((p) => p.startedAt)).toEqual([4, 5, 6, 8].map((n) => T + n * 60_000));
    expect(points[0]).toEqual({
      drillId: report('c4', 4).drillId,
      startedAt: T + 4 * 60_000,
      mode: 'switchover',
      result: 'passed',
      rtoMs: 4000,
    });
    expect(points[1]).toMatchObject({ mode: 'validate', predictedRtoMs: 10_000 });
    expect(points[1]).not.toHaveProperty('rtoMs');
    expect(await store.history('c4', 0)).toEqual([]);
    expect(await store.history('c4', 100)).toHaveLength(7);
  });

  it('keeps a large report whole (reasons and checks from users)', async () => {
    const detail = 'x'.repeat(40_000);
    const r = report('c5', 1, { reasons: [detail, 'ünïcode ✓'] }, 'failed');
    await store.save(r, `<p>${detail}</p>`);
    expect(await store.get('c5', r.drillId)).toEqual(r);
    expect((await store.latest('c5'))?.reasons).toEqual([detail, 'ünïcode ✓']);
  });

  it('maps storage that does not answer to StorageUnavailableError', async () => {
    const dead =
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;';
    const tables = createTableClients(dead, tableNames('DrillDead'));
    const deadStore = new DrillStore(
      tables.drills,
      BlobServiceClient.fromConnectionString(dead, { retryOptions: { maxTries: 1 } }).getContainerClient('x'),
    );
    await expect(deadStore.list('c1')).rejects.toThrow(StorageUnavailableError);
    await expect(deadStore.get('c1', 'drill-1')).rejects.toThrow(StorageUnavailableError);
  });

  it('is wired into the services, with its container in the state storage account', async () => {
    const { azurite: own, services } = await servicesOnAzurite('DrillWire', () => T);
    try {
      const r = report('c6', 2);
      await services.drills.save(r, '<p>wired</p>');
      expect(await services.drills.getHtml('c6', r.drillId)).toBe('<p>wired</p>');
      const exists = await createBlobServiceClient(services.config.storage)
        .getContainerClient('drillwire-drill-reports')
        .exists();
      expect(exists).toBe(true);
    } finally {
      await own.stop();
    }
  });
});
