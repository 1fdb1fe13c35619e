import { randomUUID } from 'node:crypto';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { startAzurite, type RunningAzurite } from '../../../devhost';
import { BlobWitness } from '../../../shared/witness/blobWitness';

/** The validate drill's witness probe: a lease and a write on a blob of its own, never the cluster's witness. */
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

it('leases and writes its own probe blob while a decider holds the cluster witness, and releases its lease', async () => {
  const held = await witness.acquire('probe-a', 'decider-a');
  const before = await witness.read('probe-a');
  await expect(witness.probe('probe-a', { marker: 'drill-1' })).resolves.toEqual({ ok: true });
  // the cluster's witness is untouched and still leased by its decider
  const after = await witness.read('probe-a');
  expect(after.etag).toBe(before.etag);
  await expect(witness.acquire('probe-a', 'decider-b')).rejects.toThrow(/held by another decider/);
  await witness.release(held);
  // the probe blob holds the marker and no lease: a second probe runs at once
  const probe = container.getBlockBlobClient('probes/probe-a.json');
  const props = await probe.getProperties();
  expect(props.leaseState).toBe('available');
  expect((await probe.downloadToBuffer()).toString()).toContain('drill-1');
  await expect(witness.probe('probe-a')).resolves.toEqual({ ok: true });
});

it('names a busy probe blob (leased by another drill) and an aborted probe', async () => {
  await witness.probe('probe-b');
  const other = container.getBlockBlobClient('probes/probe-b.json').getBlobLeaseClient(randomUUID());
  await other.acquireLease(15);
  await expect(witness.probe('probe-b')).resolves.toMatchObject({ ok: false, reason: 'busy' });
  await other.releaseLease();
  const aborted = new AbortController();
  aborted.abort();
  await expect(witness.probe('probe-b', { abortSignal: aborted.signal })).resolves.toMatchObject({
    ok: false,
    reason: 'timeout',
  });
});

it('refuses a probe name that is not a cluster id', async () => {
  await expect(witness.probe('../clusters/x')).rejects.toThrow(RangeError);
});
