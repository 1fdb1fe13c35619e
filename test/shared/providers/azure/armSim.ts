import { armRoutes } from '../../../../devhost/cloudSimulator/armRoutes';
import {
  armActions,
  armScaleSetId,
  armScaleSets,
  putArmScaleSet,
  putArmVm,
} from '../../../../devhost/cloudSimulator/armResources';
import type { CloudModel } from '../../../../devhost/cloudSimulator/cloudModel';
import { startCloudSimulator, type CloudSimulator } from '../../../../devhost/cloudSimulator/simulatorServer';
import {
  AzureComputeProvider,
  type AzureComputeProviderDeps,
} from '../../../../shared/providers/azure/azureComputeProvider';
import { StaticTokenCredential } from '../../../../shared/providers/azure/staticTokenCredential';
import type { NodeRef } from '../../../../shared/providers/computeProvider';

/** The Azure world the provider tests run in: one subscription, GPU sizes in two regions, a few VMs, a scale set. */

export const SUB = '00000000-0000-4000-8000-0000000000aa';
export const RG = 'rg-gpu';
export const GPU = 'Standard_NC24ads_A100_v4';
export const GPU_FAMILY = 'standardNCADSA100v4Family';
export const BIG = 'Standard_ND96asr_v4';
export const TRANSITION_MS = 40;

export const vmId = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${name}`;
export const vmNode = (name: string): NodeRef => ({ kind: 'azure-vm', resourceId: vmId(name) });
export const SCALE_SET = armScaleSetId(SUB, RG, 'gpu-pool');

export function seedAzure(model: CloudModel): void {
  model.vms.clear();
  model.sites.clear();
  model.faults.splice(0);
  model.operations.clear();
  armScaleSets(model).clear();
  armActions(model).splice(0);
  model.requestCounts.azure = 0;
  model.requestCounts.admin = 0;
  model.transitionMs = TRANSITION_MS;
  model.sizes.set(GPU, { name: GPU, family: GPU_FAMILY, cores: 24 });
  model.sizes.set(BIG, { name: BIG, family: 'standardNDASv4_A100Family', cores: 96 });
  model.putSite({
    cloud: 'azure',
    region: 'westeurope',
    // 192 family cores = 8 GPU nodes; vm-running, vm-stopped and the scale set instance hold 72 of them.
    quotas: { [GPU_FAMILY]: { limit: 192 }, standardNDASv4_A100Family: { limit: 0 }, cores: { limit: 350 } },
    capacity: { [GPU]: 10, [BIG]: 0 },
  });
  model.putSite({
    cloud: 'azure',
    region: 'northeurope',
    // ND96 (96 cores): the family allows 2 nodes, the regional cores only 1. GPU is restricted here, ND96 in zone 3.
    quotas: {
      [GPU_FAMILY]: { limit: 480 },
      standardNDASv4_A100Family: { limit: 192 },
      cores: { limit: 150 },
    },
    capacity: { [GPU]: 10, [BIG]: 2 },
    restrictions: { [BIG]: ['3'], [GPU]: 'all' },
  });
  for (const [name, powerState] of [
    ['vm-running', 'running'],
    ['vm-stopped', 'stopped'],
    ['vm-deallocated', 'deallocated'],
  ] as const) {
    putArmVm(model, {
      subscriptionId: SUB,
      resourceGroup: RG,
      name,
      region: 'westeurope',
      size: GPU,
      powerState,
    });
  }
  putArmScaleSet(model, {
    subscriptionId: SUB,
    resourceGroup: RG,
    name: 'gpu-pool',
    region: 'westeurope',
    size: GPU,
    instances: 1,
  });
}

export interface ArmWorld {
  sim: CloudSimulator;
  provider(overrides?: Partial<AzureComputeProviderDeps>): AzureComputeProvider;
}

export async function startArmWorld(): Promise<ArmWorld> {
  const sim = await startCloudSimulator({ routes: armRoutes, transitionMs: TRANSITION_MS, seed: seedAzure });
  return {
    sim,
    provider: (overrides = {}) =>
      new AzureComputeProvider({
        credential: new StaticTokenCredential('simulator-token'),
        subscriptionId: SUB,
        endpoint: sim.url,
        pollIntervalMs: 10,
        retryDelayMs: 10,
        ...overrides,
      }),
  };
}
