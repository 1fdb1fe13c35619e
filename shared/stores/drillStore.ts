import type { TableClient, TransactionAction } from '@azure/data-tables';
import type { ContainerClient } from '@azure/storage-blob';
import type { DrillHistoryPoint, DrillReport, DrillSummary } from '../domain/drills';
import { summarize } from '../domain/drills';
import { ConcurrencyError } from '../errors';
import { continuationAfter, rowKeyOf } from './continuation';
import { readText, storedJson, textProperties } from './largeText';
import { storageCall } from './storageCall';
import { filterId, statusOf } from './tableErrors';
import { assertId, isId } from '../contracts/ids';

export interface DrillCallOptions {
  abortSignal?: AbortSignal;
}

export interface DrillPage {
  /** Newest first. */
  drills: DrillSummary[];
  /** Opaque: pass it back for the next (older) page; absent on the last page. */
  continuation?: string;
}

const MAX_TIME = 9_999_999_999_999;
/** Index rows, one per drill, keyed newest first: `idx-<inverted startedAt>-<drillId>`. */
const INDEX_PREFIX = 'idx-';
const INDEX_ROW = /^idx-\d{13}-[a-z0-9-]{1,63}$/;
const indexKey = (summary: Pick<DrillSummary, 'startedAt' | 'drillId'>) =>
  `${INDEX_PREFIX}${String(MAX_TIME - summary.startedAt).padStart(13, '0')}-${summary.drillId}`;
/** Direct rows, one per drill (row = `id-<drillId>`): lookup by id and where its index row is. */
const directKey = (drillId: string) => `id-${drillId}`;

type DrillEntity = Record<string, unknown> & { rowKey?: string; IndexKey?: string; etag?: string };

const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';

/**
 * Drill reports (issue 10): the report JSON and its self-contained HTML page as blobs
 * (`<clusterId>/<drillId>.json` / `.html` in the `<prefix>-drill-reports` container of the state account), and an
 * index in the `drills` table (partition = cluster id): a row per drill keyed newest first holding its summary, so
 * the list and the trend chart page without reading blobs, and a row per drill id pointing at its index row.
 */
export class DrillStore {
  constructor(
    private readonly table: TableClient,
    private readonly container: ContainerClient,
  ) {}

  /** Creates the reports container (an existing one is fine). */
  async ensureContainer(options: DrillCallOptions = {}): Promise<void> {
    await storageCall('the drill reports container', () =>
      this.container.createIfNotExists({ abortSignal: options.abortSignal }),
    );
  }

  /**
   * Stores a drill's report and page and indexes it. Saving the same drill again replaces all three (its index row
   * moves if its start time changed). Blobs first: a drill the index lists always has its report.
   */
  async save(report: DrillReport, html: string, options: DrillCallOptions = {}): Promise<void> {
    assertId(report.clusterId, 'clusterId');
    assertId(report.drillId, 'drillId');
    const { abortSignal } = options;
    const json = JSON.stringify(report);
    await Promise.all([
      this.#upload(`${report.clusterId}/${report.drillId}.json`, json, JSON_TYPE, abortSignal),
      this.#upload(`${report.clusterId}/${report.drillId}.html`, html, HTML_TYPE, abortSignal),
    ]);
    const summary = summarize(report);
    const index = indexKey(summary);
    const properties = { ...textProperties('Summary', storedJson(summary)), Result: summary.result };
    const direct = { partitionKey: report.clusterId, rowKey: directKey(report.drillId), IndexKey: index };
    // Both rows, and the removal of the index row an earlier save with another start time left, in one transaction
    // of the partition, conditional on the drill's row as read (If-Match, or create when absent): the list never
    // shows a drill twice, whichever of two concurrent saves wins. The loser reads again and retries.
    for (let attempt = 0; attempt < 8; attempt++) {
      const current = await this.#direct(report.clusterId, report.drillId, abortSignal);
      const stale = current?.IndexKey;
      const actions: TransactionAction[] = [
        current
          ? ['update', { ...direct, ...properties }, 'Replace', { etag: current.etag ?? '*' }]
          : ['create', { ...direct, ...properties }],
        ['upsert', { partitionKey: report.clusterId, rowKey: index, ...properties }, 'Replace'],
      ];
      if (typeof stale === 'string' && stale !== index)
        actions.push(['delete', { partitionKey: report.clusterId, rowKey: stale }]);
      try {
        await storageCall(`drill ${report.drillId}`, () =>
          this.table.submitTransaction(actions, { abortSignal }),
        );
        return;
      } catch (error) {
        const status = statusOf(error);
        if (status !== 404 && status !== 409 && status !== 412) throw error;
      }
    }
    throw new ConcurrencyError(`drill ${report.drillId} of ${report.clusterId} kept changing; retry`);
  }

  /** The drill's report, or undefined when there is none. */
  async get(
    clusterId: string,
    drillId: string,
    options: DrillCallOptions = {},
  ): Promise<DrillReport | undefined> {
    const text = await this.#download(clusterId, drillId, 'json', options.abortSignal);
    return text === undefined ? undefined : (JSON.parse(text) as DrillReport);
  }

  /** The drill's HTML page, or undefined when there is none. */
  getHtml(clusterId: string, drillId: string, options: DrillCallOptions = {}): Promise<string | undefined> {
    return this.#download(clusterId, drillId, 'html', options.abortSignal);
  }

  /** Whether `token` is a continuation this store handed out for a cluster's drills. */
  static isContinuation(token: string): boolean {
    return rowKeyOf(token, INDEX_ROW) !== undefined;
  }

  /** A cluster's drills, newest first, `limit` (default 20) at a time. A bad continuation is a RangeError. */
  async list(
    clusterId: string,
    options: { limit?: number; continuation?: string } & DrillCallOptions = {},
  ): Promise<DrillPage> {
    const limit = Math.max(1, Math.floor(options.limit ?? 20));
    const after = options.continuation ? rowKeyOf(options.continuation, INDEX_ROW) : undefined;
    if (options.continuation && !after) throw new RangeError('not a continuation of this list');
    const rows = await storageCall(`drills of ${clusterId}`, async () => {
      const pages = this.#indexRows(clusterId, after, options.abortSignal).byPage({ maxPageSize: limit + 1 });
      const first = await pages.next();
      return first.done ? [] : first.value;
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      drills: page.map((row) => JSON.parse(readText(row, 'Summary')) as DrillSummary),
      ...(rows.length > limit && last ? { continuation: continuationAfter(last.rowKey ?? '') } : {}),
    };
  }

  /** The cluster's last `limit` drills that ran (skipped ones left out), oldest first: the trend chart's points. */
  async history(
    clusterId: string,
    limit: number,
    options: DrillCallOptions = {},
  ): Promise<DrillHistoryPoint[]> {
    const want = Math.max(0, Math.floor(limit));
    if (want === 0) return [];
    const points = await storageCall(`drills of ${clusterId}`, async () => {
      const out: DrillHistoryPoint[] = [];
      for await (const page of this.#indexRows(clusterId, undefined, options.abortSignal).byPage({
        maxPageSize: Math.min(1000, want + 10),
      })) {
        for (const row of page) {
          if (row.Result === 'skipped') continue;
          const s = JSON.parse(readText(row, 'Summary')) as DrillSummary;
          out.push({
            drillId: s.drillId,
            startedAt: s.startedAt,
            mode: s.mode,
            result: s.result,
            ...(s.rtoMs !== undefined ? { rtoMs: s.rtoMs } : {}),
            ...(s.predictedRtoMs !== undefined ? { predictedRtoMs: s.predictedRtoMs } : {}),
          });
          if (out.length === want) return out;
        }
      }
      return out;
    });
    return points.reverse();
  }

  /** The cluster's newest drill, or undefined when it has none. */
  async latest(clusterId: string, options: DrillCallOptions = {}): Promise<DrillSummary | undefined> {
    return (await this.list(clusterId, { limit: 1, ...options })).drills[0];
  }

  #indexRows(clusterId: string, after: string | undefined, abortSignal: AbortSignal | undefined) {
    const filter =
      `PartitionKey eq '${filterId(clusterId)}' and RowKey ${after ? 'gt' : 'ge'} '${after ?? INDEX_PREFIX}'` +
      ` and RowKey lt 'idx.'`;
    return this.table.listEntities<DrillEntity>({ queryOptions: { filter }, abortSignal });
  }

  async #direct(
    clusterId: string,
    drillId: string,
    abortSignal: AbortSignal | undefined,
  ): Promise<DrillEntity | undefined> {
    try {
      return await storageCall(`drill ${drillId}`, () =>
        this.table.getEntity<DrillEntity>(clusterId, directKey(drillId), { abortSignal }),
      );
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async #upload(name: string, text: string, contentType: string, abortSignal: AbortSignal | undefined) {
    const body = Buffer.from(text, 'utf8');
    await storageCall(`drill report ${name}`, () =>
      this.container
        .getBlockBlobClient(name)
        .upload(body, body.length, { blobHTTPHeaders: { blobContentType: contentType }, abortSignal }),
    );
  }

  async #download(
    clusterId: string,
    drillId: string,
    ext: 'json' | 'html',
    abortSignal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    // Ids that are not ids name no stored drill (and must not become blob paths).
    if (!isId(clusterId) || !isId(drillId)) return undefined;
    try {
      const buffer = await storageCall(`drill report ${clusterId}/${drillId}.${ext}`, () =>
        this.container.getBlockBlobClient(`${clusterId}/${drillId}.${ext}`).downloadToBuffer(0, undefined, {
          abortSignal,
        }),
      );
      return buffer.toString('utf8');
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }
}
