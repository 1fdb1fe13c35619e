import type { RunningAzurite } from '../../../../devhost';
import { armVmId, putArmVm } from '../../../../devhost/cloudSimulator/armResources';
import {
  LOCAL_AZURE_SUBSCRIPTION,
  startLocalCloud,
  type LocalCloud,
} from '../../../../devhost/cloudSimulator/startLocalCloud';
import { declareCluster } from '../../../../shared/control/clusters/clusterAdmin';
import {
  advanceClusterOperation,
  beginClusterOperation,
} from '../../../../shared/control/operations/clusterOperation';
import type {
  AdvanceOutcome,
  ClusterOperationInput,
} from '../../../../shared/control/operations/clusterOperationTypes';
import { grantLease } from '../../../../shared/domain/decisions';
import type { Services } from '../../../../shared/services/services';
import { servicesOnAzurite } from '../../../helpers/servicesOnAzurite';

/**
 * A failover whose only standby is a stopped cloud VM (a cold standby): the operation powers the silent active off
 * through the real ARM client against the cloud simulator, finds no healthy node, asks the cloud which silent nodes
 * are stopped, starts the standby, and promotes it once it heartbeats.
 */
let azurite: RunningAzurite;
let cloud: LocalCloud;
let services: Services;
const T0 = Date.UTC(2031, 8, 1);
let clock = T0;
const vmId = (name: string) =>
  `/subscriptions/${LOCAL_AZURE_SUBSCRIPTION}/resourceGroups/hpc-demo/providers/Microsoft.Compute/virtualMachines/${name}`;

beforeAll(async () => {
  cloud = await startLocalCloud({ transitionMs: 20 });
  putArmVm(cloud.simulator.model, {
    subscriptionId: LOCAL_AZURE_SUBSCRIPTION,
    resourceGroup: 'hpc-demo',
    name: 'head-c',
    region: 'northeurope',
    size: 'Standard_D4s_v5',
    powerState: 'deallocated',
  });
  ({ azurite, services } = await servicesOnAzurite('Cold', () => clock, cloud.env));
});
afterAll(async () => {
  await azurite.stop();
  await cloud.stop();
});

async function until<T>(what: string, read: () => Promise<T> | T, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

it('starts a stopped standby when no node is healthy, then promotes it once it heartbeats', async () => {
  await declareCluster(
    services,
    'cold',
    {
      id: 'cold',
      kind: 'active-passive',
      nodes: [
        {
          id: 'head-a',
          role: 'active',
          site: { cloud: 'azure', region: 'westeurope' },
          compute: { kind: 'azure-vm', resourceId: vmId('head-a') },
        },
        {
          id: 'head-c',
          role: 'standby',
          site: { cloud: 'azure', region: 'northeurope' },
          compute: { kind: 'azure-vm', resourceId: vmId('head-c') },
        },
      ],
    },
    'test',
  );
  const stored = await services.clusters.getState('cold');
  const grant = grantLease(stored!.state, 'head-a', 1, clock, 4000);
  if (!grant.granted) throw new Error('expected a grant');
  await services.clusters.replaceState(grant.state, stored!.etag);
  clock += 6000; // head-a silent for longer than the detection window; head-c never heard from

  const request: ClusterOperationInput = {
    clusterId: 'cold',
    operationId: 'failover-cold',
    kind: 'failover',
    targetNodeId: null,
    force: false,
    trigger: { kind: 'api' },
    actor: 'admin',
    reason: 'test',
    avoidRegions: [],
    requestedAt: clock,
  };
  const begun = await beginClusterOperation(services, request);
  if (!begun.ok) throw new Error(JSON.stringify(begun.result));
  let progress = begun.progress;
  const turn = async (): Promise<AdvanceOutcome> => {
    const outcome = await advanceClusterOperation(services, { input: request, plan: begun.plan, progress });
    if (outcome.next === 'wait') progress = outcome.progress;
    return outcome;
  };
  const vm = (name: string) =>
    cloud.simulator.model.vms.get(armVmId(LOCAL_AZURE_SUBSCRIPTION, 'hpc-demo', name));

  // head-a is powered off (the fence), confirmed by the cloud; nobody is healthy, head-c is stopped: it is started
  await until(
    'head-c to be started',
    async () => {
      const outcome = await turn();
      clock += 100;
      return { outcome, power: vm('head-c')?.powerState };
    },
    (v) => v.power === 'starting' || v.power === 'running',
  );
  expect(vm('head-a')?.powerState).toMatch(/stopp/);
  const record = await services.operations.get('cold', 'failover-cold');
  expect(record?.steps?.map((s) => s.id)).toEqual(
    expect.arrayContaining(['revoke-1', 'fence-head-a-1', 'fenced-head-a-1', 'start-head-c']),
  );
  // while it boots, the operation waits for it (nothing promoted)
  const waiting = await turn();
  expect(waiting).toMatchObject({
    next: 'wait',
    waitingFor: 'head-c is starting: waiting for its heartbeat',
  });
  expect((await services.clusters.getState('cold'))?.state).toMatchObject({ epoch: 1, revoked: true });
  // its agent comes up and heartbeats: it is chosen and promoted under epoch 2
  await services.heartbeats.put(
    {
      clusterId: 'cold',
      nodeId: 'head-c',
      seq: 1,
      receivedAt: clock,
      role: 'standby',
      epoch: 1,
      checks: [{ name: 'ping', status: 'ok' }],
    },
    undefined,
  );
  expect((await turn()).next).toBe('wait');
  expect((await services.clusters.getState('cold'))?.state).toMatchObject({
    epoch: 2,
    activeNodeId: 'head-c',
  });
});
