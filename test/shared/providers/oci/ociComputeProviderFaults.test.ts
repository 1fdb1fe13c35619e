import { waitFor } from '../../../helpers/waitFor';
import type { Fault } from '../../../../devhost/cloudSimulator/cloudModel';
import { ProviderError } from '../../../../shared/providers/providerError';
import { OciComputeProvider } from '../../../../shared/providers/oci/ociComputeProvider';
import {
  A10,
  A100,
  AD,
  authProviderFor,
  COMPARTMENT,
  generateApiKey,
  instance,
  quietSdkWarnings,
  REGION,
  startOciFixture,
  type OciFixture,
} from './ociFixture';

let oci: OciFixture;
let restoreWarnings: () => void;
const site = { cloud: 'oci', region: REGION, zone: AD } as const;

beforeAll(async () => {
  restoreWarnings = quietSdkWarnings();
  oci = await startOciFixture();
});
afterAll(async () => {
  await oci.stop();
  restoreWarnings();
});
beforeEach(() => {
  oci.reset();
});

function fault(kind: Fault['kind'], operation: Fault['operation'], extra: Partial<Fault> = {}): void {
  oci.model.addFault({ cloud: 'oci', region: REGION, operation, kind, ...extra });
}

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ProviderError)) throw new Error(`expected a ProviderError, got ${String(error)}`);
  return error;
}

const scaleOutOne = (key: string, size = A100) =>
  oci.provider().scaleOut({ site, size, count: 1, group: COMPARTMENT }, { idempotencyKey: key });

describe('OciComputeProvider capacity errors', () => {
  it('classifies "Out of host capacity" on launch as capacity, after exactly one request (no SDK retry)', async () => {
    fault('OutOfHostCapacity', 'create');
    const before = oci.ociRequests();

    const error = await failure(scaleOutOne('cap-1'));

    expect(error).toMatchObject({
      kind: 'capacity',
      cloudCode: 'InternalError',
      statusCode: 500,
      retryable: false,
    });
    expect(error.message).toContain('Out of host capacity');
    expect(oci.ociRequests() - before).toBe(1);
    expect(oci.model.vms.size).toBe(0);
  });

  it('classifies "Out of host capacity" on start as capacity', async () => {
    const vm = oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.cap2', 'stopped');
    fault('OutOfHostCapacity', 'start');

    const error = await failure(oci.provider().start(instance(vm.id), { idempotencyKey: 'cap-2' }));

    expect(error.kind).toBe('capacity');
    expect(vm.powerState).toBe('stopped');
  });

  it('reports a partial launch when the AD runs out of hosts, and completes it when repeated with the same key', async () => {
    oci.model.site('oci', REGION)!.capacity[A100] = 1;
    const provider = oci.provider();
    const request = { site, size: A100, count: 2, group: COMPARTMENT };

    const error = await failure(provider.scaleOut(request, { idempotencyKey: 'cap-3' }));
    const [launched] = [...oci.model.vms.keys()];
    expect(error.kind).toBe('capacity');
    expect(error.message).toContain(`1 of 2 launched: ${launched}`);

    oci.model.site('oci', REGION)!.capacity[A100] = 1;
    const { nodes } = await provider.scaleOut(request, { idempotencyKey: 'cap-3' });

    expect(nodes[0]).toEqual(instance(launched!));
    expect(oci.model.vms.size).toBe(2);
  });
});

describe('OciComputeProvider quota errors', () => {
  it('classifies a launch beyond the service limit as quota, with the numbers of the message', async () => {
    oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.q1', 'running');
    oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.q2', 'running');
    oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.q3', 'stopped');
    oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.q4', 'running');

    const error = await failure(scaleOutOne('quota-1'));

    expect(error).toMatchObject({
      kind: 'quota',
      cloudCode: 'LimitExceeded',
      statusCode: 400,
      quota: { scope: 'gpu-a100-v2-count', limit: 32, usage: 32, required: 8 },
    });
  });

  it("fills in the numbers from GetResourceAvailability when Oracle's message has none", async () => {
    oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.q5', 'running');
    fault('LimitExceeded', 'create', { remaining: 1 });

    const error = await failure(
      oci
        .provider()
        .scaleOut({ site, size: A100, count: 2, group: COMPARTMENT }, { idempotencyKey: 'quota-2' }),
    );

    expect(error.message).not.toMatch(/\(limit \d+/);
    expect(error).toMatchObject({
      kind: 'quota',
      quota: { scope: 'gpu-a100-v2-count', limit: 32, usage: 8, required: 16 },
    });
    expect(oci.seen.map((r) => r.method)).toEqual(['POST', 'GET']);
  });

  it('classifies a compartment QuotaExceeded as quota', async () => {
    fault('QuotaExceeded', 'create');

    await expect(scaleOutOne('quota-3')).rejects.toMatchObject({ kind: 'quota', cloudCode: 'QuotaExceeded' });
  });

  it('classifies a shape not available in the AD as sku-not-available', async () => {
    const ad2 = { ...site, zone: 'Uocm:EU-FRANKFURT-1-AD-2' };

    await expect(
      oci
        .provider()
        .scaleOut({ site: ad2, size: A10, count: 1, group: COMPARTMENT }, { idempotencyKey: 'sku' }),
    ).rejects.toMatchObject({ kind: 'sku-not-available', cloudCode: 'InvalidParameter' });
  });
});

describe('OciComputeProvider throttling, server errors and conflicts', () => {
  it('surfaces a 429 at once as throttled with the Retry-After of the answer', async () => {
    oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.t1', 'running');
    fault('Throttled', 'any', { retryAfterSeconds: 7 });
    const before = oci.ociRequests();

    const error = await failure(
      oci.provider().getPowerState(instance('ocid1.instance.oc1.eu-frankfurt-1.t1')),
    );

    expect(error).toMatchObject({ kind: 'throttled', statusCode: 429, retryAfterMs: 7000, retryable: true });
    expect(oci.ociRequests() - before).toBe(1);
  });

  it('classifies a 500 that is not about capacity as transient', async () => {
    const vm = oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.t2', 'running');
    fault('ServerError', 'stop', { remaining: 1 });

    const error = await failure(oci.provider().powerOff(instance(vm.id), { idempotencyKey: 't-2' }));

    expect(error).toMatchObject({ kind: 'transient', cloudCode: 'InternalServerError', retryable: true });
    await oci.provider().powerOff(instance(vm.id), { idempotencyKey: 't-2' });
    expect(vm.powerState).toBe('stopped');
  });

  it('classifies starting an instance that is still stopping as conflict', async () => {
    const vm = oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.t3', 'running');
    oci.model.transition(vm, 'stopping', 'stopped', 60_000);

    await expect(oci.provider().start(instance(vm.id), { idempotencyKey: 't-3' })).rejects.toMatchObject({
      kind: 'conflict',
      cloudCode: 'IncorrectState',
      statusCode: 409,
    });
  });

  it('keeps following a change through a transient blip while polling', async () => {
    const vm = oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.t4', 'stopped');
    fault('Slow', 'start', { remaining: 1, delayMs: 300 });

    const starting = oci.provider().start(instance(vm.id), { idempotencyKey: 't-4' });
    await waitFor(() => oci.seen.some((r) => r.action === 'START'), { description: 'the START request' });
    fault('ServerError', 'any', { remaining: 1 });
    await starting;

    expect(vm.powerState).toBe('running');
    expect(oci.model.faults).toEqual([]);
  });
});

describe('OciComputeProvider deadlines and regions that are down', () => {
  it('fails fast as transient when the region refuses connections', async () => {
    oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.d1', 'running');
    oci.model.site('oci', REGION)!.down = 'refuse';
    const started = Date.now();

    const error = await failure(
      oci.provider().getPowerState(instance('ocid1.instance.oc1.eu-frankfurt-1.d1')),
    );

    expect(error.kind).toBe('transient');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('bounds a region that never answers by the deadline', async () => {
    const vm = oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.d2', 'stopped');
    oci.model.site('oci', REGION)!.down = 'hang';
    const started = Date.now();

    const error = await failure(
      oci.provider().start(instance(vm.id), { idempotencyKey: 'd-2', deadlineMs: 300 }),
    );

    expect(error.kind).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("bounds a region that never answers by the caller's abort signal", async () => {
    oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.d3', 'running');
    oci.model.site('oci', REGION)!.down = 'hang';

    const error = await failure(
      oci.provider().getPowerState(instance('ocid1.instance.oc1.eu-frankfurt-1.d3'), {
        abortSignal: AbortSignal.timeout(200),
      }),
    );

    expect(error.kind).toBe('timeout');
    expect(error.message).toContain('aborted');
  });

  it('bounds a region that never answers by the per-request timeout when the caller gives no bound', async () => {
    oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.d4', 'running');
    oci.model.site('oci', REGION)!.down = 'hang';

    const error = await failure(
      oci.provider({ requestTimeoutMs: 200 }).getPowerState(instance('ocid1.instance.oc1.eu-frankfurt-1.d4')),
    );

    expect(error.kind).toBe('transient');
  });

  it('times out following a change that does not complete before the deadline', async () => {
    const vm = oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.d5', 'stopped');
    fault('Slow', 'start', { delayMs: 60_000 });

    const error = await failure(
      oci.provider().start(instance(vm.id), { idempotencyKey: 'd-5', deadlineMs: 250 }),
    );

    expect(error.kind).toBe('timeout');
    expect(error.message).toContain('STARTING');
  });
});

describe('OciComputeProvider request signing', () => {
  it('is refused with 401 NotAuthenticated, classified fatal, when the key does not match the registered one', async () => {
    oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.s1', 'running');
    const impostor = generateApiKey();
    const provider = oci.provider({ authProvider: authProviderFor(impostor, oci.key.fingerprint) });

    const error = await failure(provider.getPowerState(instance('ocid1.instance.oc1.eu-frankfurt-1.s1')));

    expect(error).toMatchObject({
      kind: 'fatal',
      cloudCode: 'NotAuthenticated',
      statusCode: 401,
      retryable: false,
    });
    expect(error.message).not.toContain('PRIVATE KEY');
    expect(error.message).not.toContain(impostor.privateKey.slice(40, 80));
  });

  it('is refused for a key the simulator does not know', async () => {
    const stranger = generateApiKey();
    const provider = new OciComputeProvider({
      authProvider: authProviderFor(stranger),
      region: REGION,
      compartmentId: COMPARTMENT,
      endpoints: { compute: `${oci.sim.url}/oci/${REGION}` },
    });

    await expect(
      provider.getPowerState(instance('ocid1.instance.oc1.eu-frankfurt-1.any')),
    ).rejects.toMatchObject({
      kind: 'fatal',
      statusCode: 401,
    });
  });
});
