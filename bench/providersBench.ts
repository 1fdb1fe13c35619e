/**
 * Compute provider benchmark (`npm run bench:providers`).
 *
 * Runs the real Azure (`@azure/arm-compute`) and OCI (`oci-core`, `oci-limits`) providers against the local cloud
 * simulator (the one `npm start` uses) and measures, per cloud:
 *   - power operations/s: power off then start, each followed to completion (long-running polls included), on
 *     several VMs at once;
 *   - headroom queries/s (Azure: usages + resource SKUs; OCI: resource availability + capacity report);
 *   - requests the simulator received per operation, from its own request counter.
 * The simulator completes a power transition after 50 ms and the providers poll every 25 ms, so the figures show
 * the cost of the SDK path (signing, pipelines, LRO polling), not cloud latency.
 *
 * Human-readable lines first; the LAST line is one JSON object.
 */
import { performance } from 'node:perf_hooks';
import { armVmId, putArmVm } from '../devhost/cloudSimulator/armResources';
import {
  startLocalCloud,
  LOCAL_AZURE_SUBSCRIPTION,
  LOCAL_OCI_COMPARTMENT,
} from '../devhost/cloudSimulator/startLocalCloud';
import { AzureComputeProvider } from '../shared/providers/azure/azureComputeProvider';
import { StaticTokenCredential } from '../shared/providers/azure/staticTokenCredential';
import type { ComputeProvider, NodeRef, SiteRef } from '../shared/providers/computeProvider';
import { createOciAuthProvider } from '../shared/providers/oci/ociAuth';
import { OciComputeProvider } from '../shared/providers/oci/ociComputeProvider';
import { round } from './benchKit';

const round2 = (n: number) => round(n, 2);

const VMS = 8;
const CYCLES_PER_VM = 5;
const HEADROOM_QUERIES = 200;
const HEADROOM_CONCURRENCY = 8;

interface CloudFigures {
  powerOpsPerSec: number;
  powerRequestsPerOp: number;
  headroomPerSec: number;
  headroomRequestsPerQuery: number;
}

async function measure(
  name: 'azure' | 'oci',
  provider: ComputeProvider,
  nodes: NodeRef[],
  site: SiteRef,
  size: string,
  requests: () => number,
): Promise<CloudFigures> {
  let before = requests();
  let started = performance.now();
  await Promise.all(
    nodes.map(async (node, i) => {
      for (let cycle = 0; cycle < CYCLES_PER_VM; cycle++) {
        await provider.powerOff(node, {
          idempotencyKey: `bench-${name}-${i}-${cycle}-off`,
          deadlineMs: 30_000,
        });
        await provider.start(node, { idempotencyKey: `bench-${name}-${i}-${cycle}-on`, deadlineMs: 30_000 });
      }
    }),
  );
  const powerOps = nodes.length * CYCLES_PER_VM * 2;
  const powerSeconds = (performance.now() - started) / 1000;
  const powerRequests = requests() - before;

  before = requests();
  started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: HEADROOM_CONCURRENCY }, async () => {
      while (next++ < HEADROOM_QUERIES) await provider.headroom(site, size);
    }),
  );
  const headroomSeconds = (performance.now() - started) / 1000;
  const headroomRequests = requests() - before;
  const figures = {
    powerOpsPerSec: round2(powerOps / powerSeconds),
    powerRequestsPerOp: round2(powerRequests / powerOps),
    headroomPerSec: round2(HEADROOM_QUERIES / headroomSeconds),
    headroomRequestsPerQuery: round2(headroomRequests / HEADROOM_QUERIES),
  };
  console.log(
    `${name}: ${powerOps} power operations in ${powerSeconds.toFixed(2)} s = ${figures.powerOpsPerSec}/s, ` +
      `${figures.powerRequestsPerOp} requests each (incl. polls); ${HEADROOM_QUERIES} headroom queries = ` +
      `${figures.headroomPerSec}/s, ${figures.headroomRequestsPerQuery} requests each`,
  );
  return figures;
}

async function main(): Promise<void> {
  const cloud = await startLocalCloud({ transitionMs: 50 });
  const { model } = cloud.simulator;
  try {
    const azureNodes: NodeRef[] = [];
    for (let i = 0; i < VMS; i++) {
      putArmVm(model, {
        subscriptionId: LOCAL_AZURE_SUBSCRIPTION,
        resourceGroup: 'bench',
        name: `vm-${i}`,
        region: 'eastus',
        size: 'Standard_D4s_v5',
        powerState: 'running',
      });
      azureNodes.push({
        kind: 'azure-vm',
        resourceId: armVmId(LOCAL_AZURE_SUBSCRIPTION, 'bench', `vm-${i}`),
      });
    }
    const azure = new AzureComputeProvider({
      credential: new StaticTokenCredential(cloud.env.AZURE_STATIC_TOKEN ?? ''),
      subscriptionId: LOCAL_AZURE_SUBSCRIPTION,
      endpoint: cloud.simulator.url,
      pollIntervalMs: 25,
      // The client-side budget models ARM's limits (reads 25/s sustained); the simulator is not ARM, and this bench
      // measures the SDK path, so the budget is lifted here (armThrottle's own test covers the real limits).
      readBudget: { burst: 1e9, perSecond: 1e9 },
      writeBudget: { burst: 1e9, perSecond: 1e9 },
    });
    const azureFigures = await measure(
      'azure',
      azure,
      azureNodes,
      { cloud: 'azure', region: 'eastus' },
      'Standard_NC24ads_A100_v4',
      () => model.requestCounts.azure,
    );

    const region = 'us-ashburn-1';
    const zone = 'SIM:US-ASHBURN-1-AD-1';
    const endpoint = `${cloud.simulator.url}/oci/${region}`;
    const oci = new OciComputeProvider({
      authProvider: createOciAuthProvider({
        tenancy: cloud.env.OCI_TENANCY_OCID ?? '',
        user: cloud.env.OCI_USER_OCID ?? '',
        fingerprint: cloud.env.OCI_KEY_FINGERPRINT ?? '',
        privateKey: cloud.env.OCI_PRIVATE_KEY ?? '',
        region,
      }),
      region,
      compartmentId: LOCAL_OCI_COMPARTMENT,
      endpoints: { compute: endpoint, limits: endpoint },
      pollIntervalMs: 25,
    });
    const site = { cloud: 'oci' as const, region, zone };
    const launched = await oci.scaleOut(
      { site, size: 'VM.Standard.E5.Flex', count: VMS, group: '' },
      { idempotencyKey: 'bench-launch', deadlineMs: 60_000 },
    );
    const ociFigures = await measure(
      'oci',
      oci,
      launched.nodes,
      site,
      'BM.GPU.A100-v2.8',
      () => model.requestCounts.oci,
    );

    const opsPerSec = round2((azureFigures.powerOpsPerSec + ociFigures.powerOpsPerSec) / 2);
    const requestsPerOperation = round2(
      (azureFigures.powerRequestsPerOp + ociFigures.powerRequestsPerOp) / 2,
    );
    console.log(
      `mean over both clouds: ${opsPerSec} power operations/s, ${requestsPerOperation} requests per operation`,
    );
    console.log(
      JSON.stringify({
        opsPerSec,
        requestsPerOperation,
        azure: azureFigures,
        oci: ociFigures,
        vms: VMS,
        cyclesPerVm: CYCLES_PER_VM,
      }),
    );
  } finally {
    await cloud.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
