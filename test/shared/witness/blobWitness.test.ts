import { randomUUID } from 'node:crypto';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { startAzurite, type RunningAzurite } from '../../../devhost';
import {
  ConcurrencyError,
  LeaseLostError,
  StaleEpochError,
  StorageUnavailableError,
  WitnessBusyError,
  WitnessNotFoundError,
  WitnessRecordCorruptError,
} from '../../../shared/errors';
import { BlobWitness, type WitnessRecord } from '../../../shared/witness/blobWitness';

let azurite: RunningAzurite;
let container: ContainerClient;
let witness: BlobWitness;

beforeAll(async () => {
  azurite = await startAzurite({ inMemory: true });
  container = BlobServiceClient.fromConnectionString(azurite.connectionString, {
    retryOptions: { maxTries: 1 },
  }).getContainerClient(`witness-${randomUUID().slice(0, 8)}`);
  witness = new BlobWitness(container, { now: () => Date.UTC(2030, 0, 1) });
  await witness.ensureContainer();
});
afterAll(async () => {
  await azurite.stop();
});

let clusters = 0;
/** A fresh cluster per test, so tests never share a witness blob. */
const newCluster = () => `cluster-${++clusters}`;

const decision = (epoch: number, activeNodeId: string, decidedBy = 'orchestration-1'): WitnessRecord => ({
  epoch,
  activeNodeId,
  decidedAt: new Date(Date.UTC(2030, 0, 1, 0, 0, epoch)).toISOString(),
  decidedBy,
  reason: `test decision ${epoch}`,
});

describe('BlobWitness on Azurite', () => {
  it('has no record for a cluster no decider has acquired yet', async () => {
    await expect(witness.read(newCluster())).rejects.toBeInstanceOf(WitnessNotFoundError);
  });

  it('creates the witness on first acquire with epoch 0 and no active node', async () => {
    const clusterId = newCluster();
    const lease = await witness.acquire(clusterId, 'decider-a');
    expect(lease).toEqual({
      clusterId,
      leaseId: expect.any(String),
      decider: 'decider-a',
      acquiredAt: '2030-01-01T00:00:00.000Z',
    });
    const { record, etag } = await witness.read(clusterId);
    expect(record).toEqual({
      epoch: 0,
      activeNodeId: null,
      decidedAt: '2030-01-01T00:00:00.000Z',
      decidedBy: 'decider-a',
      reason: 'witness created',
    });
    expect(etag).toEqual(expect.any(String));
    expect(await container.getBlobClient(`clusters/${clusterId}.json`).exists()).toBe(true);
  });

  it('gives the lease to one decider at a time: the second is busy until the first releases', async () => {
    const clusterId = newCluster();
    const [a, b] = await Promise.allSettled([
      witness.acquire(clusterId, 'decider-a'),
      witness.acquire(clusterId, 'decider-b'),
    ]);
    const won = [a, b].filter((r) => r.status === 'fulfilled');
    const lost = [a, b].filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]?.reason).toBeInstanceOf(WitnessBusyError);
    expect(lost[0]?.reason).toMatchObject({ code: 'WitnessBusy', retryable: true });
    const holder = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<BlobWitness['acquire']>>>).value;

    await expect(witness.acquire(clusterId, 'decider-c')).rejects.toBeInstanceOf(WitnessBusyError);
    await witness.release(holder);
    const next = await witness.acquire(clusterId, 'decider-c');
    expect(next.leaseId).not.toBe(holder.leaseId);
  });

  it('writes a decision under the lease and returns the ETag the next write needs', async () => {
    const clusterId = newCluster();
    const lease = await witness.acquire(clusterId, 'decider-a');
    const { etag } = await witness.read(clusterId);
    const first = await witness.writeDecision(lease, decision(1, 'node-1'), etag);
    expect(await witness.read(clusterId)).toEqual({ record: decision(1, 'node-1'), etag: first });
    const second = await witness.writeDecision(lease, decision(2, 'node-2'), first);
    expect(await witness.read(clusterId)).toEqual({ record: decision(2, 'node-2'), etag: second });
  });

  it('refuses a decision based on a stale ETag and leaves the record unchanged', async () => {
    const clusterId = newCluster();
    const lease = await witness.acquire(clusterId, 'decider-a');
    const stale = (await witness.read(clusterId)).etag;
    await witness.writeDecision(lease, decision(1, 'node-1'), stale);

    const attempt = witness.writeDecision(lease, decision(2, 'node-2'), stale);
    await expect(attempt).rejects.toBeInstanceOf(ConcurrencyError);
    await expect(attempt).rejects.toMatchObject({ code: 'ConcurrencyConflict', retryable: true });
    expect((await witness.read(clusterId)).record).toEqual(decision(1, 'node-1'));
  });

  it('refuses a decision once an operator broke the lease mid-decision, leaving the record unchanged', async () => {
    const clusterId = newCluster();
    const lease = await witness.acquire(clusterId, 'decider-a');
    const { record, etag } = await witness.read(clusterId);

    await witness.breakLease(clusterId);
    const attempt = witness.writeDecision(lease, decision(1, 'node-1'), etag);
    await expect(attempt).rejects.toBeInstanceOf(LeaseLostError);
    await expect(attempt).rejects.toMatchObject({ code: 'LeaseLost', retryable: false });
    expect(await witness.read(clusterId)).toEqual({ record, etag });
  });

  it('fences a decider that paused past its lease: the next decider wins, the old one can no longer write', async () => {
    const clusterId = newCluster();
    const paused = await witness.acquire(clusterId, 'decider-a');
    const seenByPaused = await witness.read(clusterId);

    await witness.breakLease(clusterId); // stands in for the lease running out while decider-a is paused
    const next = await witness.acquire(clusterId, 'decider-b');
    // Lease operations change no ETag, so decider-b's read matches decider-a's: the lease id and epoch fence.
    const seenByNext = await witness.read(clusterId);
    expect(seenByNext.etag).toBe(seenByPaused.etag);
    await witness.writeDecision(next, decision(1, 'node-2', 'decider-b'), seenByNext.etag);

    await expect(
      witness.writeDecision(paused, decision(1, 'node-1', 'decider-a'), seenByPaused.etag),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect((await witness.read(clusterId)).record).toEqual(decision(1, 'node-2', 'decider-b'));
  });

  it('treats a lease being broken with a grace period as lost already, and keeps others out until it ends', async () => {
    const clusterId = newCluster();
    const lease = await witness.acquire(clusterId, 'decider-a');
    const { record, etag } = await witness.read(clusterId);

    await witness.breakLease(clusterId, { breakPeriodSeconds: 60 });
    await expect(witness.writeDecision(lease, decision(1, 'node-1'), etag)).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    await expect(witness.acquire(clusterId, 'decider-b')).rejects.toBeInstanceOf(WitnessBusyError);
    expect((await witness.read(clusterId)).record).toEqual(record);
  });

  it('accepts only a strictly greater epoch', async () => {
    const clusterId = newCluster();
    const lease = await witness.acquire(clusterId, 'decider-a');
    const etag = await witness.writeDecision(
      lease,
      decision(2, 'node-1'),
      (await witness.read(clusterId)).etag,
    );

    for (const epoch of [2, 1]) {
      const attempt = witness.writeDecision(lease, decision(epoch, 'node-2'), etag);
      await expect(attempt).rejects.toBeInstanceOf(StaleEpochError);
      await expect(attempt).rejects.toMatchObject({
        currentEpoch: 2,
        proposedEpoch: epoch,
        retryable: false,
      });
    }
    expect(await witness.read(clusterId)).toEqual({ record: decision(2, 'node-1'), etag });
    // Epochs may skip (the cluster state may be ahead of the witness); they may not repeat.
    await witness.writeDecision(lease, decision(5, 'node-2'), etag);
    expect((await witness.read(clusterId)).record.epoch).toBe(5);
  });

  it('refuses a first decision with epoch 0, which is the empty record', async () => {
    const clusterId = newCluster();
    const lease = await witness.acquire(clusterId, 'decider-a');
    const { etag } = await witness.read(clusterId);
    await expect(witness.writeDecision(lease, decision(0, 'node-1'), etag)).rejects.toThrow(/epoch/);
  });

  it('refuses a write to the witness without the lease', async () => {
    const clusterId = newCluster();
    const lease = await witness.acquire(clusterId, 'decider-a');
    const { record, etag } = await witness.read(clusterId);
    const body = JSON.stringify(decision(1, 'node-9'));

    const blob = container.getBlockBlobClient(`clusters/${clusterId}.json`);
    await expect(blob.upload(body, body.length, { conditions: { ifMatch: etag } })).rejects.toMatchObject({
      statusCode: 412,
    });
    await witness.release(lease);
    await expect(witness.writeDecision(lease, decision(1, 'node-1'), etag)).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    expect((await witness.read(clusterId)).record).toEqual(record);
  });

  it('renews a held lease, and reports the lease lost once it was broken', async () => {
    const clusterId = newCluster();
    const lease = await witness.acquire(clusterId, 'decider-a');
    await witness.renew(lease);
    await expect(witness.acquire(clusterId, 'decider-b')).rejects.toBeInstanceOf(WitnessBusyError);

    await witness.breakLease(clusterId);
    await expect(witness.renew(lease)).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('reports the lease lost on renew after it was released, or taken by another decider', async () => {
    const clusterId = newCluster();
    const first = await witness.acquire(clusterId, 'decider-a');
    await witness.release(first);
    await expect(witness.renew(first)).rejects.toBeInstanceOf(LeaseLostError);
    await witness.acquire(clusterId, 'decider-b');
    await expect(witness.renew(first)).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('releases idempotently, never releasing a lease another decider took since', async () => {
    const clusterId = newCluster();
    const first = await witness.acquire(clusterId, 'decider-a');
    await witness.release(first);
    await witness.release(first);

    const second = await witness.acquire(clusterId, 'decider-b');
    await witness.release(first);
    await expect(witness.acquire(clusterId, 'decider-c')).rejects.toBeInstanceOf(WitnessBusyError);
    await witness.breakLease(clusterId);
    await witness.release(second);
  });

  it('breaks idempotently: a witness without a lease, or without a blob, is fine', async () => {
    const clusterId = newCluster();
    await witness.breakLease(clusterId);
    const lease = await witness.acquire(clusterId, 'decider-a');
    await witness.release(lease);
    await witness.breakLease(clusterId);
    await witness.breakLease(clusterId);
  });

  it('refuses to read a blob that is not a witness record', async () => {
    const clusterId = newCluster();
    const blob = container.getBlockBlobClient(`clusters/${clusterId}.json`);
    await blob.upload('not json', 8);
    await expect(witness.read(clusterId)).rejects.toBeInstanceOf(WitnessRecordCorruptError);
    const wrongShape = JSON.stringify({
      epoch: -1,
      activeNodeId: null,
      decidedAt: 'x',
      decidedBy: '',
      reason: '',
    });
    await blob.upload(wrongShape, wrongShape.length);
    await expect(witness.read(clusterId)).rejects.toThrow(/epoch must be a non-negative integer/);
  });

  it('reports storage that does not answer as StorageUnavailableError (retryable)', async () => {
    const unreachable = new BlobWitness(
      new BlobServiceClient('http://127.0.0.1:1/devstoreaccount1', undefined, {
        retryOptions: { maxTries: 1 },
      }).getContainerClient('nowhere'),
    );
    const attempt = unreachable.read('cluster-x');
    await expect(attempt).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(attempt).rejects.toMatchObject({ code: 'StorageUnavailable', retryable: true });
  });

  it('validates its options and arguments', () => {
    for (const leaseDurationSeconds of [14, 61, 20.5, -1]) {
      expect(() => new BlobWitness(container, { leaseDurationSeconds })).toThrow(/leaseDurationSeconds/);
    }
    expect(new BlobWitness(container, { leaseDurationSeconds: 60 }).leaseDurationSeconds).toBe(60);
    expect(() => BlobWitness.blobName('../other')).toThrow(/clusterId/);
    return Promise.all([
      expect(witness.acquire('Cluster_1', 'decider-a')).rejects.toThrow(/clusterId/),
      expect(witness.acquire(newCluster(), '')).rejects.toThrow(/decider/),
      expect(witness.breakLease(newCluster(), { breakPeriodSeconds: 61 })).rejects.toThrow(
        /breakPeriodSeconds/,
      ),
    ]);
  });
});
