import type { CloudModel } from './cloudModel';

/**
 * The clouds `npm start` simulates: GPU sizes in three Azure regions and two OCI regions, with quotas and capacity
 * that differ per site (one Azure region with a tight family quota, one OCI region nearly out of capacity), so
 * spillover has something to decide. Steer it through `/admin/*` on the simulator.
 */
export function seedDemoCloud(model: CloudModel): void {
  const sizes = [
    { name: 'Standard_NC24ads_A100_v4', family: 'standardNCADSA100v4Family', cores: 24 },
    { name: 'Standard_ND96asr_v4', family: 'standardNDASv4_A100Family', cores: 96 },
    { name: 'Standard_D4s_v5', family: 'standardDSv5Family', cores: 4 },
    // OCI limits count GPUs for GPU shapes and OCPUs for standard shapes.
    { name: 'BM.GPU.A100-v2.8', family: 'gpu-a100-v2-count', cores: 8 },
    { name: 'VM.GPU.A10.1', family: 'gpu-a10-count', cores: 1 },
    { name: 'VM.Standard.E5.Flex', family: 'standard-e5-core-count', cores: 4 },
  ];
  for (const size of sizes) model.sizes.set(size.name, size);
  model.putSite({
    cloud: 'azure',
    region: 'westeurope',
    quotas: {
      standardNCADSA100v4Family: { limit: 96 },
      standardNDASv4_A100Family: { limit: 0 },
      standardDSv5Family: { limit: 100 },
      cores: { limit: 350 },
    },
    capacity: { Standard_NC24ads_A100_v4: 4, Standard_ND96asr_v4: 0, Standard_D4s_v5: 50 },
  });
  model.putSite({
    cloud: 'azure',
    region: 'northeurope',
    quotas: {
      standardNCADSA100v4Family: { limit: 240 },
      standardNDASv4_A100Family: { limit: 192 },
      standardDSv5Family: { limit: 100 },
      cores: { limit: 500 },
    },
    capacity: { Standard_NC24ads_A100_v4: 10, Standard_ND96asr_v4: 2, Standard_D4s_v5: 50 },
    restrictions: { Standard_ND96asr_v4: ['3'] },
  });
  model.putSite({
    cloud: 'azure',
    region: 'eastus',
    quotas: {
      standardNCADSA100v4Family: { limit: 480 },
      standardNDASv4_A100Family: { limit: 384 },
      standardDSv5Family: { limit: 200 },
      cores: { limit: 1000 },
    },
    capacity: { Standard_NC24ads_A100_v4: 20, Standard_ND96asr_v4: 4, Standard_D4s_v5: 100 },
  });
  model.putSite({
    cloud: 'oci',
    region: 'eu-frankfurt-1',
    quotas: {
      'gpu-a100-v2-count': { limit: 32 },
      'gpu-a10-count': { limit: 8 },
      'standard-e5-core-count': { limit: 200 },
    },
    capacity: { 'BM.GPU.A100-v2.8': 1, 'VM.GPU.A10.1': 8, 'VM.Standard.E5.Flex': 50 },
  });
  model.putSite({
    cloud: 'oci',
    region: 'us-ashburn-1',
    quotas: {
      'gpu-a100-v2-count': { limit: 64 },
      'gpu-a10-count': { limit: 16 },
      'standard-e5-core-count': { limit: 400 },
    },
    capacity: { 'BM.GPU.A100-v2.8': 6, 'VM.GPU.A10.1': 16, 'VM.Standard.E5.Flex': 100 },
  });
}
