import { ManualClock } from '../../../devhost/clock';
import { startCloudSimulator, type CloudSimulator } from '../../../devhost/cloudSimulator/simulatorServer';

let sim: CloudSimulator;
const clock = new ManualClock(Date.UTC(2030, 0, 1));
const admin = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
      : {}),
  });
  return { status: response.status, json: (await response.json()) as any };
};

beforeAll(async () => {
  sim = await startCloudSimulator({ routes: [], clock, transitionMs: 1000 });
});
afterAll(async () => {
  await sim.stop();
});

describe('cloud simulator admin API and model', () => {
  it('defines sizes, sites and VMs and reports quota use from the VMs that hold compute', async () => {
    expect(
      (
        await admin('POST', '/admin/sizes', [
          { name: 'Standard_NC24ads_A100_v4', family: 'standardNCADSA100v4Family', cores: 24 },
        ])
      ).status,
    ).toBe(200);
    const site = {
      cloud: 'azure',
      region: 'westeurope',
      quotas: { standardNCADSA100v4Family: { limit: 96 }, cores: { limit: 200, extraUsed: 10 } },
      capacity: { Standard_NC24ads_A100_v4: 3 },
    };
    expect((await admin('PUT', '/admin/sites', site)).status).toBe(200);
    for (const [id, powerState] of [
      ['vm1', 'running'],
      ['vm2', 'deallocated'],
    ] as const) {
      await admin('POST', '/admin/vms', {
        id,
        name: id,
        cloud: 'azure',
        region: 'westeurope',
        size: 'Standard_NC24ads_A100_v4',
        powerState,
      });
    }
    const state = await admin('GET', '/admin/state');
    expect(state.json.sites[0].quotaUse).toEqual({
      standardNCADSA100v4Family: { limit: 96, used: 24 },
      cores: { limit: 200, used: 34 },
    });
    const azureSite = sim.model.site('azure', 'WestEurope');
    const size = sim.model.sizes.get('Standard_NC24ads_A100_v4');
    expect(sim.model.quotaShortfall(azureSite!, size!, 3)).toBeUndefined();
    expect(sim.model.quotaShortfall(azureSite!, size!, 4)).toEqual({
      scope: 'standardNCADSA100v4Family',
      limit: 96,
      usage: 24,
      required: 96,
    });
  });

  it('completes a power transition only when its time has come on the simulator clock', () => {
    const vm = sim.model.vms.get('vm1')!;
    sim.model.transition(vm, 'stopping', 'stopped');
    clock.advance(999);
    sim.model.settle();
    expect(vm.powerState).toBe('stopping');
    clock.advance(1);
    sim.model.settle();
    expect(vm.powerState).toBe('stopped');
  });

  it('injects a fault a given number of times, then no more', async () => {
    await admin('POST', '/admin/faults', {
      cloud: 'azure',
      region: 'westeurope',
      operation: 'start',
      kind: 'Throttled',
      remaining: 2,
      retryAfterSeconds: 7,
    });
    expect(sim.model.takeFault('azure', 'westeurope', 'start')?.kind).toBe('Throttled');
    expect(sim.model.takeFault('azure', 'westeurope', 'create')).toBeUndefined();
    expect(sim.model.takeFault('azure', 'westeurope', 'start')?.retryAfterSeconds).toBe(7);
    expect(sim.model.takeFault('azure', 'westeurope', 'start')).toBeUndefined();
  });

  it('answers a malformed admin request with 400 naming the problem, and an unknown path with 404', async () => {
    const bad = await admin('PUT', '/admin/sites', { cloud: 'aws', region: 'x', quotas: {}, capacity: {} });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain('cloud');
    expect(
      (
        await admin('POST', '/admin/vms', {
          id: 'x',
          name: 'x',
          cloud: 'azure',
          region: 'westeurope',
          size: 'Nope',
          powerState: 'running',
        })
      ).status,
    ).toBe(400);
    expect((await admin('GET', '/nope')).status).toBe(404);
  });
});
