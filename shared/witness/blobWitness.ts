import { randomUUID } from 'node:crypto';
import type { BlobDownloadResponseParsed, BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import {
  ConcurrencyError,
  LeaseLostError,
  StaleEpochError,
  StorageUnavailableError,
  WitnessBusyError,
  WitnessNotFoundError,
  WitnessRecordCorruptError,
} from '../errors';

/** The decision a witness blob records: the durable vote of who is active under which epoch. */
export interface WitnessRecord {
  /** The fencing token: strictly increasing with every decision; 0 before the first one. */
  epoch: number;
  activeNodeId: string | null;
  /** ISO 8601 time of the decision. */
  decidedAt: string;
  /** Who decided (an orchestration instance, an arbitration request, an operator). */
  decidedBy: string;
  reason: string;
}

export interface WitnessSnapshot {
  record: WitnessRecord;
  /** Pass to `writeDecision`: the write succeeds only if the blob still has this ETag. */
  etag: string;
}

/** A held witness lease. The lease id is a write capability: keep it out of logs. */
export interface WitnessLease {
  clusterId: string;
  leaseId: string;
  decider: string;
  /** ISO 8601 time the lease was acquired. */
  acquiredAt: string;
}

export interface BlobWitnessOptions {
  /** Lease duration, 15–60 s (infinite leases are refused: a crashed decider must not block the cluster). */
  leaseDurationSeconds?: number;
  /** Clock for `acquiredAt` and the creation record; defaults to `Date.now`. */
  now?: () => number;
}

export interface CallOptions {
  abortSignal?: AbortSignal;
}

/**
 * Cluster ids as `shared/domain/tableKeys.ts` defines them (lowercase letters, digits, single dashes, 1–63): safe in
 * a blob name and a URL without escaping.
 */
const CLUSTER_ID = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,62}$/;
/** A witness record is a few hundred bytes; anything much larger is not one. */
const MAX_RECORD_BYTES = 64 * 1024;
const MAX_TEXT = 1024;

/** Blob error codes (x-ms-error-code) that mean "you do not hold this lease (any more)". */
const LEASE_LOST_CODES = new Set([
  'LeaseIdMissing',
  'LeaseIdMismatchWithBlobOperation',
  'LeaseNotPresentWithBlobOperation',
  'LeaseLost',
  'LeaseIdMismatchWithLeaseOperation',
  'LeaseNotPresentWithLeaseOperation',
  'LeaseIsBrokenAndCannotBeRenewed',
]);

interface StorageErrorShape {
  statusCode?: number;
  code?: string;
  name?: string;
}
const shape = (error: unknown): StorageErrorShape =>
  typeof error === 'object' && error !== null ? error : {};
const statusCode = (error: unknown): number | undefined => shape(error).statusCode;
const errorCode = (error: unknown): string | undefined => {
  const code = shape(error).code;
  return typeof code === 'string' ? code : undefined;
};
const describe = (error: unknown): string => {
  const status = statusCode(error);
  const code = errorCode(error);
  return [status, code].filter((part) => part !== undefined).join(' ') || 'no response';
};

/**
 * Turns a failure that says "storage is not answering" into `StorageUnavailableError` and returns anything else
 * unchanged (aborts included: the caller asked for them). Errors are read by shape, as elsewhere in the project.
 */
function classifyTransport(error: unknown, what: string): unknown {
  const { statusCode: status, name } = shape(error);
  if (name === 'AbortError') return error;
  if (status === 408 || status === 429 || (status !== undefined && status >= 500)) {
    return new StorageUnavailableError(`${what}: storage answered ${describe(error)}`, {
      cause: error,
      statusCode: status,
    });
  }
  if (status === undefined && (name === 'RestError' || /^E[A-Z]+$/.test(errorCode(error) ?? ''))) {
    return new StorageUnavailableError(`${what}: storage unreachable (${describe(error)})`, { cause: error });
  }
  return error;
}

function assertClusterId(clusterId: string): void {
  if (typeof clusterId !== 'string' || !CLUSTER_ID.test(clusterId)) {
    throw new RangeError(
      'clusterId must be 1-63 lowercase letters, digits or single dashes, starting and ending with a letter or digit',
    );
  }
}

function assertText(value: unknown, what: string, { allowEmpty }: { allowEmpty: boolean }): void {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0) || value.length > MAX_TEXT) {
    throw new RangeError(
      `${what} must be a ${allowEmpty ? '' : 'non-empty '}string of at most ${MAX_TEXT} chars`,
    );
  }
}

const isIsoTime = (value: unknown): value is string =>
  typeof value === 'string' &&
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/.test(value) &&
  !Number.isNaN(Date.parse(value));

/** Why `value` is not a witness record, or undefined when it is one. */
function recordProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const r = value as Record<string, unknown>;
  if (typeof r.epoch !== 'number' || !Number.isSafeInteger(r.epoch) || r.epoch < 0) {
    return 'epoch must be a non-negative integer';
  }
  if (r.activeNodeId !== null && (typeof r.activeNodeId !== 'string' || !CLUSTER_ID.test(r.activeNodeId))) {
    return 'activeNodeId must be null or a node id';
  }
  if (!isIsoTime(r.decidedAt)) return 'decidedAt must be an ISO 8601 UTC time';
  if (typeof r.decidedBy !== 'string' || r.decidedBy.length > MAX_TEXT) return 'decidedBy must be a string';
  if (typeof r.reason !== 'string' || r.reason.length > MAX_TEXT) return 'reason must be a string';
  return undefined;
}

async function readBody(response: BlobDownloadResponseParsed, what: string): Promise<Buffer> {
  const stream = response.readableStreamBody;
  if (!stream) throw new WitnessRecordCorruptError(`${what}: the blob has no body`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    size += buffer.length;
    if (size > MAX_RECORD_BYTES) {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      throw new WitnessRecordCorruptError(`${what}: the blob is larger than ${MAX_RECORD_BYTES} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function parseRecord(body: Buffer, what: string): WitnessRecord {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new WitnessRecordCorruptError(`${what}: the blob is not JSON`);
  }
  const problem = recordProblem(value);
  if (problem) throw new WitnessRecordCorruptError(`${what}: not a witness record (${problem})`);
  const r = value as WitnessRecord;
  return {
    epoch: r.epoch,
    activeNodeId: r.activeNodeId,
    decidedAt: r.decidedAt,
    decidedBy: r.decidedBy,
    reason: r.reason,
  };
}

const serialize = (record: WitnessRecord): Buffer => Buffer.from(JSON.stringify(record), 'utf8');

/**
 * The cloud witness: one blob per cluster (`clusters/<clusterId>.json`) in a container of the witness storage
 * account. A decider holds the blob's lease while it decides and writes the decision into the blob under that lease.
 *
 * A lease alone is not a fence — lease operations change neither the ETag nor Last-Modified, and a decider can pause
 * past its lease — so every write is conditional on the lease id **and** the ETag the decider read, and the record's
 * `epoch` must strictly increase. A decider whose lease was lost can therefore never overwrite a newer decision.
 *
 * The ContainerClient's own retry policy applies to every call: give it few, short tries compared with the lease
 * duration, so that a write is not still being retried after the lease ran out.
 */
export class BlobWitness {
  readonly leaseDurationSeconds: number;
  private readonly now: () => number;

  constructor(
    readonly container: ContainerClient,
    options: BlobWitnessOptions = {},
  ) {
    const duration = options.leaseDurationSeconds ?? 15;
    if (!Number.isInteger(duration) || duration < 15 || duration > 60) {
      throw new RangeError(`leaseDurationSeconds must be an integer from 15 to 60 (got ${duration})`);
    }
    this.leaseDurationSeconds = duration;
    this.now = options.now ?? Date.now;
  }

  /** The blob name of a cluster's witness record. */
  static blobName(clusterId: string): string {
    assertClusterId(clusterId);
    return `clusters/${clusterId}.json`;
  }

  private blob(clusterId: string): BlockBlobClient {
    return this.container.getBlockBlobClient(BlobWitness.blobName(clusterId));
  }

  /** Creates the container if it does not exist. */
  async ensureContainer(options: CallOptions = {}): Promise<void> {
    try {
      await this.container.createIfNotExists({ abortSignal: options.abortSignal });
    } catch (error) {
      throw classifyTransport(error, `witness container ${this.container.containerName}`);
    }
  }

  /**
   * Acquires the cluster's witness lease for `decider`, creating the witness blob (epoch 0, no active node) first if
   * it does not exist. Throws `WitnessBusyError` while another decider holds the lease (or while it is being broken).
   */
  async acquire(clusterId: string, decider: string, options: CallOptions = {}): Promise<WitnessLease> {
    const blob = this.blob(clusterId);
    assertText(decider, 'decider', { allowEmpty: false });
    const what = `witness of cluster ${clusterId}`;
    const leaseId = randomUUID();
    // Twice at most: the blob could be deleted (by an operator) between the create and the acquire.
    for (let attempt = 1; ; attempt++) {
      await this.createIfMissing(blob, decider, what, options);
      try {
        await blob.getBlobLeaseClient(leaseId).acquireLease(this.leaseDurationSeconds, {
          abortSignal: options.abortSignal,
        });
        return { clusterId, leaseId, decider, acquiredAt: new Date(this.now()).toISOString() };
      } catch (error) {
        if (statusCode(error) === 409) {
          throw new WitnessBusyError(`${what} is held by another decider (${describe(error)})`, {
            cause: error,
          });
        }
        if (statusCode(error) === 404 && attempt < 2) continue;
        throw classifyTransport(error, `acquire ${what}`);
      }
    }
  }

  private async createIfMissing(
    blob: BlockBlobClient,
    decider: string,
    what: string,
    options: CallOptions,
  ): Promise<void> {
    const initial = serialize({
      epoch: 0,
      activeNodeId: null,
      decidedAt: new Date(this.now()).toISOString(),
      decidedBy: decider,
      reason: 'witness created',
    });
    try {
      await blob.upload(initial, initial.length, {
        conditions: { ifNoneMatch: '*' },
        blobHTTPHeaders: { blobContentType: 'application/json' },
        abortSignal: options.abortSignal,
      });
    } catch (error) {
      // It exists already (created by another decider, possibly leased): that is the normal case.
      if (statusCode(error) === 409 || statusCode(error) === 412) return;
      throw classifyTransport(error, `create ${what}`);
    }
  }

  /**
   * Reads the cluster's witness record and its ETag. No lease is needed to read. Throws `WitnessNotFoundError` when
   * no decider has ever acquired the witness, `WitnessRecordCorruptError` when the blob is not a witness record.
   */
  async read(clusterId: string, options: CallOptions = {}): Promise<WitnessSnapshot> {
    const blob = this.blob(clusterId);
    const what = `witness of cluster ${clusterId}`;
    let response: BlobDownloadResponseParsed;
    try {
      response = await blob.download(0, undefined, { abortSignal: options.abortSignal });
    } catch (error) {
      if (statusCode(error) === 404) {
        throw new WitnessNotFoundError(`${what} does not exist yet`, { cause: error });
      }
      throw classifyTransport(error, `read ${what}`);
    }
    const record = parseRecord(await readBody(response, what), what);
    if (!response.etag) throw new StorageUnavailableError(`read ${what}: storage returned no ETag`);
    return { record, etag: response.etag };
  }

  /**
   * Writes `record` as the cluster's decision, under `lease` and only if the blob still has `expectedEtag` (from
   * `read`). The epoch compared is the one stored under that same ETag, so `record.epoch` must be strictly greater
   * than the epoch this write replaces. Returns the new ETag.
   *
   * Throws `LeaseLostError` when the lease is no longer held (expired and taken, released, broken or being broken),
   * `ConcurrencyError` when the blob changed since `read`, `StaleEpochError` when the epoch does not increase. In
   * every case the stored record is left unchanged.
   */
  async writeDecision(
    lease: WitnessLease,
    record: WitnessRecord,
    expectedEtag: string,
    options: CallOptions = {},
  ): Promise<string> {
    const blob = this.blob(lease.clusterId);
    const what = `witness of cluster ${lease.clusterId}`;
    const problem = recordProblem(record);
    if (problem) throw new RangeError(`invalid witness record: ${problem}`);
    if (record.epoch < 1)
      throw new RangeError('invalid witness record: a decision has an epoch of at least 1');
    assertText(record.decidedBy, 'decidedBy', { allowEmpty: false });
    if (typeof expectedEtag !== 'string' || expectedEtag.length === 0) {
      throw new RangeError('expectedEtag must be the ETag returned by read()');
    }
    const conditions = { leaseId: lease.leaseId, ifMatch: expectedEtag };

    let current: WitnessRecord;
    try {
      // The lease is checked before the ETag, so that a decider that lost its lease hears so (not retryable) rather
      // than "changed since read" (retryable), even when both are true.
      const response = await blob.download(0, undefined, {
        conditions: { leaseId: lease.leaseId },
        abortSignal: options.abortSignal,
      });
      const body = await readBody(response, what);
      // A lease being broken still accepts writes with its id until the break period ends; treat it as lost now,
      // since an operator is forcing recovery.
      if (response.leaseState !== undefined && response.leaseState !== 'leased') {
        throw new LeaseLostError(`${what}: the lease of ${lease.decider} is ${response.leaseState}`);
      }
      if (response.etag !== expectedEtag) {
        throw new ConcurrencyError(`${what} changed since it was read`);
      }
      current = parseRecord(body, what);
    } catch (error) {
      throw this.classifyWrite(error, lease, what);
    }
    if (record.epoch <= current.epoch) {
      throw new StaleEpochError(
        `${what}: epoch ${record.epoch} does not exceed the recorded epoch ${current.epoch}`,
        { currentEpoch: current.epoch, proposedEpoch: record.epoch },
      );
    }

    const body = serialize(record);
    try {
      const response = await blob.upload(body, body.length, {
        conditions,
        blobHTTPHeaders: { blobContentType: 'application/json' },
        abortSignal: options.abortSignal,
      });
      if (!response.etag) throw new StorageUnavailableError(`write ${what}: storage returned no ETag`);
      return response.etag;
    } catch (error) {
      throw this.classifyWrite(error, lease, what);
    }
  }

  private classifyWrite(error: unknown, lease: WitnessLease, what: string): unknown {
    if (
      error instanceof LeaseLostError ||
      error instanceof ConcurrencyError ||
      error instanceof WitnessRecordCorruptError
    ) {
      return error;
    }
    const status = statusCode(error);
    const code = errorCode(error) ?? '';
    if ((status === 412 || status === 409) && LEASE_LOST_CODES.has(code)) {
      return new LeaseLostError(`${what}: ${lease.decider} no longer holds the lease (${describe(error)})`, {
        cause: error,
      });
    }
    if (status === 412) {
      return new ConcurrencyError(`${what} changed since it was read (${describe(error)})`, { cause: error });
    }
    if (status === 404) {
      return new LeaseLostError(`${what}: the blob is gone, and with it the lease (${describe(error)})`, {
        cause: error,
      });
    }
    return classifyTransport(error, `write ${what}`);
  }

  /** Renews the lease for another lease duration. Throws `LeaseLostError` when it is no longer held. */
  async renew(lease: WitnessLease, options: CallOptions = {}): Promise<void> {
    const what = `witness of cluster ${lease.clusterId}`;
    try {
      await this.blob(lease.clusterId)
        .getBlobLeaseClient(lease.leaseId)
        .renewLease({ abortSignal: options.abortSignal });
    } catch (error) {
      const status = statusCode(error);
      if (status === 409 || status === 412 || status === 404) {
        throw new LeaseLostError(`${what}: ${lease.decider} could not renew its lease (${describe(error)})`, {
          cause: error,
        });
      }
      throw classifyTransport(error, `renew the lease on ${what}`);
    }
  }

  /** Releases the lease. Idempotent: a lease that is already gone (released, broken, taken over) is fine. */
  async release(lease: WitnessLease, options: CallOptions = {}): Promise<void> {
    try {
      await this.blob(lease.clusterId)
        .getBlobLeaseClient(lease.leaseId)
        .releaseLease({ abortSignal: options.abortSignal });
    } catch (error) {
      const status = statusCode(error);
      if (status === 409 || status === 412 || status === 404) return;
      throw classifyTransport(error, `release the lease on the witness of cluster ${lease.clusterId}`);
    }
  }

  /**
   * Proves the witness account is usable the way a failover uses it — create a blob, lease it, write under the lease,
   * release — on a probe blob of its own (`probes/<name>.json`), never on a cluster's witness blob, so it can never
   * hold a lease a real failover needs. Does not throw for what storage answers: the result names the failure
   * (`container-missing`, `forbidden`, `busy`, `unavailable`, `timeout`) with a sentence a person can act on.
   */
  async probe(name: string, options: CallOptions & { marker?: string } = {}): Promise<WitnessProbeResult> {
    assertClusterId(name);
    const blob = this.container.getBlockBlobClient(`probes/${name}.json`);
    const where = `witness container ${this.container.containerName}`;
    const marker = Buffer.from(
      JSON.stringify({ probe: name, at: new Date(this.now()).toISOString(), marker: options.marker ?? '' }),
      'utf8',
    );
    const call = { abortSignal: options.abortSignal };
    let leaseId: string | undefined;
    try {
      try {
        await blob.upload(marker, marker.length, {
          conditions: { ifNoneMatch: '*' },
          blobHTTPHeaders: { blobContentType: 'application/json' },
          ...call,
        });
      } catch (error) {
        if (statusCode(error) !== 409 && statusCode(error) !== 412) throw error;
      }
      const lease = blob.getBlobLeaseClient(randomUUID());
      await lease.acquireLease(this.leaseDurationSeconds, call);
      leaseId = lease.leaseId;
      await blob.upload(marker, marker.length, {
        conditions: { leaseId },
        blobHTTPHeaders: { blobContentType: 'application/json' },
        ...call,
      });
      await lease.releaseLease(call);
      leaseId = undefined;
      return { ok: true };
    } catch (error) {
      if (leaseId !== undefined)
        await blob
          .getBlobLeaseClient(leaseId)
          .releaseLease()
          .catch(() => undefined);
      return probeFailure(error, where, options.abortSignal);
    }
  }

  /**
   * Operator-forced recovery: breaks whatever lease is held on the cluster's witness, without taking it. With the
   * default break period of 0 the lease ends at once; with a longer one the holder may still write until it ends
   * (`writeDecision` refuses to, but a write already in flight can land — the epoch still fences it). Idempotent: a
   * witness with no lease, or no blob, is fine.
   */
  async breakLease(
    clusterId: string,
    options: CallOptions & { breakPeriodSeconds?: number } = {},
  ): Promise<void> {
    const period = options.breakPeriodSeconds ?? 0;
    if (!Number.isInteger(period) || period < 0 || period > 60) {
      throw new RangeError(`breakPeriodSeconds must be an integer from 0 to 60 (got ${period})`);
    }
    try {
      await this.blob(clusterId)
        .getBlobLeaseClient()
        .breakLease(period, { abortSignal: options.abortSignal });
    } catch (error) {
      const status = statusCode(error);
      if (status === 409 || status === 404) return;
      throw classifyTransport(error, `break the lease on the witness of cluster ${clusterId}`);
    }
  }
}

export type WitnessProbeResult =
  | { ok: true }
  | {
      ok: false;
      reason: 'container-missing' | 'forbidden' | 'busy' | 'unavailable' | 'timeout';
      /** One sentence a person can act on (no secrets: the account key never appears in storage errors). */
      detail: string;
    };

function probeFailure(error: unknown, where: string, signal: AbortSignal | undefined): WitnessProbeResult {
  const status = statusCode(error);
  const code = errorCode(error);
  if (shape(error).name === 'AbortError' || signal?.aborted === true)
    return { ok: false, reason: 'timeout', detail: `${where} did not answer in time` };
  if (status === 404 && (code === 'ContainerNotFound' || code === undefined))
    return {
      ok: false,
      reason: 'container-missing',
      detail: `${where} does not exist: recreate it (the control plane creates it at start-up)`,
    };
  if (status === 403 || status === 401)
    return {
      ok: false,
      reason: 'forbidden',
      detail: `${where} refused the control plane (${describe(error)}): check the WitnessStorage credentials and the account's network rules`,
    };
  if (status === 409)
    return {
      ok: false,
      reason: 'busy',
      detail: `the probe blob in ${where} is leased by another drill (${describe(error)}): retry once it ends`,
    };
  return {
    ok: false,
    reason: 'unavailable',
    detail: `${where} is not usable (${describe(error)}): check the witness storage account`,
  };
}
