/**
 * Failure-detector round benchmark (`npm run bench:detector -- [clusters]`, default 1,000).
 *
 * Starts in-memory Azurite in this process, stores `clusters` clusters (document and state, each with its active heard
 * from and a lease, as after its heartbeats: no detection is due), then runs detector rounds and reports what one
 * costs: storage requests (counted by an HTTP pipeline policy on every table client the services use) and wall time.
 * The clock is the bench's own (the rounds see every active as live), so the figures are those of a steady round: the
 * same work every second in production. A last round with every 100th active silent shows the per-detection writes.
 *
 * Human-readable lines go first; the LAST line of stdout is one JSON object `{clusters, requestsPerRound, roundMs}`
 * (roundMs: the median of the measured rounds).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { TableClient } from '@azure/data-tables';
import { startAzurite } from '../devhost';
import { loadConfig } from '../shared/config/config';
import { detectFailures } from '../shared/control/detection/failureDetector';
import { parseClusterDocument } from '../shared/domain/clusterDocument';
import { initialClusterState } from '../shared/domain/clusterState';
import { grantLease } from '../shared/domain/decisions';
import { createServices } from '../shared/services/services';
import { ensureTables } from '../shared/stores/tableClients';
import { mapLimit, percentile, round } from './benchKit';

const ROUNDS = 7;
const SETUP_CONCURRENCY = 32;

type PipelinePolicy = Parameters<TableClient['pipeline']['addPolicy']>[0];

async function main(): Promise<void> {
  const clusters = Number(process.argv[2] ?? 1000);
  if (!Number.isInteger(clusters) || clusters < 1) throw new Error(`clusters must be a positive integer`);
  const azurite = await startAzurite({ inMemory: true });
  try {
    let clock = Date.UTC(2030, 0, 1);
    const config = loadConfig({
      AzureWebJobsStorage: azurite.connectionString,
      NODE_KEY_MASTER: randomBytes(32).toString('base64'),
      TABLE_PREFIX: 'DetBench',
    });
    const services = createServices(config, () => clock);
    await ensureTables(services.tables);
    let requests = 0;
    const byKind = new Map<string, number>();
    const counter: PipelinePolicy = {
      name: 'countRequests',
      sendRequest: (request, next) => {
        requests++;
        const table = new URL(request.url).pathname.split('/')[2]?.split('(')[0] ?? '';
        const kind = `${request.method} ${table}`;
        byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
        return next(request);
      },
    };
    for (const table of Object.values(services.tables)) table.pipeline.addPolicy(counter);

    const setupStarted = performance.now();
    await mapLimit(
      Array.from({ length: clusters }, (_, i) => i),
      SETUP_CONCURRENCY,
      async (i) => {
        const id = `bench-${String(i).padStart(5, '0')}`;
        const parsed = parseClusterDocument({
          id,
          kind: 'active-passive',
          nodes: [
            { id: 'head-a', role: 'active', site: { cloud: 'azure', region: 'westeurope' } },
            { id: 'head-b', role: 'standby', site: { cloud: 'azure', region: 'northeurope' } },
          ],
        });
        if (!parsed.ok) throw new Error(`invalid bench document: ${JSON.stringify(parsed.problems)}`);
        const document = parsed.value;
        await services.clusters.writeDocument(document, clock, undefined);
        const grant = grantLease(
          initialClusterState(id, 'head-a', clock, document.detection),
          'head-a',
          1,
          clock,
          document.detection.leaseMs,
        );
        if (!grant.granted) throw new Error('expected a grant');
        // Every 100th active was last heard 10 s before the others: silent by the last round.
        const heardAt = i % 100 === 0 ? clock - 10_000 : clock;
        await services.clusters.createState({
          ...grant.state,
          activeHeartbeat: {
            clusterId: id,
            nodeId: 'head-a',
            seq: 1,
            receivedAt: heardAt,
            role: 'active',
            epoch: 1,
            checks: [{ name: 'slurm', status: 'ok' }],
          },
        });
      },
    );
    console.log(`stored ${clusters} clusters in ${round((performance.now() - setupStarted) / 1000)} s`);

    // Steady rounds: every active heard 0..ROUNDS*100 ms ago, below the policy's 5 missed heartbeats of 1 s... except
    // every 100th, which is silent from the first round. Its detections are created in the first (warm-up) round.
    clock += 100;
    requests = 0;
    byKind.clear();
    const warm = await detectFailures(services);
    const created = warm.filter((d) => d.created).length;
    console.log(
      `warm-up round: ${requests} requests (${created} detections created: one create and one audit entry each)`,
    );
    const times: number[] = [];
    const counts: number[] = [];
    let kinds = '';
    for (let r = 0; r < ROUNDS; r++) {
      clock += 100;
      requests = 0;
      byKind.clear();
      const started = performance.now();
      const found = await detectFailures(services);
      times.push(performance.now() - started);
      counts.push(requests);
      kinds = [...byKind].map(([k, n]) => `${k} ×${n}`).join(', ');
      if (found.some((d) => d.created)) throw new Error('a steady round created a detection');
    }
    const sorted = [...times].sort((a, b) => a - b);
    const roundMs = round(percentile(sorted, 50));
    const requestsPerRound = Math.max(...counts);
    console.log(`steady round (${ROUNDS} runs): ${requestsPerRound} requests (${kinds})`);
    console.log(
      `round time ms: median ${roundMs}, min ${round(sorted[0] ?? NaN)}, max ${round(sorted.at(-1) ?? NaN)}`,
    );
    console.log(JSON.stringify({ clusters, requestsPerRound, roundMs }));
  } finally {
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
