import type { TableClient } from '@azure/data-tables';
import { storageCall } from './storageCall';
import { statusOf } from './tableErrors';

/** What was done for one signed webhook delivery: remembered so a redelivery of its `webhook-id` starts nothing. */
export interface WebhookDelivery {
  /** The `webhook-id` header (1–256 visible ASCII characters). */
  webhookId: string;
  clusterId: string;
  /** The operation the delivery started or joined. */
  operationId: string;
  /** Hex SHA-256 of the body as received: a redelivery carries the same body, another request under the id does not. */
  bodySha256: string;
  /** The `webhook-timestamp` of the first accepted delivery, seconds since the Unix epoch. */
  timestampSeconds: number;
  /** When it was accepted (ms since the Unix epoch, the host clock). */
  receivedAt: number;
  /** After this (timestamp + tolerance) no delivery signed at that timestamp can pass; the row may be removed. */
  expiresAt: number;
}

export type WebhookDeliveryInsert =
  | { inserted: true }
  /** The id was already remembered (a redelivery, or a concurrent copy that won): the first record stands. */
  | { inserted: false; existing: WebhookDelivery };

/** Webhook ids are free text (visible ASCII): base64url keeps `/`, `\`, `#` and `?` out of the key. */
const partitionOf = (webhookId: string) => Buffer.from(webhookId, 'utf8').toString('base64url');
const ROW = 'delivery';
/** Times in ms exceed Int32, which an untyped JSON number becomes: stored as Int64 (read back as a bigint). */
const int64 = (n: number) => ({ value: String(Math.trunc(n)), type: 'Int64' as const });

function fromEntity(e: Readonly<Record<string, unknown>>): WebhookDelivery {
  return {
    webhookId: String(e.WebhookId),
    clusterId: String(e.ClusterId),
    operationId: String(e.OperationId),
    bodySha256: String(e.BodySha256),
    timestampSeconds: Number(e.TimestampSeconds),
    receivedAt: Number(e.ReceivedAtMs),
    expiresAt: Number(e.ExpiresAtMs),
  };
}

/**
 * The replay memory of the signed failover webhook: one row per `webhook-id` (its own partition), created only if
 * absent, so of two concurrent deliveries of one id exactly one inserts and the other reads the first's record.
 * Rows are never rewritten. They are kept past `expiresAt` (a known id is answered as delivered whatever its age);
 * `expiresAt` says when one could be purged.
 */
export class WebhookReplayStore {
  constructor(private readonly table: TableClient) {}

  async get(webhookId: string): Promise<WebhookDelivery | undefined> {
    try {
      const e = await storageCall('a webhook delivery record', () =>
        this.table.getEntity<Record<string, unknown>>(partitionOf(webhookId), ROW),
      );
      return fromEntity(e);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Creates the record unless the id is known (one storage request; a second, to read the first, on a 409). */
  async insertIfAbsent(delivery: WebhookDelivery): Promise<WebhookDeliveryInsert> {
    try {
      await storageCall('a webhook delivery record', () =>
        this.table.createEntity({
          partitionKey: partitionOf(delivery.webhookId),
          rowKey: ROW,
          WebhookId: delivery.webhookId,
          ClusterId: delivery.clusterId,
          OperationId: delivery.operationId,
          BodySha256: delivery.bodySha256,
          TimestampSeconds: int64(delivery.timestampSeconds),
          ReceivedAtMs: int64(delivery.receivedAt),
          ExpiresAtMs: int64(delivery.expiresAt),
          ReceivedAt: new Date(delivery.receivedAt),
        }),
      );
      return { inserted: true };
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
    }
    const existing = await this.get(delivery.webhookId);
    // Removed between the two calls (a purge): the caller's record stands as the first.
    return existing ? { inserted: false, existing } : { inserted: true };
  }
}
