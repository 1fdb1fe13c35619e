import { inspect } from 'node:util';
import { armActions } from '../../../../devhost/cloudSimulator/armResources';
import type { SimSite } from '../../../../devhost/cloudSimulator/cloudModel';
import { AzureComputeProvider } from '../../../../shared/providers/azure/azureComputeProvider';
import { StaticTokenCredential } from '../../../../shared/providers/azure/staticTokenCredential';
import type { NodeRef } from '../../../../shared/providers/computeProvider';
import { ProviderError } from '../../../../shared/providers/providerError';
import {
  GPU,
  GPU_FAMILY,
  SCALE_SET,
  seedAzure,
  startArmWorld,
  SUB,
  vmId,
  vmNode,
  type ArmWorld,
} from './armSim';

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
const actions = (action: string) => armActions(model()).filter((a) => a.action === action);
const powerStateInModel = (name: string) => model().vms.get(vmId(name))?.powerState;
const instanceNode = (instanceId: string): NodeRef => ({
  kind: 'azure-vm',
  resourceId: `${SCALE_SET}/virtualMachines/${instanceId}`,
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

describe('AzureComputeProvider power control, through @azure/arm-compute against the ARM simulator', () => {
  it('reads the power state from the instance view of a VM and of a scale set instance', async () => {
    const provider = world.provider();
    await expect(provider.getPowerState(vmNode('vm-running'))).resolves.toBe('running');
    await expect(provider.getPowerState(vmNode('vm-stopped'))).resolves.toBe('stopped');
    await expect(provider.getPowerState(vmNode('vm-deallocated'))).resolves.toBe('deallocated');
    await expect(provider.getPowerState(instanceNode('0'))).resolves.toBe('running');
  });

  it('starts a deallocated VM and returns once the long-running start has completed', async () => {
    await world.provider().start(vmNode('vm-deallocated'), { idempotencyKey: 'start-1' });
    expect(powerStateInModel('vm-deallocated')).toBe('running');
    expect(westeurope().capacity[GPU]).toBe(9);
    expect(actions('start')).toHaveLength(1);
  });

  it('fences with an immediate power off (skipShutdown) and returns once the VM is stopped', async () => {
    await world.provider().powerOff(vmNode('vm-running'), { idempotencyKey: 'fence-1' });
    expect(powerStateInModel('vm-running')).toBe('stopped');
    expect(actions('powerOff')).toEqual([
      expect.objectContaining({ resourceId: vmId('vm-running'), detail: { skipShutdown: true } }),
    ]);
  });

  it('deallocates a VM, which gives its compute back to the region', async () => {
    await world.provider().deallocate(vmNode('vm-stopped'), { idempotencyKey: 'dealloc-1' });
    expect(powerStateInModel('vm-stopped')).toBe('deallocated');
    expect(westeurope().capacity[GPU]).toBe(11);
  });

  it('controls a scale set instance the same way', async () => {
    const provider = world.provider();
    await provider.deallocate(instanceNode('0'), { idempotencyKey: 'ss-dealloc' });
    await expect(provider.getPowerState(instanceNode('0'))).resolves.toBe('deallocated');
    await provider.start(instanceNode('0'), { idempotencyKey: 'ss-start' });
    await expect(provider.getPowerState(instanceNode('0'))).resolves.toBe('running');
  });

  describe('failures, classified', () => {
    it('reports an AllocationFailed that arrives in the operation status after the 202 as capacity', async () => {
      westeurope().capacity[GPU] = 0;
      const error = await rejection(
        world.provider().start(vmNode('vm-deallocated'), { idempotencyKey: 'alloc-1' }),
      );
      expect(error).toMatchObject({ kind: 'capacity', cloudCode: 'AllocationFailed', retryable: false });
      expect(error.message).toContain('We do not have sufficient capacity');
      expect(actions('start')).toHaveLength(1);
      expect([...model().operations.values()].at(-1)).toMatchObject({
        status: 'Failed',
        error: { code: 'AllocationFailed' },
      });
      expect(powerStateInModel('vm-deallocated')).toBe('deallocated');
    });

    it('reports a ZonalAllocationFailed fault the same way', async () => {
      model().addFault({
        cloud: 'azure',
        region: 'westeurope',
        operation: 'start',
        kind: 'ZonalAllocationFailed',
        remaining: 1,
      });
      const error = await rejection(
        world.provider().start(vmNode('vm-deallocated'), { idempotencyKey: 'alloc-2' }),
      );
      expect(error).toMatchObject({ kind: 'capacity', cloudCode: 'ZonalAllocationFailed' });
    });

    it('reports exceeding the family quota as quota, with the numbers from the message', async () => {
      westeurope().quotas[GPU_FAMILY] = { limit: 72 };
      const error = await rejection(
        world.provider().start(vmNode('vm-deallocated'), { idempotencyKey: 'quota-1' }),
      );
      expect(error).toMatchObject({
        kind: 'quota',
        statusCode: 409,
        cloudCode: 'OperationNotAllowed',
        quota: { limit: 72, usage: 72, required: 24, scope: GPU_FAMILY },
      });
    });

    it('reports a 429 as throttled with the Retry-After, without retrying it', async () => {
      model().addFault({
        cloud: 'azure',
        region: 'westeurope',
        operation: 'start',
        kind: 'Throttled',
        retryAfterSeconds: 1200,
        remaining: 1,
      });
      const error = await rejection(
        world.provider().start(vmNode('vm-deallocated'), { idempotencyKey: 'throttle-1' }),
      );
      expect(error).toMatchObject({
        kind: 'throttled',
        statusCode: 429,
        retryAfterMs: 1_200_000,
        retryable: true,
      });
      expect(model().requestCounts.azure).toBe(2); // the instance view, then one POST — no retry
    });

    it('reports a 429 on a read as throttled', async () => {
      model().addFault({
        cloud: 'azure',
        region: 'westeurope',
        operation: 'any',
        kind: 'Throttled',
        retryAfterSeconds: 7,
        remaining: 1,
      });
      const error = await rejection(world.provider().getPowerState(vmNode('vm-running')));
      expect(error).toMatchObject({ kind: 'throttled', retryAfterMs: 7000 });
    });

    it('reports SkuNotAvailable as sku-not-available', async () => {
      model().addFault({
        cloud: 'azure',
        region: 'westeurope',
        operation: 'start',
        kind: 'SkuNotAvailable',
        remaining: 1,
      });
      const error = await rejection(
        world.provider().start(vmNode('vm-deallocated'), { idempotencyKey: 'sku-1' }),
      );
      expect(error).toMatchObject({ kind: 'sku-not-available', cloudCode: 'SkuNotAvailable' });
    });

    it('reports a VM that does not exist as not-found', async () => {
      const provider = world.provider();
      await expect(rejection(provider.getPowerState(vmNode('vm-missing')))).resolves.toMatchObject({
        kind: 'not-found',
        statusCode: 404,
      });
      await expect(
        rejection(provider.start(vmNode('vm-missing'), { idempotencyKey: 'missing-1' })),
      ).resolves.toMatchObject({ kind: 'not-found' });
    });

    it('reports starting a VM that is being deallocated as conflict', async () => {
      const vm = model().vms.get(vmId('vm-stopped'));
      if (!vm) throw new Error('seed has vm-stopped');
      model().transition(vm, 'deallocating', 'deallocated', 60_000);
      const error = await rejection(
        world.provider().start(vmNode('vm-stopped'), { idempotencyKey: 'conflict-1' }),
      );
      expect(error).toMatchObject({ kind: 'conflict', statusCode: 409, retryable: true });
    });

    it('reports a persistent server error as transient after a bounded number of read retries', async () => {
      model().addFault({ cloud: 'azure', region: 'westeurope', operation: 'any', kind: 'ServerError' });
      const error = await rejection(world.provider({ readRetries: 2 }).getPowerState(vmNode('vm-running')));
      expect(error).toMatchObject({ kind: 'transient', statusCode: 500 });
      expect(model().requestCounts.azure).toBe(3);
    });

    it('reports a region that refuses connections as transient, quickly', async () => {
      westeurope().down = 'refuse';
      const started = Date.now();
      const error = await rejection(
        world.provider().start(vmNode('vm-deallocated'), { idempotencyKey: 'down-1' }),
      );
      expect(error.kind).toBe('transient');
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('bounds a region that hangs by the deadline: timeout for a long-running call, transient for a read', async () => {
      westeurope().down = 'hang';
      const provider = world.provider({ requestTimeoutMs: 300 });
      const started = Date.now();
      const [start, read] = await Promise.all([
        rejection(provider.start(vmNode('vm-deallocated'), { idempotencyKey: 'hang-1', deadlineMs: 300 })),
        rejection(provider.getPowerState(vmNode('vm-running'))),
      ]);
      expect(start.kind).toBe('timeout');
      expect(start.message).toContain('did not finish within 300 ms');
      expect(read.kind).toBe('transient');
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('stops following an operation at the deadline; a repetition with the same key waits for it instead of starting again', async () => {
      model().addFault({
        cloud: 'azure',
        region: 'westeurope',
        operation: 'start',
        kind: 'Slow',
        delayMs: 600,
        remaining: 1,
      });
      const provider = world.provider();
      const error = await rejection(
        provider.start(vmNode('vm-deallocated'), { idempotencyKey: 'slow-1', deadlineMs: 150 }),
      );
      expect(error).toMatchObject({ kind: 'timeout', retryable: true });
      expect(powerStateInModel('vm-deallocated')).toBe('starting');

      await provider.start(vmNode('vm-deallocated'), { idempotencyKey: 'slow-1' });
      expect(powerStateInModel('vm-deallocated')).toBe('running');
      expect(actions('start')).toHaveLength(1);
    });

    it('ends a call the caller aborts', async () => {
      westeurope().down = 'hang';
      const controller = new AbortController();
      const call = rejection(
        world
          .provider()
          .start(vmNode('vm-deallocated'), { idempotencyKey: 'abort-1', abortSignal: controller.signal }),
      );
      controller.abort();
      await expect(call).resolves.toMatchObject({
        kind: 'timeout',
        message: expect.stringContaining('aborted by the caller'),
      });
    });

    it('never puts the bearer token into an error', async () => {
      const provider = new AzureComputeProvider({
        credential: new StaticTokenCredential('secret-bearer-token-0123456789'),
        subscriptionId: SUB,
        endpoint: world.sim.url,
        pollIntervalMs: 10,
      });
      const error = await rejection(provider.start(vmNode('vm-missing'), { idempotencyKey: 'token-1' }));
      expect(`${error.message} ${JSON.stringify(error)} ${inspect(error, { depth: 10 })}`).not.toContain(
        'secret-bearer-token',
      );
    });
  });

  describe('idempotency', () => {
    it('starts once when a start is repeated with the same key; the repetition sends nothing', async () => {
      const provider = world.provider();
      await provider.start(vmNode('vm-deallocated'), { idempotencyKey: 'again-1' });
      const requests = model().requestCounts.azure;
      await provider.start(vmNode('vm-deallocated'), { idempotencyKey: 'again-1' });
      expect(model().requestCounts.azure).toBe(requests);
      expect(actions('start')).toHaveLength(1);
      expect(westeurope().capacity[GPU]).toBe(9);
    });

    it('starts once when a restarted process repeats the start: it reads the state and sends no action', async () => {
      await world.provider().start(vmNode('vm-deallocated'), { idempotencyKey: 'again-2' });
      const requests = model().requestCounts.azure;
      await world.provider().start(vmNode('vm-deallocated'), { idempotencyKey: 'again-2' });
      expect(model().requestCounts.azure).toBe(requests + 1);
      expect(actions('start')).toHaveLength(1);
    });

    it('joins concurrent repetitions of one key into one start', async () => {
      const provider = world.provider();
      const key = { idempotencyKey: 'again-3' };
      await Promise.all([1, 2, 3].map(() => provider.start(vmNode('vm-deallocated'), key)));
      expect(actions('start')).toHaveLength(1);
    });

    it('powers off once when the fence is repeated, and not at all when the VM is already off', async () => {
      const provider = world.provider();
      await provider.powerOff(vmNode('vm-running'), { idempotencyKey: 'fence-2' });
      await world.provider().powerOff(vmNode('vm-running'), { idempotencyKey: 'fence-2' });
      await provider.powerOff(vmNode('vm-deallocated'), { idempotencyKey: 'fence-3' });
      expect(actions('powerOff')).toHaveLength(1);
    });

    it('does not let a replayed start undo a later fence', async () => {
      const provider = world.provider();
      await provider.start(vmNode('vm-deallocated'), { idempotencyKey: 'step-3-start' });
      await provider.powerOff(vmNode('vm-deallocated'), { idempotencyKey: 'step-5-fence' });
      await provider.start(vmNode('vm-deallocated'), { idempotencyKey: 'step-3-start' });
      expect(powerStateInModel('vm-deallocated')).toBe('stopped');
      expect(actions('start')).toHaveLength(1);
    });

    it('refuses a key reused for another operation, a call without a key, and resources it cannot own', async () => {
      const provider = world.provider();
      await provider.start(vmNode('vm-deallocated'), { idempotencyKey: 'used' });
      await expect(
        rejection(provider.powerOff(vmNode('vm-deallocated'), { idempotencyKey: 'used' })),
      ).resolves.toMatchObject({
        kind: 'fatal',
        message: expect.stringContaining('idempotency key reused'),
      });
      await expect(
        rejection(provider.start(vmNode('vm-running'), { idempotencyKey: '' })),
      ).resolves.toMatchObject({ kind: 'fatal' });
      await expect(
        rejection(
          provider.start({ kind: 'oci-instance', ocid: 'ocid1.instance.oc1..x' }, { idempotencyKey: 'oci' }),
        ),
      ).resolves.toMatchObject({ kind: 'fatal' });
      const elsewhere = vmId('vm-running').replace(SUB, '99999999-0000-4000-8000-000000000000');
      await expect(
        rejection(
          provider.start({ kind: 'azure-vm', resourceId: elsewhere }, { idempotencyKey: 'other-sub' }),
        ),
      ).resolves.toMatchObject({ kind: 'fatal' });
      expect(actions('powerOff')).toHaveLength(0);
    });
  });

  describe('client-side budget', () => {
    it('refuses a write over the budget without sending it, with the wait until the next token', async () => {
      const provider = world.provider({
        now: () => Date.UTC(2030, 0, 1),
        writeBudget: { burst: 2, perSecond: 1 },
      });
      await provider.start(vmNode('vm-deallocated'), { idempotencyKey: 'budget-1' });
      await provider.powerOff(vmNode('vm-running'), { idempotencyKey: 'budget-2' });
      const error = await rejection(
        provider.deallocate(vmNode('vm-stopped'), { idempotencyKey: 'budget-3' }),
      );
      expect(error).toMatchObject({ kind: 'throttled', retryAfterMs: 1000, cloudCode: 'ClientSideThrottle' });
      expect(actions('deallocate')).toHaveLength(0);
    });
  });

  it('refuses to send bearer tokens over plain http to anything but loopback', () => {
    expect(
      () =>
        new AzureComputeProvider({
          credential: new StaticTokenCredential('t'),
          subscriptionId: SUB,
          endpoint: 'http://management.example.com',
        }),
    ).toThrow(/refusing to send bearer tokens/);
  });
});
