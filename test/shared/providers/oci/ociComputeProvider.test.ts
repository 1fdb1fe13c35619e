import { ProviderError } from '../../../../shared/providers/providerError';
import {
  A10,
  A100,
  AD,
  COMPARTMENT,
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

describe('OciComputeProvider power operations over the real SDK', () => {
  it('reads the power state of an instance from its lifecycle state', async () => {
    oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.read1', 'running');
    oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.read2', 'stopped');
    const provider = oci.provider();

    await expect(provider.getPowerState(instance('ocid1.instance.oc1.eu-frankfurt-1.read1'))).resolves.toBe(
      'running',
    );
    await expect(provider.getPowerState(instance('ocid1.instance.oc1.eu-frankfurt-1.read2'))).resolves.toBe(
      'stopped',
    );
    expect(oci.seen.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /oci/eu-frankfurt-1/20160918/instances/ocid1.instance.oc1.eu-frankfurt-1.read1',
      'GET /oci/eu-frankfurt-1/20160918/instances/ocid1.instance.oc1.eu-frankfurt-1.read2',
    ]);
  });

  it('reports an unknown instance as not found', async () => {
    const error = await oci
      .provider()
      .getPowerState(instance('ocid1.instance.oc1.eu-frankfurt-1.nothere'))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ kind: 'not-found', cloudCode: 'NotAuthorizedOrNotFound', statusCode: 404 });
  });

  it('starts a stopped instance with START and returns once it is RUNNING', async () => {
    const vm = oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.start1', 'stopped');

    await oci.provider().start(instance(vm.id), { idempotencyKey: 'op-1/start' });

    expect(vm.powerState).toBe('running');
    const actions = oci.seen.filter((r) => r.method === 'POST');
    expect(actions).toEqual([
      expect.objectContaining({ action: 'START', retryToken: expect.stringMatching(/^start-/) }),
    ]);
    expect(oci.seen.filter((r) => r.method === 'GET').length).toBeGreaterThan(0);
  });

  it('fences with a hard STOP and returns once the instance is STOPPED', async () => {
    const vm = oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.fence1', 'running');

    await oci.provider().powerOff(instance(vm.id), { idempotencyKey: 'op-2/fence' });

    expect(vm.powerState).toBe('stopped');
    expect(oci.seen.filter((r) => r.method === 'POST').map((r) => r.action)).toEqual(['STOP']);
  });

  it('stops gracefully with SOFTSTOP for deallocate', async () => {
    const vm = oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.soft1', 'running');

    await oci.provider().deallocate(instance(vm.id), { idempotencyKey: 'op-3/stop' });

    await expect(oci.provider().getPowerState(instance(vm.id))).resolves.toBe('stopped');
    expect(oci.seen.filter((r) => r.method === 'POST').map((r) => r.action)).toEqual(['SOFTSTOP']);
  });

  it('refuses a node that is not an OCI instance', async () => {
    await expect(
      oci.provider().start({ kind: 'azure-vm', resourceId: '/subscriptions/x/vm' }, { idempotencyKey: 'k' }),
    ).rejects.toMatchObject({ kind: 'fatal' });
    expect(oci.seen).toEqual([]);
  });
});

describe('OciComputeProvider scale out and in', () => {
  it('launches the requested instances in the AD and returns their OCIDs once they are RUNNING', async () => {
    const { nodes } = await oci
      .provider()
      .scaleOut({ site, size: A100, count: 2, group: COMPARTMENT }, { idempotencyKey: 'spill-1' });

    expect(nodes).toHaveLength(2);
    for (const node of nodes) {
      expect(node.kind).toBe('oci-instance');
      const vm = oci.model.vms.get(node.kind === 'oci-instance' ? node.ocid : '');
      expect(vm).toMatchObject({ cloud: 'oci', region: REGION, zone: AD, size: A100, group: COMPARTMENT });
      expect(vm?.powerState).toBe('running');
    }
    expect(oci.model.site('oci', REGION)!.capacity[A100]).toBe(1);
    const launches = oci.seen.filter((r) => r.method === 'POST');
    expect(launches.map((r) => r.path)).toEqual([
      '/oci/eu-frankfurt-1/20160918/instances',
      '/oci/eu-frankfurt-1/20160918/instances',
    ]);
    expect(new Set(launches.map((r) => r.retryToken)).size).toBe(2);

    await oci.provider().scaleIn(COMPARTMENT, nodes, { idempotencyKey: 'spill-1/in' });

    for (const node of nodes)
      expect(oci.model.vms.has(node.kind === 'oci-instance' ? node.ocid : '')).toBe(false);
    expect(oci.model.site('oci', REGION)!.capacity[A100]).toBe(3);
    await expect(oci.provider().getPowerState(nodes[0]!)).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('treats terminating an instance that is already gone as done', async () => {
    await expect(
      oci.provider().scaleIn(COMPARTMENT, [instance('ocid1.instance.oc1.eu-frankfurt-1.gone')], {
        idempotencyKey: 'in-2',
      }),
    ).resolves.toBeUndefined();
  });

  it('refuses an instance pool as the group and a site without an availability domain', async () => {
    await expect(
      oci
        .provider()
        .scaleOut(
          { site, size: A100, count: 1, group: 'ocid1.instancepool.oc1..pool' },
          { idempotencyKey: 'p' },
        ),
    ).rejects.toMatchObject({ kind: 'fatal', message: expect.stringContaining('instance pool') });
    await expect(
      oci
        .provider()
        .scaleOut(
          { site: { cloud: 'oci', region: REGION }, size: A100, count: 1, group: COMPARTMENT },
          { idempotencyKey: 'p' },
        ),
    ).rejects.toMatchObject({ kind: 'fatal', message: expect.stringContaining('availability domain') });
    expect(oci.seen).toEqual([]);
  });
});

describe('OciComputeProvider idempotency through opc-retry-token', () => {
  it('launches once for a repeated scale out with the same key and returns the same instances', async () => {
    const provider = oci.provider();

    const first = await provider.scaleOut(
      { site, size: A10, count: 2, group: COMPARTMENT },
      { idempotencyKey: 'dup-1' },
    );
    const again = await provider.scaleOut(
      { site, size: A10, count: 2, group: COMPARTMENT },
      { idempotencyKey: 'dup-1' },
    );

    expect(again.nodes).toEqual(first.nodes);
    expect(oci.model.vms.size).toBe(2);
    const tokens = oci.seen.filter((r) => r.method === 'POST').map((r) => r.retryToken);
    expect(tokens).toHaveLength(4);
    expect(tokens.slice(2)).toEqual(tokens.slice(0, 2));

    await provider.scaleIn(COMPARTMENT, first.nodes, { idempotencyKey: 'dup-1/in' });
  });

  it('changes nothing when an old fence is redelivered after the node was started again', async () => {
    const vm = oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.refence', 'running');
    const provider = oci.provider();
    await provider.powerOff(instance(vm.id), { idempotencyKey: 'failover-7/fence' });
    await provider.start(instance(vm.id), { idempotencyKey: 'failback-8/start' });

    const redelivered = await provider
      .powerOff(instance(vm.id), { idempotencyKey: 'failover-7/fence', deadlineMs: 150 })
      .catch((e: unknown) => e);

    // The repeat is answered from the retry token: the node stays running (the stale call can only time out).
    expect(redelivered).toMatchObject({ kind: 'timeout' });
    expect(vm.powerState).toBe('running');
    const stops = oci.seen.filter((r) => r.action === 'STOP');
    expect(stops).toHaveLength(2);
    expect(stops[1]!.retryToken).toBe(stops[0]!.retryToken);
  });

  it('derives different tokens for different operations, keys and targets', async () => {
    const a = oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.tok-a', 'stopped');
    const b = oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.tok-b', 'stopped');
    const provider = oci.provider();

    await provider.start(instance(a.id), { idempotencyKey: 'same-key' });
    await provider.start(instance(b.id), { idempotencyKey: 'same-key' });
    await provider.powerOff(instance(a.id), { idempotencyKey: 'same-key' });

    const tokens = oci.seen.filter((r) => r.method === 'POST').map((r) => r.retryToken!);
    expect(new Set(tokens).size).toBe(3);
    for (const token of tokens) expect(token.length).toBeLessThanOrEqual(64);
    expect(b.powerState).toBe('running');
    expect(a.powerState).toBe('stopped');
  });
});

describe('OciComputeProvider headroom', () => {
  it('reads quota nodes from the limit availability and capacity nodes from a capacity report', async () => {
    oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.head1', 'running');
    oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.head2', 'stopped');

    const headroom = await oci.provider().headroom(site, A100);

    // 32 GPUs, 2 nodes of 8 hold 16 (a stopped instance still counts against the limit): 2 more nodes.
    expect(headroom).toEqual({
      site,
      size: A100,
      quotaNodes: 2,
      quota: [{ scope: 'gpu-a100-v2-count', limit: 32, used: 16 }],
      capacityNodes: 3,
    });
    expect(oci.seen.map((r) => `${r.method} ${r.path}`).sort()).toEqual([
      'GET /oci/eu-frankfurt-1/20190729/services/compute/limits/gpu-a100-v2-count/resourceAvailability',
      'POST /oci/eu-frankfurt-1/20160918/computeCapacityReports',
    ]);
  });

  it('reports no capacity when the AD is out of host capacity, and a restriction for an unsupported shape', async () => {
    oci.model.site('oci', REGION)!.capacity[A100] = 0;
    await expect(oci.provider().headroom(site, A100)).resolves.toMatchObject({ capacityNodes: 0 });
    const ad2 = { ...site, zone: 'Uocm:EU-FRANKFURT-1-AD-2' };
    await expect(oci.provider().headroom(ad2, A10)).resolves.toMatchObject({
      capacityNodes: 0,
      restricted: expect.stringContaining(A10),
    });
  });

  it('uses the regional availability and unknown capacity without an AD', async () => {
    const headroom = await oci.provider().headroom({ cloud: 'oci', region: REGION }, A10);
    expect(headroom.capacityNodes).toBe('unknown');
    expect(oci.seen.map((r) => r.method)).toEqual(['GET']);
  });

  it('refuses a shape whose limit it does not know, and another region', async () => {
    await expect(oci.provider().headroom(site, 'VM.Unknown.1')).rejects.toMatchObject({ kind: 'fatal' });
    await expect(
      oci.provider().headroom({ cloud: 'oci', region: 'us-ashburn-1' }, A100),
    ).rejects.toMatchObject({
      kind: 'fatal',
    });
  });
});
