import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAzurite, type RunningAzurite } from '../../../devhost';
import { armActions, putArmScaleSet } from '../../../devhost/cloudSimulator/armResources';
import {
  LOCAL_AZURE_SUBSCRIPTION,
  startLocalCloud,
  type LocalCloud,
} from '../../../devhost/cloudSimulator/startLocalCloud';
import type { CrashWhen } from '../../../devhost/durable/crashPoint';
import { InstanceIds } from '../../../orchestrations/contracts';
import { paths } from '../../../shared/contracts/routes';
import { root, twoNodeCluster } from '../../helpers/controlPlane';
import { crashTestApp, freePort, spawnHost, stopHost, type HostProcess } from '../../helpers/crashHost';
import { request } from '../../helpers/durableHttp';
import { waitFor } from '../../helpers/waitFor';

/**
 * A crash mid-fan-out (issue 11): a spillover of 6 nodes over two Azure regions (room for 4 in the first) runs once
 * without a crash (K activity executions), then once per k in 1..K and both moments of the k-th activity with the
 * devhost SIGKILLed there and restarted on the same storage. Every run must end as the reference did — 4 + 2 placed,
 * one placement record per node — with exactly one scale-out per scale set and no VM provisioned twice: the
 * scale-out's idempotency key derives from the run and the round, so a redelivered activity repeats it harmlessly.
 */
const GPU = 'Standard_NC24ads_A100_v4';
const WHENS: CrashWhen[] = ['after-side-effect', 'after-recorded'];

let azurite: RunningAzurite;
let cloud: LocalCloud;
let work: string;
let appDir: string;
let dataDir: string;
let port: number;
let host: HostProcess | undefined;
let env: Record<string, string>;
const hub = `Spill${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  if (!existsSync(path.join(root, 'dist/devhost/cli.js'))) throw new Error('build first: npm run build');
  work = mkdtempSync(path.join(os.tmpdir(), 'spillover-crash-'));
  appDir = crashTestApp(path.join(work, 'app'));
  dataDir = path.join(work, 'devhost');
  azurite = await startAzurite({ inMemory: true });
  cloud = await startLocalCloud({ transitionMs: 150 });
  port = await freePort();
  env = {
    ...cloud.env,
    NODE_KEY_MASTER: randomBytes(32).toString('base64'),
    TABLE_PREFIX: `T${randomBytes(4).toString('hex')}`,
  };
}, 60_000);

afterAll(async () => {
  await stopHost(host);
  await cloud?.stop();
  await azurite?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function restart(crashAt?: string): Promise<HostProcess> {
  await stopHost(host);
  host = await spawnHost({
    appDir,
    dataDir,
    port,
    connectionString: azurite.connectionString,
    hub,
    env,
    ...(crashAt ? { crashAt } : {}),
  });
  return host;
}
const current = () => {
  if (!host) throw new Error('no host');
  return host;
};
const url = (p: string) => `${current().url}${p}`;

/** Room for `nodes` more of the size in a region: quota above what is used there now. */
function room(region: string, nodes: number): void {
  const model = cloud.simulator.model;
  const site = model.site('azure', region)!;
  const size = model.sizes.get(GPU)!;
  const use = model.quotaUse(site);
  site.quotas[size.family] = { limit: (use[size.family]?.used ?? 0) + nodes * size.cores };
  site.quotas.cores = { limit: (use.cores?.used ?? 0) + 100_000 };
  site.capacity[GPU] = 1000;
}

interface Run {
  crashed: boolean;
  activities: number;
  placed: Record<string, number>;
  vms: number;
  scaleOuts: number[];
  records: number;
  status: string;
}

async function run(clusterId: string, crashAt?: string): Promise<Run> {
  await restart(crashAt);
  const model = cloud.simulator.model;
  const groups = ['westeurope', 'northeurope'].map(
    (region) =>
      putArmScaleSet(model, {
        subscriptionId: LOCAL_AZURE_SUBSCRIPTION,
        resourceGroup: 'hpc-demo',
        name: `${clusterId}-${region}`,
        region,
        size: GPU,
        instances: 0,
      }).id,
  );
  room('westeurope', 4);
  room('northeurope', 10);
  const declared = await request(url(paths.cluster(clusterId)), {
    method: 'PUT',
    key: current().keys.masterKey,
    body: {
      ...twoNodeCluster(clusterId),
      pools: [
        {
          id: 'gpu',
          desired: 0,
          sites: [
            { id: 'we', cloud: 'azure', region: 'westeurope', size: GPU, group: groups[0] },
            { id: 'ne', cloud: 'azure', region: 'northeurope', size: GPU, group: groups[1] },
          ],
        },
      ],
    },
  });
  expect(declared.status).toBe(201);
  // The answer may be lost when the host dies right after starting the run: the pool's view names the run anyway.
  await request(url(paths.poolDemand(clusterId, 'gpu')), {
    method: 'PUT',
    key: current().keys.masterKey,
    body: { desired: 6 },
  }).catch(() => undefined);
  let crashed = false;
  if (crashAt) {
    const running = current();
    let settled = false;
    const outcome = await Promise.race([
      running.exited.then(() => 'exited' as const),
      waitFor(
        async () => {
          if (settled) return 'gone';
          const view = await request(url(paths.pool(clusterId, 'gpu')), {
            key: running.keys.functionKeys.default as string,
          });
          return view.json?.pool?.lastRun ? 'ended' : false;
        },
        { timeoutMs: 60_000, intervalMs: 100, description: 'the run to end (no crash)' },
      ).catch(() => 'timeout' as const),
    ]);
    settled = true; // the losing poll stops at its next round
    if (outcome === 'exited') {
      expect(running.stderr()).toContain(`crash-at ${crashAt} reached`);
      crashed = true;
      await restart();
    }
  }
  const view = await waitFor(
    async () => {
      const r = await request(url(paths.pool(clusterId, 'gpu')), {
        key: current().keys.functionKeys.default as string,
      });
      return r.json?.pool?.lastRun && r.json.pool.runningOperation === null ? r.json.pool : false;
    },
    { timeoutMs: 90_000, intervalMs: 100, description: `the spillover of ${clusterId} to end` },
  );
  const operation = (
    await request(url(paths.operation(clusterId, view.lastRun.operationId as string)), {
      key: current().keys.functionKeys.default as string,
    })
  ).json.operation as { status: string };
  const history = await request(
    url(
      `/runtime/webhooks/durabletask/instances/${InstanceIds.poolOperation(clusterId, 'gpu')}?showHistory=true&code=${encodeURIComponent(current().keys.systemKeys.durabletask_extension as string)}`,
    ),
    {},
  );
  const events = (history.json?.historyEvents ?? []) as { EventType: string }[];
  const nodes = (
    await request(url(`${paths.poolNodes(clusterId, 'gpu')}?all=true`), {
      key: current().keys.functionKeys.default as string,
    })
  ).json.nodes as { resourceId: string; status: string }[];
  return {
    crashed,
    activities: events.filter((e) => e.EventType === 'TaskCompleted' || e.EventType === 'TaskFailed').length,
    placed: Object.fromEntries(
      (view.sites as { siteId: string; placed: number }[]).map((s) => [s.siteId, s.placed]),
    ),
    vms: [...model.vms.values()].filter((vm) => vm.group && groups.includes(vm.group)).length,
    scaleOuts: groups.map(
      (g) =>
        armActions(model).filter(
          (a) => a.action === 'scale' && a.resourceId.toLowerCase() === g.toLowerCase(),
        ).length,
    ),
    records: new Set(nodes.filter((n) => n.status === 'running').map((n) => n.resourceId)).size,
    status: operation.status,
  };
}

it('a crash at every step of a spillover ends as the uncrashed run did, with nothing provisioned twice', async () => {
  const reference = await run('ref');
  expect(reference).toMatchObject({
    placed: { we: 4, ne: 2 },
    vms: 6,
    scaleOuts: [1, 1],
    records: 6,
    status: 'succeeded',
  });
  const K = reference.activities;
  expect(K).toBeGreaterThanOrEqual(6);
  const problems: string[] = [];
  const rows: string[] = [`reference: K=${K}`];
  let reached = 0;
  for (let k = 1; k <= K; k++)
    for (const when of WHENS) {
      const crashAt = `activity:${k}:${when}`;
      const got = await run(`k${k}-${when === 'after-side-effect' ? 'se' : 'rec'}`, crashAt);
      if (got.crashed) reached++;
      const same =
        JSON.stringify({ ...got, crashed: undefined, activities: undefined }) ===
        JSON.stringify({ ...reference, crashed: undefined, activities: undefined });
      rows.push(
        `  ${crashAt}: ${got.crashed ? 'crashed' : 'NOT REACHED'} ${same ? 'same end' : JSON.stringify(got)}`,
      );
      if (!same) problems.push(`${crashAt}: ${JSON.stringify(got)}`);
    }
  console.log(rows.join('\n'));
  expect(problems).toEqual([]);
  expect(reached).toBeGreaterThanOrEqual(K);
}, 600_000);
