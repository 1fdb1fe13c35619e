import { ManualClock } from '../../../devhost/clock';
import { armRoutes } from '../../../devhost/cloudSimulator/armRoutes';
import {
  armScaleSet,
  armScaleSetId,
  armScaleSets,
  armVmId,
  putArmScaleSet,
  putArmVm,
  scaleSetInstances,
} from '../../../devhost/cloudSimulator/armResources';
import type { CloudModel, SimSite } from '../../../devhost/cloudSimulator/cloudModel';
import { startCloudSimulator, type CloudSimulator } from '../../../devhost/cloudSimulator/simulatorServer';

const SUB = '00000000-0000-4000-8000-0000000000bb';
const RG = 'rg';
const GPU = 'Standard_NC24ads_A100_v4';
const FAMILY = 'standardNCADSA100v4Family';
const API = 'api-version=2026-04-01';
const AUTH = { authorization: 'Bearer any-token' };
const TRANSITION_MS = 1000;

const clock = new ManualClock();
let sim: CloudSimulator;

function seed(model: CloudModel): void {
  model.vms.clear();
  model.sites.clear();
  model.faults.splice(0);
  model.operations.clear();
  armScaleSets(model).clear();
  model.transitionMs = TRANSITION_MS;
  model.sizes.set(GPU, { name: GPU, family: FAMILY, cores: 24 });
  model.putSite({
    cloud: 'azure',
    region: 'westeurope',
    quotas: { [FAMILY]: { limit: 96 }, cores: { limit: 350, extraUsed: 10 } },
    capacity: { [GPU]: 3 },
    restrictions: { [GPU]: ['2'] },
  });
  putArmVm(model, {
    subscriptionId: SUB,
    resourceGroup: RG,
    name: 'vm1',
    region: 'westeurope',
    size: GPU,
    powerState: 'deallocated',
  });
  putArmScaleSet(model, {
    subscriptionId: SUB,
    resourceGroup: RG,
    name: 'pool',
    region: 'westeurope',
    size: GPU,
    instances: 1,
  });
}

beforeAll(async () => {
  sim = await startCloudSimulator({ routes: armRoutes, clock, seed });
});
afterAll(async () => {
  await sim.stop();
});
beforeEach(() => seed(sim.model));

const vmPath = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/vm1`;
const poolPath = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/pool`;
const site = () => sim.model.site('azure', 'westeurope') as SimSite;

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = AUTH) {
  const url = path.startsWith('http') ? path : `${sim.url}${path}${path.includes('?') ? '&' : '?'}${API}`;
  const response = await fetch(url, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? JSON.parse(text) : undefined,
  };
}

describe('ARM routes of the cloud simulator', () => {
  it('needs a bearer token and an api-version', async () => {
    const anonymous = await call('GET', `${vmPath}/instanceView`, undefined, {});
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('AuthenticationFailed');
    const noVersion = await fetch(`${sim.url}${vmPath}/instanceView`, { headers: AUTH });
    expect(noVersion.status).toBe(400);
  });

  it('answers a start with 202 and operation URLs, and the operation and power state follow the clock', async () => {
    const started = await call('POST', `${vmPath}/start`);
    expect(started.status).toBe(202);
    const asyncOperation = started.headers.get('azure-asyncoperation') ?? '';
    const location = started.headers.get('location') ?? '';
    expect(asyncOperation).toMatch(
      new RegExp(
        `^${sim.url}/subscriptions/${SUB}/providers/Microsoft\\.Compute/locations/westeurope/operations/[\\w-]+\\?`,
      ),
    );
    expect(location).toContain('monitor=true');

    expect((await call('GET', asyncOperation)).body).toMatchObject({ status: 'InProgress' });
    expect((await call('GET', location)).status).toBe(202);
    expect((await call('GET', `${vmPath}/instanceView`)).body.statuses).toEqual([
      expect.objectContaining({ code: 'ProvisioningState/updating' }),
      expect.objectContaining({ code: 'PowerState/starting', displayStatus: 'VM starting' }),
    ]);

    clock.advance(TRANSITION_MS);
    expect((await call('GET', asyncOperation)).body).toMatchObject({ status: 'Succeeded' });
    expect((await call('GET', location)).status).toBe(200);
    expect((await call('GET', `${vmPath}/instanceView`)).body.statuses).toEqual([
      expect.objectContaining({ code: 'ProvisioningState/succeeded' }),
      expect.objectContaining({ code: 'PowerState/running' }),
    ]);
    expect(site().capacity[GPU]).toBe(2);
  });

  it('fails an allocation asynchronously: 202 first, then the operation reports AllocationFailed', async () => {
    site().capacity[GPU] = 0;
    const started = await call('POST', `${vmPath}/start`);
    expect(started.status).toBe(202);
    clock.advance(TRANSITION_MS);
    const status = await call('GET', started.headers.get('azure-asyncoperation') ?? '');
    expect(status.body).toMatchObject({
      status: 'Failed',
      error: {
        code: 'AllocationFailed',
        message: expect.stringMatching(/^Allocation failed\. We do not have sufficient capacity/),
      },
    });
    expect(sim.model.vms.get(armVmId(SUB, RG, 'vm1'))?.powerState).toBe('deallocated');
  });

  it('powers off gracefully more slowly than with skipShutdown', async () => {
    const vm = sim.model.vms.get(armVmId(SUB, RG, 'vm1'));
    if (!vm) throw new Error('seeded');
    vm.powerState = 'running';
    await call('POST', `${vmPath}/powerOff`);
    expect(vm.until).toBe(clock.now() + 2 * TRANSITION_MS);
    vm.powerState = 'running';
    delete vm.target;
    await call('POST', `${vmPath}/powerOff?skipShutdown=true`);
    expect(vm.until).toBe(clock.now() + TRANSITION_MS);
  });

  it('answers a scale out beyond the quota with the real 409 quota message and the model numbers', async () => {
    const reply = await call('PATCH', poolPath, { sku: { capacity: 5 } });
    expect(reply.status).toBe(409);
    expect(reply.body.error.code).toBe('OperationNotAllowed');
    expect(reply.body.error.message).toContain(
      `exceeding approved ${FAMILY} Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 96, Current Usage: 24, Additional Required: 96, (Minimum) New Limit Required: 120.`,
    );
    expect(
      scaleSetInstances(sim.model, armScaleSet(sim.model, armScaleSetId(SUB, RG, 'pool'))!),
    ).toHaveLength(1);
  });

  it('scales a scale set through PATCH sku.capacity and deletes instances through POST delete', async () => {
    const patched = await call('PATCH', poolPath, { sku: { capacity: 3 }, tags: { owner: 'test' } });
    expect(patched.status).toBe(200);
    expect(patched.headers.get('azure-asyncoperation')).toContain('/operations/');
    expect(patched.body).toMatchObject({
      sku: { name: GPU, capacity: 3 },
      properties: { provisioningState: 'Updating' },
    });
    clock.advance(TRANSITION_MS);
    expect((await call('GET', poolPath)).body).toMatchObject({
      location: 'westeurope',
      tags: { owner: 'test' },
      sku: { capacity: 3 },
      properties: { provisioningState: 'Succeeded' },
    });
    const listed = await call('GET', `${poolPath}/virtualMachines`);
    expect(listed.body.value.map((vm: any) => vm.instanceId)).toEqual(['0', '1', '2']);
    expect(site().capacity[GPU]).toBe(1);

    const deleted = await call('POST', `${poolPath}/delete`, { instanceIds: ['1'] });
    expect(deleted.status).toBe(202);
    expect(
      (await call('GET', `${poolPath}/virtualMachines`)).body.value.map((vm: any) => vm.instanceId),
    ).toEqual(['0', '2']);
    expect(site().capacity[GPU]).toBe(2);
    expect((await call('POST', `${poolPath}/delete`, { instanceIds: ['1'] })).status).toBe(400);
  });

  it('throttles with 429, Retry-After and the remaining-writes header', async () => {
    sim.model.addFault({
      cloud: 'azure',
      region: 'westeurope',
      operation: 'start',
      kind: 'Throttled',
      retryAfterSeconds: 17,
      remaining: 1,
    });
    const reply = await call('POST', `${vmPath}/start`);
    expect(reply.status).toBe(429);
    expect(reply.headers.get('retry-after')).toBe('17');
    expect(reply.headers.get('x-ms-ratelimit-remaining-subscription-writes')).toBe('0');
    expect((await call('POST', `${vmPath}/start`)).status).toBe(202);
  });

  it('lists usages per family and regional cores', async () => {
    const reply = await call(
      'GET',
      `/subscriptions/${SUB}/providers/Microsoft.Compute/locations/westeurope/usages`,
    );
    expect(reply.body.value).toEqual([
      {
        unit: 'Count',
        currentValue: 24,
        limit: 96,
        name: { value: FAMILY, localizedValue: `${FAMILY} vCPUs` },
      },
      {
        unit: 'Count',
        currentValue: 34,
        limit: 350,
        name: { value: 'cores', localizedValue: 'Total Regional vCPUs' },
      },
    ]);
  });

  it('lists resource SKUs of a location with zones and restrictions', async () => {
    const reply = await call(
      'GET',
      `/subscriptions/${SUB}/providers/Microsoft.Compute/skus?$filter=${encodeURIComponent("location eq 'westeurope'")}`,
    );
    expect(reply.body.value).toEqual([
      expect.objectContaining({
        resourceType: 'virtualMachines',
        name: GPU,
        family: FAMILY,
        locations: ['westeurope'],
        locationInfo: [expect.objectContaining({ location: 'westeurope', zones: ['1', '2', '3'] })],
        capabilities: expect.arrayContaining([{ name: 'vCPUs', value: '24' }]),
        restrictions: [
          {
            type: 'Zone',
            values: ['westeurope'],
            restrictionInfo: { locations: ['westeurope'], zones: ['2'] },
            reasonCode: 'NotAvailableForSubscription',
          },
        ],
      }),
    ]);
  });

  it('answers 404 ResourceNotFound for a VM it does not know', async () => {
    const reply = await call('GET', `${vmPath.replace('vm1', 'nope')}/instanceView`);
    expect(reply.status).toBe(404);
    expect(reply.body.error.code).toBe('ResourceNotFound');
  });

  it('drops the connection for a region that is down', async () => {
    site().down = 'refuse';
    await expect(call('GET', `${vmPath}/instanceView`)).rejects.toThrow();
  });

  it('creates scale sets through the admin API', async () => {
    const reply = await fetch(`${sim.url}/admin/arm/scaleSets`, {
      method: 'PUT',
      body: JSON.stringify({
        subscriptionId: SUB,
        resourceGroup: RG,
        name: 'other',
        region: 'westeurope',
        size: GPU,
        instances: 2,
      }),
    });
    expect(reply.status).toBe(200);
    expect((await call('GET', poolPath.replace('pool', 'other'))).body.sku.capacity).toBe(2);
    const listed = (await (await fetch(`${sim.url}/admin/arm/scaleSets`)).json()) as any;
    expect(listed.value.map((s: any) => [s.name, s.sku.capacity])).toEqual([
      ['pool', 1],
      ['other', 2],
    ]);
  });
});
