/**
 * Validate-drill benchmark (`npm run bench:drill -- [runs]`, default 20).
 *
 * Starts in-memory Azurite and the cloud simulator in this process, declares a 2-node and a 16-node cluster whose
 * nodes are (simulated) Azure VMs, each heard from with its hooks and clock offset, and runs `runValidateChecks` on
 * each `runs` times, then the whole validate drill's activities (`beginDrill` + `finishDrill`: record, checks, report
 * rendered and stored, audit) `runs` times — in process: no API, no orchestration dispatch. Counts storage requests
 * (an HTTP pipeline policy on every table client; a counting proxy in front of the blob endpoint for the witness
 * probe and the reports) and cloud requests (the simulator's own counter) per drill.
 *
 * Human-readable lines go first; the LAST line of stdout is one JSON object
 * `{validateMs2Nodes, validateMs16Nodes, storageRequestsPerDrill, cloudRequestsPerDrill, ...}`: the whole drill's
 * medians and the 16-node cluster's request counts (the 2-node ones and the checks alone in extra fields).
 */
import { randomBytes } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TableClient } from '@azure/data-tables';
import { startAzurite } from '../devhost';
import { armVmId, putArmVm } from '../devhost/cloudSimulator/armResources';
import { LOCAL_AZURE_SUBSCRIPTION, startLocalCloud } from '../devhost/cloudSimulator/startLocalCloud';
import { loadConfig } from '../shared/config/config';
import { createDrillActivities } from '../shared/control/drills/drillActivities';
import type { DrillInput } from '../shared/control/drills/drillTypes';
import { runValidateChecks } from '../shared/control/drills/runValidateChecks';
import { parseClusterDocument } from '../shared/domain/clusterDocument';
import { initialClusterState } from '../shared/domain/clusterState';
import { grantLease } from '../shared/domain/decisions';
import { createServices, type Services } from '../shared/services/services';
import { ensureTables } from '../shared/stores/tableClients';
import { percentile, round } from './benchKit';

type PipelinePolicy = Parameters<TableClient['pipeline']['addPolicy']>[0];

const counts = { storage: 0 };
const byKind = new Map<string, number>();
const tally = (kind: string) => {
  counts.storage++;
  byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
};

/**
 * A counting HTTP proxy in front of Azurite's blob endpoint: the witness connection string points the control
 * plane's own blob client at it, so every witness request is counted as it goes over the wire.
 */
async function countingBlobProxy(blobEndpoint: string): Promise<{ url: string; close: () => Promise<void> }> {
  const target = new URL(blobEndpoint);
  const server = createServer((req, res) => {
    tally(`${req.method ?? '?'} blob`);
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${target.pathname}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function declare(services: Services, id: string, size: number, clock: number): Promise<void> {
  const parsed = parseClusterDocument({
    id,
    kind: 'active-passive',
    // A wide detection window: the bench's clock moves 1 s a run (drills are not back to back: the Azure read
    // budget, 25/s, refills with it), and the heartbeats are written once.
    detection: { heartbeatIntervalMs: 10_000, missedHeartbeats: 30, leaseMs: 20_000, driftMarginMs: 1000 },
    // ...so the predicted RTO (the window and more) needs a matching objective for the drill to pass.
    failover: { rtoObjectiveMs: 900_000 },
    nodes: Array.from({ length: size }, (_, i) => ({
      id: `n${i + 1}`,
      role: i === 0 ? 'active' : 'standby',
      site: { cloud: 'azure', region: i % 2 ? 'northeurope' : 'westeurope' },
      compute: {
        kind: 'azure-vm',
        resourceId: armVmId(LOCAL_AZURE_SUBSCRIPTION, 'hpc-bench', `${id}-n${i + 1}`),
      },
      size: 'Standard_D4s_v5',
    })),
  });
  if (!parsed.ok) throw new Error(`invalid bench document: ${JSON.stringify(parsed.problems)}`);
  const document = parsed.value;
  await services.clusters.writeDocument(document, clock, undefined);
  const grant = grantLease(
    initialClusterState(id, 'n1', clock, document.detection),
    'n1',
    1,
    clock,
    document.detection.leaseMs,
  );
  if (!grant.granted) throw new Error('expected a grant');
  await services.clusters.createState(grant.state);
  for (const node of document.nodes)
    await services.heartbeats.put(
      {
        clusterId: id,
        nodeId: node.id,
        seq: 1,
        receivedAt: clock,
        role: node.role,
        epoch: 1,
        checks: [{ name: 'slurm', status: 'ok' }],
        hooks: ['promote', 'demote', 'fence'],
        clockSkewMs: 12,
      },
      undefined,
    );
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 20);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('runs must be a positive integer');
  const azurite = await startAzurite({ inMemory: true });
  const cloud = await startLocalCloud({ transitionMs: 20 });
  const blobEndpoint = /BlobEndpoint=([^;]+)/.exec(azurite.connectionString)?.[1];
  if (!blobEndpoint) throw new Error('Azurite gave no BlobEndpoint');
  const proxy = await countingBlobProxy(blobEndpoint);
  try {
    let clock = Date.UTC(2030, 0, 1);
    const config = loadConfig({
      // Blobs (the witness probe and the drill reports) through the counting proxy; tables counted by a policy.
      AzureWebJobsStorage: azurite.connectionString.replace(blobEndpoint, proxy.url),
      NODE_KEY_MASTER: randomBytes(32).toString('base64'),
      TABLE_PREFIX: 'DrillBench',
      WitnessStorage: azurite.connectionString.replace(blobEndpoint, proxy.url),
      ...cloud.env,
    });
    const services = createServices(config, () => clock);
    await ensureTables(services.tables);
    const counter: PipelinePolicy = {
      name: 'countRequests',
      sendRequest: (request, next) => {
        tally(`${request.method} ${new URL(request.url).pathname.split('/')[2]?.split('(')[0] ?? ''}`);
        return next(request);
      },
    };
    for (const table of Object.values(services.tables)) table.pipeline.addPolicy(counter);
    await services.witness.ensureContainer();
    await services.drills.ensureContainer();
    const activities = createDrillActivities(services);
    for (const [id, size] of [
      ['bench-2', 2],
      ['bench-16', 16],
    ] as const) {
      for (let i = 1; i <= size; i++)
        putArmVm(cloud.simulator.model, {
          subscriptionId: LOCAL_AZURE_SUBSCRIPTION,
          resourceGroup: 'hpc-bench',
          name: `${id}-n${i}`,
          region: i % 2 ? 'westeurope' : 'northeurope',
          size: 'Standard_D4s_v5',
        });
      await declare(services, id, size, clock);
    }

    /**
     * Runs `once` 1 + `runs` times (the first a warm-up: connections, token, provider construction), each with the
     * clock a second later, and reports the median time and the most storage and cloud requests of a run.
     */
    const measure = async (label: string, once: (r: number) => Promise<void>) => {
      const times: number[] = [];
      let storage = 0;
      let cloudRequests = 0;
      let kinds = '';
      for (let r = 0; r <= runs; r++) {
        clock += 1000;
        counts.storage = 0;
        byKind.clear();
        const cloudBefore = cloud.simulator.model.requestCounts.azure;
        const started = performance.now();
        await once(r);
        const elapsed = performance.now() - started;
        if (r === 0) continue;
        times.push(elapsed);
        storage = Math.max(storage, counts.storage);
        cloudRequests = Math.max(cloudRequests, cloud.simulator.model.requestCounts.azure - cloudBefore);
        kinds = [...byKind].map(([k, n]) => `${k} ×${n}`).join(', ');
      }
      const sorted = [...times].sort((a, b) => a - b);
      const ms = round(percentile(sorted, 50));
      console.log(
        `${label}: ${runs} runs, median ${ms} ms (min ${round(sorted[0] ?? NaN)}, max ${round(sorted.at(-1) ?? NaN)}); ` +
          `${storage} storage requests (${kinds}), ${cloudRequests} cloud requests per drill`,
      );
      return { ms, storage, cloudRequests };
    };

    /** The checks alone (`runValidateChecks`). */
    const checks = (id: string) =>
      measure(`${id} checks`, async (r) => {
        const outcome = await runValidateChecks(services, id, { drillId: `drill-bench-${r}` });
        if (!outcome) throw new Error(`${id} is not declared`);
        const failed = outcome.checks.filter((c) => c.outcome !== 'ok');
        if (failed.length > 0) throw new Error(`${id}: checks not ok: ${JSON.stringify(failed)}`);
      });

    /**
     * The whole validate drill as its orchestration runs it, in process: `beginDrill` (record, checks, plan, steps)
     * then `finishDrill` (judgement, report rendered and stored, operation ended, audit).
     */
    const drill = (id: string) =>
      measure(`${id} whole validate drill`, async (r) => {
        const input: DrillInput = {
          drillId: `drill-${id}-${r}`,
          clusterId: id,
          mode: 'validate',
          targetNodeId: null,
          trigger: { kind: 'api' },
          actor: 'bench',
          requestedAt: clock,
        };
        const begun = await activities.beginDrill(input);
        if (!begun.ok) throw new Error(`${id}: the drill did not begin: ${begun.end.reasons.join('; ')}`);
        const end = await activities.finishDrill({
          input,
          plan: begun.plan,
          validation: begun.validation,
          legOperationIds: [],
          notes: [],
        });
        if (end.result !== 'passed') throw new Error(`${id}: drill ${end.result}: ${end.reasons.join('; ')}`);
      });

    const two = await checks('bench-2');
    const sixteen = await checks('bench-16');
    const drill2 = await drill('bench-2');
    const drill16 = await drill('bench-16');
    console.log(
      JSON.stringify({
        validateMs2Nodes: drill2.ms,
        validateMs16Nodes: drill16.ms,
        storageRequestsPerDrill: drill16.storage,
        cloudRequestsPerDrill: drill16.cloudRequests,
        storageRequestsPerDrill2Nodes: drill2.storage,
        cloudRequestsPerDrill2Nodes: drill2.cloudRequests,
        checksOnlyMs2Nodes: two.ms,
        checksOnlyMs16Nodes: sixteen.ms,
      }),
    );
  } finally {
    await proxy.close();
    await cloud.stop();
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
