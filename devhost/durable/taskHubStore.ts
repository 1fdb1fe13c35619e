import { gunzipSync, gzipSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import type { HistoryEvent } from './historyEvent';
import type { TaskHubNames } from './taskHubNames';

/** A table string property holds 64 KiB (32K UTF-16 units); larger payloads go to a gzipped blob. */
const TABLE_TEXT_LIMIT = 30_000;
/** A queue message holds 64 KiB; leave room for the envelope. */
const QUEUE_TEXT_LIMIT = 45_000;
const BLOB_MARKER = '$devhostBlob:';
const text = (value: unknown): string => (typeof value === 'string' ? value : '');

export type RuntimeStatus =
  'Pending' | 'Running' | 'Completed' | 'ContinuedAsNew' | 'Failed' | 'Canceled' | 'Terminated' | 'Suspended';

export const TERMINAL_STATUSES: ReadonlySet<RuntimeStatus> = new Set([
  'Completed',
  'Failed',
  'Terminated',
  'Canceled',
]);

export interface InstanceRecord {
  instanceId: string;
  name: string;
  version: string;
  runtimeStatus: RuntimeStatus;
  executionId: string;
  /** JSON text of the input (null when none). */
  input: string | null;
  output: string | null;
  customStatus: string | null;
  createdTime: number;
  lastUpdatedTime: number;
  /** Identity of the start request that created the current execution, to drop duplicate starts. */
  startId: string;
  parentInstanceId: string | null;
  etag?: string;
}

/** A message on the control queue: one event for one instance. */
export interface ControlMessage {
  kind: 'event' | 'terminate' | 'suspend' | 'resume';
  instanceId: string;
  /** Completions are addressed to one execution; external events and client operations are not. */
  executionId?: string;
  event?: HistoryEvent;
  /** ExecutionStarted messages: who started it (client call id or parent task), and the parent if any. */
  startId?: string;
  /** Client and continue-as-new starts: the instance row was written (with this execution id) before sending. */
  preRegistered?: boolean;
  reason?: string;
}

/** A message on the work-item queue: one activity (or built-in HTTP call) to run. */
export interface WorkItemMessage {
  instanceId: string;
  executionId: string;
  taskId: number;
  name: string;
  /** JSON text of the input. */
  input: string;
  http?: boolean;
}

export interface ReceivedMessage<T> {
  body: T;
  messageId: string;
  popReceipt: string;
  dequeueCount: number;
}

export interface InstanceQuery {
  createdTimeFrom?: number;
  createdTimeTo?: number;
  runtimeStatus?: RuntimeStatus[];
  instanceIdPrefix?: string;
  top?: number;
  continuationToken?: string;
}

export class HistoryConflictError extends Error {
  override readonly name = 'HistoryConflictError';
  readonly code = 'HistoryConflict';
  readonly retryable = true;
}

const statusCode = (error: unknown): number | undefined =>
  (error as { statusCode?: number } | undefined)?.statusCode;

function isoOrNull(ms: number | undefined): Date | undefined {
  return ms === undefined ? undefined : new Date(ms);
}

/** OData string literal: the only value type used in filters here, escaped as the protocol requires. */
const odataString = (value: string) => `'${value.replace(/'/g, "''")}'`;

/**
 * The Azure Storage adapter of the durable engine: instances and history in tables, orchestration and activity
 * messages in queues, durable timers in a table (so an injected clock can fire them), large payloads in blobs.
 */
export class TaskHubStore {
  readonly instances: TableClient;
  readonly history: TableClient;
  readonly timers: TableClient;
  readonly controlQueue: QueueClient;
  readonly workItemQueue: QueueClient;
  readonly largeMessages: ContainerClient;

  constructor(
    connectionString: string,
    readonly names: TaskHubNames,
  ) {
    const tableOptions = { allowInsecureConnection: true };
    this.instances = TableClient.fromConnectionString(connectionString, names.instancesTable, tableOptions);
    this.history = TableClient.fromConnectionString(connectionString, names.historyTable, tableOptions);
    this.timers = TableClient.fromConnectionString(connectionString, names.timersTable, tableOptions);
    const queues = QueueServiceClient.fromConnectionString(connectionString);
    this.controlQueue = queues.getQueueClient(names.controlQueue);
    this.workItemQueue = queues.getQueueClient(names.workItemQueue);
    this.largeMessages = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(
      names.largeMessagesContainer,
    );
  }

  async initialize(): Promise<void> {
    await Promise.all([
      this.instances.createTable(),
      this.history.createTable(),
      this.timers.createTable(),
      this.controlQueue.createIfNotExists(),
      this.workItemQueue.createIfNotExists(),
      this.largeMessages.createIfNotExists(),
    ]);
  }

  // ---- large payloads ----

  private async pack(text: string, limit: number): Promise<string> {
    if (text.length <= limit) return text;
    const name = `${randomUUID()}.json.gz`;
    const body = gzipSync(Buffer.from(text, 'utf8'));
    await this.largeMessages.getBlockBlobClient(name).upload(body, body.length);
    return BLOB_MARKER + name;
  }

  private async unpack(text: string): Promise<string> {
    if (!text.startsWith(BLOB_MARKER)) return text;
    const name = text.slice(BLOB_MARKER.length);
    const buffer = await this.largeMessages.getBlockBlobClient(name).downloadToBuffer();
    return gunzipSync(buffer).toString('utf8');
  }

  private async unpackNullable(text: unknown): Promise<string | null> {
    return typeof text === 'string' ? this.unpack(text) : null;
  }

  // ---- instances ----

  async getInstance(instanceId: string): Promise<InstanceRecord | undefined> {
    try {
      const e = await this.instances.getEntity<Record<string, unknown>>(instanceId, '');
      return await this.toInstance(e as TableEntity<Record<string, unknown>> & { etag?: string });
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      throw error;
    }
  }

  private async toInstance(
    e: TableEntity<Record<string, unknown>> & { etag?: string },
  ): Promise<InstanceRecord> {
    return {
      instanceId: e.partitionKey,
      name: text(e.Name),
      version: text(e.Version),
      runtimeStatus: e.RuntimeStatus as RuntimeStatus,
      executionId: text(e.ExecutionId),
      input: await this.unpackNullable(e.Input),
      output: await this.unpackNullable(e.Output),
      customStatus: await this.unpackNullable(e.CustomStatus),
      createdTime: (e.CreatedTime as Date).getTime(),
      lastUpdatedTime: (e.LastUpdatedTime as Date).getTime(),
      startId: text(e.StartId),
      parentInstanceId: typeof e.ParentInstanceId === 'string' ? e.ParentInstanceId : null,
      ...(e.etag ? { etag: e.etag } : {}),
    };
  }

  private async toEntity(r: InstanceRecord): Promise<TableEntity> {
    const entity: TableEntity = {
      partitionKey: r.instanceId,
      rowKey: '',
      Name: r.name,
      Version: r.version,
      RuntimeStatus: r.runtimeStatus,
      ExecutionId: r.executionId,
      CreatedTime: isoOrNull(r.createdTime),
      LastUpdatedTime: isoOrNull(r.lastUpdatedTime),
      StartId: r.startId,
    };
    if (r.input !== null) entity.Input = await this.pack(r.input, TABLE_TEXT_LIMIT);
    if (r.output !== null) entity.Output = await this.pack(r.output, TABLE_TEXT_LIMIT);
    if (r.customStatus !== null) entity.CustomStatus = await this.pack(r.customStatus, TABLE_TEXT_LIMIT);
    if (r.parentInstanceId !== null) entity.ParentInstanceId = r.parentInstanceId;
    return entity;
  }

  /** Writes an instance row; with `etag` the write is conditional and a 412 becomes `false`. */
  async putInstance(
    record: InstanceRecord,
    options: { etag?: string; createOnly?: boolean } = {},
  ): Promise<boolean> {
    const entity = await this.toEntity(record);
    try {
      if (options.createOnly) await this.instances.createEntity(entity);
      else if (options.etag) await this.instances.updateEntity(entity, 'Replace', { etag: options.etag });
      else await this.instances.upsertEntity(entity, 'Replace');
      return true;
    } catch (error) {
      const code = statusCode(error);
      if (code === 412 || code === 409) return false;
      throw error;
    }
  }

  async queryInstances(
    query: InstanceQuery,
  ): Promise<{ instances: InstanceRecord[]; continuationToken?: string }> {
    const filters: string[] = [];
    if (query.createdTimeFrom !== undefined)
      filters.push(`CreatedTime ge datetime'${new Date(query.createdTimeFrom).toISOString()}'`);
    if (query.createdTimeTo !== undefined)
      filters.push(`CreatedTime le datetime'${new Date(query.createdTimeTo).toISOString()}'`);
    if (query.runtimeStatus?.length) {
      filters.push(`(${query.runtimeStatus.map((s) => `RuntimeStatus eq ${odataString(s)}`).join(' or ')})`);
    }
    if (query.instanceIdPrefix) {
      const prefix = query.instanceIdPrefix;
      const next = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
      filters.push(`PartitionKey ge ${odataString(prefix)} and PartitionKey lt ${odataString(next)}`);
    }
    const pages = this.instances
      .listEntities<Record<string, unknown>>({
        queryOptions: filters.length ? { filter: filters.join(' and ') } : {},
      })
      .byPage({
        maxPageSize: query.top ?? 100,
        ...(query.continuationToken ? { continuationToken: query.continuationToken } : {}),
      });
    const first = await pages.next();
    if (first.done) return { instances: [] };
    const page = first.value as (TableEntity<Record<string, unknown>> & { etag?: string })[] & {
      continuationToken?: string;
    };
    const instances = await Promise.all(page.map((e) => this.toInstance(e)));
    return { instances, ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) };
  }

  async deleteInstance(instanceId: string): Promise<boolean> {
    try {
      await this.instances.deleteEntity(instanceId, '');
    } catch (error) {
      if (statusCode(error) === 404) return false;
      throw error;
    }
    await this.deleteHistory(instanceId);
    return true;
  }

  // ---- history ----

  /** Loads the committed history of one execution and the sentinel ETag that guards the next append. */
  async loadHistory(
    instanceId: string,
    executionId: string,
  ): Promise<{ events: HistoryEvent[]; etag?: string }> {
    const rows = this.history.listEntities<Record<string, unknown>>({
      queryOptions: {
        filter: `PartitionKey eq ${odataString(instanceId)} and RowKey ge ${odataString(`${executionId}-`)} and RowKey lt ${odataString(`${executionId}.`)}`,
      },
    });
    const byIndex = new Map<number, string>();
    let committed = 0;
    let etag: string | undefined;
    for await (const row of rows) {
      const suffix = (row.rowKey ?? '').slice(executionId.length + 1);
      if (suffix === 'sentinel') {
        committed = Number(row.EventCount ?? 0);
        etag = row.etag;
      } else {
        byIndex.set(Number(suffix), String(row.Event));
      }
    }
    const events: HistoryEvent[] = [];
    for (let i = 0; i < committed; i++) {
      const text = byIndex.get(i);
      if (text === undefined)
        throw new Error(`History of ${instanceId} is missing event ${i} of ${committed}`);
      events.push(JSON.parse(await this.unpack(text)) as HistoryEvent);
    }
    return { events, ...(etag ? { etag } : {}) };
  }

  /**
   * Appends events after the `committed` first ones. Rows beyond the sentinel's count are invisible to readers,
   * so a crash between batches leaves no partial history; the sentinel update carries the ETag check.
   * Returns the sentinel's new ETag (undefined if the service did not report it).
   */
  async appendHistory(
    instanceId: string,
    executionId: string,
    committed: number,
    events: readonly HistoryEvent[],
    etag: string | undefined,
  ): Promise<string | undefined> {
    if (events.length === 0) return etag;
    const rows: TableEntity[] = [];
    for (let i = 0; i < events.length; i++) {
      const text = await this.pack(JSON.stringify(events[i]), TABLE_TEXT_LIMIT);
      rows.push({
        partitionKey: instanceId,
        rowKey: `${executionId}-${String(committed + i).padStart(8, '0')}`,
        Event: text,
      });
    }
    const sentinel: TableEntity = {
      partitionKey: instanceId,
      rowKey: `${executionId}-sentinel`,
      EventCount: committed + events.length,
    };
    const sentinelAction: TransactionAction = etag
      ? ['update', sentinel, 'Replace', { etag }]
      : ['create', sentinel];
    const chunks: TableEntity[][] = [];
    for (let i = 0; i < rows.length; i += 99) chunks.push(rows.slice(i, i + 99));
    let sentinelEtag: string | undefined;
    try {
      for (let c = 0; c < chunks.length; c++) {
        const actions: TransactionAction[] = (chunks[c] as TableEntity[]).map((row) => [
          'upsert',
          row,
          'Replace',
        ]);
        if (c === chunks.length - 1) actions.push(sentinelAction);
        const response = await this.history.submitTransaction(actions);
        // The sentinel is the last action; update responses carry no Location, so match by position.
        sentinelEtag = response.subResponses[response.subResponses.length - 1]?.etag;
      }
    } catch (error) {
      const code = statusCode(error);
      if (code === 412 || code === 409) {
        throw new HistoryConflictError(
          `History of ${instanceId} changed under this turn (${code}); the turn will be retried`,
        );
      }
      throw error;
    }
    return sentinelEtag;
  }

  async deleteHistory(instanceId: string, exceptExecutionId?: string): Promise<void> {
    const rows = this.history.listEntities({
      queryOptions: { filter: `PartitionKey eq ${odataString(instanceId)}`, select: ['RowKey'] },
    });
    const keys: string[] = [];
    for await (const row of rows) {
      if (exceptExecutionId && row.rowKey?.startsWith(`${exceptExecutionId}-`)) continue;
      keys.push(row.rowKey ?? '');
    }
    for (let i = 0; i < keys.length; i += 100) {
      await this.history.submitTransaction(
        keys
          .slice(i, i + 100)
          .map((rowKey): TransactionAction => ['delete', { partitionKey: instanceId, rowKey }]),
      );
    }
  }

  // ---- timers ----

  async addTimer(message: ControlMessage, fireAt: number): Promise<void> {
    const event = message.event as HistoryEvent;
    await this.timers.upsertEntity(
      {
        partitionKey: 'timer',
        rowKey: `${String(fireAt).padStart(15, '0')}-${message.instanceId}-${message.executionId ?? ''}-${event.TimerId ?? ''}`,
        Message: JSON.stringify(message),
      },
      'Replace',
    );
  }

  /** Timers due at `now`, earliest first. */
  async dueTimers(now: number, max = 100): Promise<{ rowKey: string; message: ControlMessage }[]> {
    const rows = this.timers
      .listEntities<{ Message: string }>({
        queryOptions: {
          filter: `PartitionKey eq 'timer' and RowKey lt ${odataString(`${String(now + 1).padStart(15, '0')}-`)}`,
        },
      })
      .byPage({ maxPageSize: max });
    const first = await rows.next();
    if (first.done) return [];
    return first.value.map((row) => ({
      rowKey: row.rowKey ?? '',
      message: JSON.parse(row.Message) as ControlMessage,
    }));
  }

  async deleteTimer(rowKey: string): Promise<void> {
    try {
      await this.timers.deleteEntity('timer', rowKey);
    } catch (error) {
      if (statusCode(error) !== 404) throw error;
    }
  }

  // ---- queues ----

  async sendControl(message: ControlMessage, delayMs = 0): Promise<void> {
    await this.send(this.controlQueue, message, delayMs);
  }

  async sendWorkItem(message: WorkItemMessage): Promise<void> {
    await this.send(this.workItemQueue, message, 0);
  }

  private async send(queue: QueueClient, body: unknown, delayMs: number): Promise<void> {
    const text = await this.pack(JSON.stringify(body), QUEUE_TEXT_LIMIT);
    await queue.sendMessage(text, delayMs > 0 ? { visibilityTimeout: Math.ceil(delayMs / 1000) } : {});
  }

  async receive<T>(queue: QueueClient, count: number, visibilityMs: number): Promise<ReceivedMessage<T>[]> {
    const response = await queue.receiveMessages({
      numberOfMessages: Math.max(1, Math.min(32, count)),
      visibilityTimeout: Math.max(1, Math.ceil(visibilityMs / 1000)),
    });
    return Promise.all(
      response.receivedMessageItems.map(async (m) => ({
        body: JSON.parse(await this.unpack(m.messageText)) as T,
        messageId: m.messageId,
        popReceipt: m.popReceipt,
        dequeueCount: m.dequeueCount,
      })),
    );
  }

  /** Deletes a processed message; a message whose receipt expired (404) was already re-delivered, not lost. */
  async deleteMessage(queue: QueueClient, message: { messageId: string; popReceipt: string }): Promise<void> {
    try {
      await queue.deleteMessage(message.messageId, message.popReceipt);
    } catch (error) {
      if (statusCode(error) !== 404 && statusCode(error) !== 400) throw error;
    }
  }

  /** Makes a message invisible for `ms` more (renewal) or visible again later (abandon); returns the new receipt. */
  async extendMessage(
    queue: QueueClient,
    message: { messageId: string; popReceipt: string },
    ms: number,
  ): Promise<string | undefined> {
    try {
      const response = await queue.updateMessage(
        message.messageId,
        message.popReceipt,
        undefined,
        Math.ceil(ms / 1000),
      );
      return response.popReceipt;
    } catch (error) {
      if (statusCode(error) === 404 || statusCode(error) === 400) return undefined;
      throw error;
    }
  }
}
