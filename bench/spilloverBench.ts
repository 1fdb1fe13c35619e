/**
 * Spillover planning benchmark (`npm run bench:spillover`).
 *
 * Times the pure planner (`shared/domain/spilloverPlan.ts`) on two pool shapes: 1,000 nodes over 8 sites and 10,000
 * over 32. Each input is one realistic planning round: half the demand already placed (one placement row per node,
 * as the placement table holds them), a quarter of the sites cooling down, one restricted, headroom read for every
 * site, some with capacity reports and caps, minimums on the first sites. Each shape is planned RUNS times after a
 * warm-up; the figure is the median.
 *
 * Then three spillovers of 100 nodes through the app (devhost, simulator; see `spilloverRun`): `cloudRequestsRatio`
 * is the cloud operations (headroom reads + provisioning operations) ÷ the minimum (one read per site + one
 * operation per used site), `launchesIntoFullSites` the provisioning operations sent to the site whose headroom
 * said full, `demandToRunningMs` the time from `PUT …/demand` to every VM running (medians of the runs).
 *
 * Human-readable lines first; the LAST line of stdout is one JSON object.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startDevhost, type Devhost } from '../devhost';
import { armActions, putArmScaleSet } from '../devhost/cloudSimulator/armResources';
import { LOCAL_AZURE_SUBSCRIPTION } from '../devhost/cloudSimulator/startLocalCloud';
import { paths } from '../shared/contracts/routes';
import type { PoolSite } from '../shared/domain/clusterDocument';
import { planPlacement, type PlanInput } from '../shared/domain/spilloverPlan';
import { percentile, round } from './benchKit';

const RUNS = 201;
const SPILL_RUNS = 3;
const WARMUP = 50;
const NOW = Date.UTC(2030, 0, 1);

function scenario(nodes: number, siteCount: number): PlanInput {
  const perSite = Math.ceil(nodes / siteCount);
  const sites: PoolSite[] = Array.from({ length: siteCount }, (_, i) => ({
    id: `site-${i}`,
    cloud: i % 3 === 2 ? 'oci' : 'azure',
    region: `region-${Math.floor(i / 2)}`,
    zone: String((i % 2) + 1),
    size: i % 3 === 2 ? 'BM.GPU.A100-v2.8' : 'Standard_ND96asr_v4',
    group: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-${i}`,
    weight: 1 + (i % 2),
    ...(i % 5 === 4 ? { cap: perSite } : {}),
    ...(i < 2 ? { min: 2 } : {}),
  }));
  // Half the demand placed, one row per node, spread over the first half of the sites.
  const placements = Array.from({ length: nodes / 2 }, (_, n) => ({
    siteId: `site-${n % Math.max(1, siteCount / 2)}`,
    count: 1,
  }));
  return {
    pool: { sites },
    demand: nodes,
    placements,
    headroom: sites.map((s, i) => ({
      siteId: s.id,
      quotaNodes: perSite,
      capacityNodes: i % 2 === 0 ? 'unknown' : Math.floor(perSite * 0.75),
      ...(i === siteCount - 1 ? { restricted: 'NotAvailableForSubscription' } : {}),
      readAt: NOW - 5000,
    })),
    coolDowns: sites
      .filter((_, i) => i % 4 === 1)
      .map((s) => ({ siteId: s.id, until: NOW + 900_000, reason: 'AllocationFailed' })),
    now: NOW,
  };
}

function timePlanning(input: PlanInput): {
  medianMs: number;
  p99Ms: number;
  plan: ReturnType<typeof planPlacement>;
} {
  let plan = planPlacement(input);
  for (let i = 0; i < WARMUP; i++) plan = planPlacement(input);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    plan = planPlacement(input);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { medianMs: percentile(times, 50), p99Ms: percentile(times, 99), plan };
}

/**
 * A spillover of 100 nodes against the simulator, through the app in a devhost (in-memory Azurite): four Azure
 * regions, three with room (40, 40, 30) and one whose quota is full. Counted from the simulator's request log:
 * headroom reads (`GET …/locations/{region}/usages`), provisioning operations (scale-set changes), HTTP requests in
 * all; timed from the demand change to every VM running.
 */
async function spilloverRun(
  host: Devhost,
  n: number,
): Promise<{ ratio: number; httpRequests: number; launchesIntoFull: number; demandToRunningMs: number }> {
  const model = host.cloud!.simulator.model;
  const id = `bench${n}`;
  const regions = [
    ['r1', 'westeurope', 40],
    ['r2', 'northeurope', 40],
    ['r3', 'eastus', 30],
  ] as const;
  const full = ['r4', 'westus2', 0] as const;
  if (!model.site('azure', 'westus2'))
    model.putSite({ cloud: 'azure', region: 'westus2', quotas: {}, capacity: {} });
  const groups: Record<string, string> = {};
  for (const [siteId, region, room] of [...regions, full]) {
    const site = model.site('azure', region)!;
    const size = model.sizes.get(GPU)!;
    const use = model.quotaUse(site);
    site.quotas[size.family] = { limit: (use[size.family]?.used ?? 0) + room * size.cores };
    site.quotas.cores = { limit: (use.cores?.used ?? 0) + 100_000 };
    site.capacity[GPU] = room + 1000;
    groups[siteId] = putArmScaleSet(model, {
      subscriptionId: LOCAL_AZURE_SUBSCRIPTION,
      resourceGroup: 'hpc-demo',
      name: `${id}-${siteId}`,
      region,
      size: GPU,
      instances: 0,
    }).id;
  }
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${host.url}${path}`, {
      method,
      headers: { 'x-functions-key': host.keys.masterKey, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: r.status, json: (await r.json()) as Record<string, unknown> };
  };
  const declared = await call('PUT', paths.cluster(id), {
    id,
    kind: 'active-passive',
    nodes: [
      { id: 'a', role: 'active', site: { cloud: 'azure', region: 'westeurope' } },
      { id: 'b', role: 'standby', site: { cloud: 'azure', region: 'northeurope' } },
    ],
    pools: [
      {
        id: 'gpu',
        desired: 0,
        sites: [...regions, full].map(([siteId, region]) => ({
          id: siteId,
          cloud: 'azure',
          region,
          size: GPU,
          group: groups[siteId],
        })),
      },
    ],
  });
  if (declared.status !== 201) throw new Error(`declare: ${JSON.stringify(declared.json)}`);
  const from = model.requestLog.length;
  const since = model.clock.now();
  const started = performance.now();
  const set = await call('PUT', paths.poolDemand(id, 'gpu'), { desired: 100 });
  if (set.status !== 202) throw new Error(`demand: ${JSON.stringify(set.json)}`);
  const inGroups = () =>
    [...model.vms.values()].filter((vm) => vm.group && Object.values(groups).includes(vm.group));
  for (;;) {
    model.settle();
    const vms = inGroups();
    if (vms.length >= 100 && vms.every((vm) => vm.powerState === 'running' && vm.target === undefined)) break;
    if (performance.now() - started > 300_000) throw new Error(`only ${vms.length} VMs after 5 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const demandToRunningMs = performance.now() - started;
  // Let the run finish (its last plan and its record) before counting.
  for (;;) {
    const view = await call('GET', paths.pool(id, 'gpu'));
    const pool = view.json.pool as { runningOperation: string | null; lastRun: unknown };
    if (pool.runningOperation === null && pool.lastRun) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const log = model.requestLog.slice(from);
  const reads = log.filter((e) => e.method === 'GET' && /\/locations\/[^/]+\/usages$/i.test(e.path)).length;
  const actions = armActions(model).filter((a) => a.at >= since && a.action === 'scale');
  const scaleOps = actions.filter((a) =>
    Object.values(groups).some((g) => g.toLowerCase() === a.resourceId.toLowerCase()),
  ).length;
  const minimum = 4 + regions.length; // one read per site + one provisioning operation per used site
  return {
    ratio: (reads + scaleOps) / minimum,
    httpRequests: log.length,
    launchesIntoFull: actions.filter((a) => a.resourceId.toLowerCase() === groups.r4!.toLowerCase()).length,
    demandToRunningMs,
  };
}

const GPU = 'Standard_NC24ads_A100_v4';

async function main(): Promise<void> {
  const results: Record<string, number> = {};
  for (const [nodes, sites, key] of [
    [1000, 8, 'planMs1000x8'],
    [10_000, 32, 'planMs10000x32'],
  ] as const) {
    const { medianMs, p99Ms, plan } = timePlanning(scenario(nodes, sites));
    const added = plan.add.reduce((a, x) => a + x.count, 0);
    console.log(
      `${nodes} nodes over ${sites} sites: median ${round(medianMs, 3)} ms, p99 ${round(p99Ms, 3)} ms ` +
        `(${RUNS} runs; plan adds ${added} over ${plan.add.length} sites, ${plan.skipped.length} skipped, ` +
        `shortfall ${plan.shortfall})`,
    );
    results[key] = round(medianMs, 3);
  }
  process.env.NODE_KEY_MASTER ??= randomBytes(32).toString('base64');
  process.env.TABLE_PREFIX = `B${randomBytes(4).toString('hex')}`;
  const host = await startDevhost({
    appDir: path.resolve(__dirname, '../..'),
    port: 0,
    storage: 'memory',
    cloudSimulator: true,
    log: () => undefined,
  });
  const runs: Awaited<ReturnType<typeof spilloverRun>>[] = [];
  try {
    for (let n = 1; n <= SPILL_RUNS; n++) {
      const r = await spilloverRun(host, n);
      runs.push(r);
      console.log(
        `spillover of 100 nodes over 3 sites (+1 full): cloud operations ÷ minimum ${round(r.ratio, 2)}, ` +
          `${r.httpRequests} HTTP requests, ${r.launchesIntoFull} launches into the full site, ` +
          `demand → all running ${Math.round(r.demandToRunningMs)} ms`,
      );
    }
  } finally {
    await host.stop();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  console.log(
    JSON.stringify({
      ...results,
      runs: RUNS,
      cloudRequestsRatio: round(median(runs.map((r) => r.ratio)), 2),
      httpRequestsPerSpillover: median(runs.map((r) => r.httpRequests)),
      launchesIntoFullSites: runs.reduce((sum, r) => sum + r.launchesIntoFull, 0),
      demandToRunningMs: Math.round(median(runs.map((r) => r.demandToRunningMs))),
      spilloverRuns: SPILL_RUNS,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
