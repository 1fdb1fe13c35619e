import { armActions, armScaleSet, scaleSetInstances } from '../../../../devhost/cloudSimulator/armResources';
import type { SimSite } from '../../../../devhost/cloudSimulator/cloudModel';
import { SCALE_OUT_TAG } from '../../../../shared/providers/azure/azureComputeProvider';
import type { NodeRef, ScaleOutRequest } from '../../../../shared/providers/computeProvider';
import { ProviderError } from '../../../../shared/providers/providerError';
import { BIG, GPU, GPU_FAMILY, SCALE_SET, seedAzure, startArmWorld, type ArmWorld } from './armSim';

let world: ArmWorld;
beforeAll(async () => {
  world = await startArmWorld();
});
afterAll(async () => {
  await world.sim.stop();
});
beforeEach(() => seedAzure(world.sim.model));

const model = () => world.sim.model;
const westeurope = () => model().site('azure', 'westeurope') as SimSite;
const scaleSet = () => {
  const found = armScaleSet(model(), SCALE_SET);
  if (!found) throw new Error('seed has the scale set');
  return found;
};
const instanceCount = () => scaleSetInstances(model(), scaleSet()).length;
const scaleActions = () => armActions(model()).filter((a) => a.action === 'scale');
const instanceId = (id: number) => `${SCALE_SET}/virtualMachines/${id}`;
const instance = (id: number): NodeRef => ({ kind: 'azure-vm', resourceId: instanceId(id) });
const grow = (count: number): ScaleOutRequest => ({
  site: { cloud: 'azure', region: 'westeurope' },
  size: GPU,
  count,
  group: SCALE_SET,
});

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  const error: unknown = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

describe('AzureComputeProvider scale out / in of a VM scale set, against the ARM simulator', () => {
  it('grows the scale set by count and returns the new instances once they run', async () => {
    const { nodes } = await world.provider().scaleOut(grow(2), { idempotencyKey: 'grow-1' });
    expect(nodes).toEqual([instance(1), instance(2)]);
    expect(instanceCount()).toBe(3);
    expect(scaleSetInstances(model(), scaleSet()).map((vm) => vm.powerState)).toEqual([
      'running',
      'running',
      'running',
    ]);
    expect(westeurope().capacity[GPU]).toBe(8);
  });

  it('adds nodes once when a scale out is repeated with the same key, in the same process', async () => {
    const provider = world.provider();
    const first = await provider.scaleOut(grow(2), { idempotencyKey: 'grow-2' });
    const again = await provider.scaleOut(grow(2), { idempotencyKey: 'grow-2' });
    expect(again).toEqual(first);
    expect(instanceCount()).toBe(3);
    expect(scaleActions()).toHaveLength(1);
  });

  it('adds nodes once when a restarted process repeats the scale out: the tag on the scale set says it was done', async () => {
    const first = await world.provider().scaleOut(grow(2), { idempotencyKey: 'grow-3' });
    expect(scaleSet().tags[SCALE_OUT_TAG]).toMatch(/^[\w-]+\|3\|0$/);
    const afterRestart = await world.provider().scaleOut(grow(2), { idempotencyKey: 'grow-3' });
    expect(afterRestart).toEqual(first);
    expect(instanceCount()).toBe(3);
    expect(scaleActions()).toHaveLength(1);
  });

  it('waits for its own change still under way when a restarted process repeats a scale out that timed out', async () => {
    model().addFault({
      cloud: 'azure',
      region: 'westeurope',
      operation: 'create',
      kind: 'Slow',
      delayMs: 500,
      remaining: 1,
    });
    const timedOut = await rejection(
      world.provider().scaleOut(grow(2), { idempotencyKey: 'grow-4', deadlineMs: 100 }),
    );
    expect(timedOut.kind).toBe('timeout');
    const { nodes } = await world.provider().scaleOut(grow(2), { idempotencyKey: 'grow-4' });
    expect(nodes).toEqual([instance(1), instance(2)]);
    expect(scaleSetInstances(model(), scaleSet()).every((vm) => vm.powerState === 'running')).toBe(true);
    expect(scaleActions()).toHaveLength(1);
  });

  it('queues concurrent scale-outs of one scale set with different keys, so neither overwrites the other', async () => {
    const provider = world.provider();
    const [a, b] = await Promise.all([
      provider.scaleOut(grow(1), { idempotencyKey: 'grow-par-a' }),
      provider.scaleOut(grow(2), { idempotencyKey: 'grow-par-b' }),
    ]);
    expect(instanceCount()).toBe(4);
    expect([...a.nodes, ...b.nodes]).toEqual([instance(1), instance(2), instance(3)]);
  });

  it('a new key is a new change', async () => {
    const provider = world.provider();
    await provider.scaleOut(grow(1), { idempotencyKey: 'grow-5a' });
    const { nodes } = await provider.scaleOut(grow(1), { idempotencyKey: 'grow-5b' });
    expect(nodes).toEqual([instance(2)]);
    expect(instanceCount()).toBe(3);
  });

  it('reports a region out of capacity as capacity (asynchronously, from the operation), and a retry re-applies the same target', async () => {
    westeurope().capacity[GPU] = 1;
    const provider = world.provider();
    const error = await rejection(provider.scaleOut(grow(2), { idempotencyKey: 'grow-6' }));
    expect(error).toMatchObject({ kind: 'capacity', cloudCode: 'AllocationFailed' });
    expect(instanceCount()).toBe(1);

    westeurope().capacity[GPU] = 5;
    const { nodes } = await provider.scaleOut(grow(2), { idempotencyKey: 'grow-6' });
    expect(nodes).toHaveLength(2);
    expect(instanceCount()).toBe(3);
    expect(scaleActions().map((a) => a.detail)).toEqual([
      { from: 1, to: 3 },
      { from: 1, to: 3 },
    ]);
  });

  it('reports a scale out beyond the family quota as quota with the numbers, and changes nothing', async () => {
    const error = await rejection(world.provider().scaleOut(grow(6), { idempotencyKey: 'grow-7' }));
    expect(error).toMatchObject({
      kind: 'quota',
      statusCode: 409,
      quota: { scope: GPU_FAMILY, limit: 192, usage: 72, required: 144 },
    });
    expect(instanceCount()).toBe(1);
    expect(scaleSet().tags[SCALE_OUT_TAG]).toBeUndefined();
  });

  it('reports a size restricted in the region as sku-not-available', async () => {
    westeurope().restrictions = { [GPU]: 'all' };
    const error = await rejection(world.provider().scaleOut(grow(1), { idempotencyKey: 'grow-8' }));
    expect(error).toMatchObject({ kind: 'sku-not-available', cloudCode: 'SkuNotAvailable' });
  });

  it('reports a scale set that does not exist as not-found, and refuses a request that does not match the scale set', async () => {
    const provider = world.provider();
    await expect(
      rejection(
        provider.scaleOut(
          { ...grow(1), group: SCALE_SET.replace('gpu-pool', 'nope') },
          { idempotencyKey: 'grow-9' },
        ),
      ),
    ).resolves.toMatchObject({ kind: 'not-found' });
    await expect(
      rejection(provider.scaleOut({ ...grow(1), size: BIG }, { idempotencyKey: 'grow-10' })),
    ).resolves.toMatchObject({
      kind: 'fatal',
      message: expect.stringContaining(`runs ${GPU}`),
    });
    await expect(
      rejection(
        provider.scaleOut(
          { ...grow(1), site: { cloud: 'azure', region: 'northeurope' } },
          { idempotencyKey: 'grow-11' },
        ),
      ),
    ).resolves.toMatchObject({ kind: 'fatal' });
    await expect(rejection(provider.scaleOut(grow(0), { idempotencyKey: 'grow-12' }))).resolves.toMatchObject(
      { kind: 'fatal' },
    );
    expect(scaleActions()).toHaveLength(0);
  });

  it('scales in by deleting the given instances, once, and gives their compute back', async () => {
    const provider = world.provider();
    const { nodes } = await provider.scaleOut(grow(2), { idempotencyKey: 'grow-13' });
    await provider.scaleIn(SCALE_SET, nodes, { idempotencyKey: 'shrink-1' });
    expect(scaleSetInstances(model(), scaleSet()).map((vm) => vm.id)).toEqual([instanceId(0)]);
    expect(westeurope().capacity[GPU]).toBe(10);
    await world.provider().scaleIn(SCALE_SET, nodes, { idempotencyKey: 'shrink-1' });
    await provider.scaleIn(SCALE_SET, nodes, { idempotencyKey: 'shrink-2' });
    expect(armActions(model()).filter((a) => a.action === 'deleteInstances')).toHaveLength(1);
  });

  it('refuses to scale in a node of another scale set', async () => {
    const stranger: NodeRef = {
      kind: 'azure-vm',
      resourceId: SCALE_SET.replace('gpu-pool', 'other') + '/virtualMachines/0',
    };
    await expect(
      rejection(world.provider().scaleIn(SCALE_SET, [stranger], { idempotencyKey: 'shrink-3' })),
    ).resolves.toMatchObject({
      kind: 'fatal',
    });
  });
});

describe('AzureComputeProvider headroom, from usages and resource SKUs', () => {
  it('counts the nodes the family quota still allows when it is the tighter limit', async () => {
    await expect(world.provider().headroom({ cloud: 'azure', region: 'westeurope' }, GPU)).resolves.toEqual({
      site: { cloud: 'azure', region: 'westeurope' },
      size: GPU,
      quotaNodes: 5,
      quota: [
        { scope: GPU_FAMILY, limit: 192, used: 72 },
        { scope: 'cores', limit: 350, used: 72 },
      ],
      capacityNodes: 'unknown',
    });
  });

  it('counts the regional cores when they are the tighter limit', async () => {
    const headroom = await world.provider().headroom({ cloud: 'azure', region: 'northeurope' }, BIG);
    expect(headroom.quotaNodes).toBe(1);
    expect(headroom).not.toHaveProperty('restricted'); // restricted in zone 3 only, and no zone asked for
    expect(headroom.quota).toEqual([
      { scope: 'standardNDASv4_A100Family', limit: 192, used: 0 },
      { scope: 'cores', limit: 150, used: 0 },
    ]);
  });

  it('has no room in a family whose quota is zero', async () => {
    await expect(
      world.provider().headroom({ cloud: 'azure', region: 'westeurope' }, BIG),
    ).resolves.toMatchObject({
      quotaNodes: 0,
    });
  });

  it('reports a size restricted in the whole region', async () => {
    const headroom = await world.provider().headroom({ cloud: 'azure', region: 'northeurope' }, GPU);
    expect(headroom.restricted).toBe(`NotAvailableForSubscription: ${GPU} is not available in northeurope`);
  });

  it('reports a zone restriction only for the restricted zone', async () => {
    const provider = world.provider();
    const inZone = (zone: string) => provider.headroom({ cloud: 'azure', region: 'northeurope', zone }, BIG);
    await expect(inZone('3')).resolves.toMatchObject({
      restricted: `NotAvailableForSubscription: ${BIG} is not available in zone 3 of northeurope`,
    });
    expect((await inZone('1')).restricted).toBeUndefined();
  });

  it('reports a size the region does not offer', async () => {
    await expect(
      world.provider().headroom({ cloud: 'azure', region: 'westeurope' }, 'Standard_Nope'),
    ).resolves.toMatchObject({
      quotaNodes: 0,
      restricted: 'Standard_Nope is not offered in westeurope',
    });
  });

  it('reports a region that refuses connections as transient', async () => {
    westeurope().down = 'refuse';
    await expect(
      rejection(world.provider().headroom({ cloud: 'azure', region: 'westeurope' }, GPU)),
    ).resolves.toMatchObject({
      kind: 'transient',
    });
  });
});
