import { randomBytes } from 'node:crypto';
import {
  startLocalCloud,
  LOCAL_AZURE_SUBSCRIPTION,
  type LocalCloud,
} from '../../../devhost/cloudSimulator/startLocalCloud';
import { armVmId } from '../../../devhost/cloudSimulator/armResources';
import { loadConfig } from '../../../shared/config/config';
import { ProviderRegistry } from '../../../shared/providers/providerRegistry';
import { ProviderError } from '../../../shared/providers/providerError';

let cloud: LocalCloud;
let registry: ProviderRegistry;

beforeAll(async () => {
  cloud = await startLocalCloud({ transitionMs: 20 });
  // The control plane's configuration as the devhost gives it: only settings, no code change in the providers.
  const config = loadConfig({
    ...cloud.env,
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    NODE_KEY_MASTER: randomBytes(32).toString('base64'),
  });
  registry = new ProviderRegistry(config.cloud);
});
afterAll(async () => {
  await cloud.stop();
});

describe('the local stack: both SDKs against the cloud simulator through configuration alone', () => {
  it('reads an Azure VM through arm-compute and OCI quota through the signed OCI SDK', async () => {
    const head = {
      kind: 'azure-vm' as const,
      resourceId: armVmId(LOCAL_AZURE_SUBSCRIPTION, 'hpc-demo', 'head-a'),
    };
    expect(await registry.forSite({ cloud: 'azure', region: 'westeurope' }).getPowerState(head)).toBe(
      'running',
    );
    const headroom = await registry
      .forSite({ cloud: 'oci', region: 'eu-frankfurt-1' })
      .headroom(
        { cloud: 'oci', region: 'eu-frankfurt-1', zone: 'SIM:EU-FRANKFURT-1-AD-1' },
        'BM.GPU.A100-v2.8',
      );
    expect(headroom).toMatchObject({ quotaNodes: 4, capacityNodes: 1 });
    expect(cloud.simulator.model.requestCounts.azure).toBeGreaterThan(0);
    expect(cloud.simulator.model.requestCounts.oci).toBeGreaterThan(0);
  });

  it('fences an Azure VM (power off) and launches an OCI instance, once per idempotency key', async () => {
    const head = {
      kind: 'azure-vm' as const,
      resourceId: armVmId(LOCAL_AZURE_SUBSCRIPTION, 'hpc-demo', 'head-b'),
    };
    const azure = registry.azure();
    await azure.powerOff(head, { idempotencyKey: 'fence-1', deadlineMs: 10_000 });
    expect(await azure.getPowerState(head)).toBe('stopped');
    const oci = registry.oci('eu-frankfurt-1');
    const site = { cloud: 'oci' as const, region: 'eu-frankfurt-1', zone: 'SIM:EU-FRANKFURT-1-AD-1' };
    const first = await oci.scaleOut(
      { site, size: 'VM.GPU.A10.1', count: 1, group: '' },
      { idempotencyKey: 'spill-1', deadlineMs: 10_000 },
    );
    const again = await oci.scaleOut(
      { site, size: 'VM.GPU.A10.1', count: 1, group: '' },
      { idempotencyKey: 'spill-1', deadlineMs: 10_000 },
    );
    expect(again.nodes).toEqual(first.nodes);
    expect([...cloud.simulator.model.vms.values()].filter((vm) => vm.cloud === 'oci')).toHaveLength(1);
  });

  it('answers a cloud without configuration with a clear, non-retryable error', () => {
    const bare = new ProviderRegistry({});
    expect(() => bare.forSite({ cloud: 'oci', region: 'us-ashburn-1' })).toThrow(ProviderError);
    expect(() => bare.azure()).toThrow(/AZURE_SUBSCRIPTION_ID/);
  });
});
