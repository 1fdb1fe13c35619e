/**
 * Devhost throughput benchmark (`npm run bench:devhost`).
 *
 * Runs the plain-JavaScript app in `bench/apps/chain` (orchestration `Chain` = 5 sequential `Step` activities) on
 * the devhost with in-memory Azurite, and measures, in one run:
 *   1. a reference: the raw Azurite table-write rate (single-entity upserts, concurrency 32) against the same
 *      embedded Azurite, so the orchestration figures can be read relative to the storage the engine sits on;
 *   2. end-to-end orchestration throughput: 200 `Chain` instances started at once through the durable client's
 *      loopback HTTP API, polled until every one is Completed (hard deadline);
 *   3. per-step latency from each instance's history.
 *
 * Human-readable lines go first; the LAST line of stdout is one JSON object with the figures.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { TableClient } from '@azure/data-tables';
import { startDevhost, type Devhost } from '../devhost';
import { exitIfStuck, mapLimit, percentile, quietLogger, round, sleep, type LogTally } from './benchKit';

const ORCHESTRATIONS = 200;
const ACTIVITIES_PER_ORCHESTRATION = 5; // must match STEPS in bench/apps/chain/functions.js
const RAW_WRITES = 2000;
const RAW_WARMUP_WRITES = 64;
const RAW_CONCURRENCY = 32;
const RAW_PARTITIONS = 8;
/**
 * Status polling runs on the same event loop as the engine and Azurite (all in this process), so every poll slows
 * what it measures (each GET is a table read). Completion times come from history, not from polling, so a 1 s
 * interval loses no precision.
 */
const POLL_CONCURRENCY = 16;
const POLL_INTERVAL_MS = 1000;
const HISTORY_CONCURRENCY = 16;
const DEADLINE_MS = 5 * 60_000;
/** Generous: under load, a new connection waits up to ~one event-loop turn per connection queued before it. */
const REQUEST_TIMEOUT_MS = 120_000;
/** If something still holds the event loop this long after the devhost stopped, report it and exit anyway. */
const EXIT_GRACE_MS = 5_000;

/** The compiled bench runs from dist/bench; the app is plain JavaScript and stays in the source tree. */
const APP_DIR = path.resolve(__dirname, '../../bench/apps/chain');

interface HistoryEventJson {
  EventType: string;
  EventId?: number;
  TaskScheduledId?: number;
  Timestamp: string;
  FunctionName?: string;
  Result?: unknown;
}

interface StatusJson {
  instanceId: string;
  runtimeStatus: string;
  output: unknown;
  historyEvents?: HistoryEventJson[];
}

const TERMINAL = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

// ---- small helpers ----

async function request(
  url: string,
  init: { method?: string; body?: string } = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    ...(init.body !== undefined ? { body: init.body, headers: { 'content-type': 'application/json' } } : {}),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text.length > 0 ? (JSON.parse(text) as unknown) : null;
  } catch {
    // not JSON: keep the text for the error message
  }
  return { status: res.status, body };
}

// ---- the devhost's log: quiet, errors only (warnings are counted and summarised) ----

// ---- phase 1: raw Azurite table writes ----

async function measureRawTableWrites(
  connectionString: string,
): Promise<{ writesPerSec: number; seconds: number }> {
  const tableName = `benchraw${Date.now()}`;
  const table = TableClient.fromConnectionString(connectionString, tableName, {
    allowInsecureConnection: true,
  });
  await table.createTable();
  // Roughly the size of a small history row (the engine stores each event as a JSON string property).
  const payload = JSON.stringify({
    EventType: 5,
    EventId: -1,
    IsPlayed: false,
    Timestamp: new Date().toISOString(),
    Result: 'x'.repeat(120),
  });
  const write = (i: number) =>
    table.upsertEntity(
      {
        partitionKey: `p${i % RAW_PARTITIONS}`,
        rowKey: `r${String(i).padStart(8, '0')}`,
        Event: payload,
        N: i,
      },
      'Replace',
    );
  // Warm-up (connections, JIT) outside the timed window, on row keys the timed run does not touch.
  await mapLimit(
    Array.from({ length: RAW_WARMUP_WRITES }, (_, i) => RAW_WRITES + i),
    RAW_CONCURRENCY,
    (i) => write(i),
  );
  const indexes = Array.from({ length: RAW_WRITES }, (_, i) => i);
  const t0 = performance.now();
  await mapLimit(indexes, RAW_CONCURRENCY, (i) => write(i));
  const seconds = (performance.now() - t0) / 1000;
  return { writesPerSec: RAW_WRITES / seconds, seconds };
}

// ---- phase 2: orchestrations ----

/**
 * Starts all instances at once, one fetch each (as a durable client would, each on a new keep-alive connection).
 * Note: Node (libuv 1.46) accepts about one new connection per event-loop turn, and the devhost's loop turns are
 * long while it is saturated, so acceptance of the later starts is delayed by connection accept, not by startNew.
 */
async function startChains(
  rpcBaseUrl: string,
): Promise<{ ids: string[]; startedAt: number; acceptedMs: number; acceptLatencies: number[] }> {
  const startedAt = Date.now();
  const t0 = performance.now();
  const acceptLatencies: number[] = [];
  const ids = await Promise.all(
    Array.from({ length: ORCHESTRATIONS }, async (_, i) => {
      const sent = performance.now();
      const res = await request(`${rpcBaseUrl}orchestrators/Chain`, {
        method: 'POST',
        body: JSON.stringify(i * 10),
      });
      acceptLatencies.push(performance.now() - sent);
      const id = (res.body as { id?: unknown } | null)?.id;
      if (res.status !== 202 || typeof id !== 'string') {
        throw new Error(`starting Chain #${i} answered ${res.status}: ${JSON.stringify(res.body)}`);
      }
      return id;
    }),
  );
  acceptLatencies.sort((a, b) => a - b);
  return { ids, startedAt, acceptedMs: performance.now() - t0, acceptLatencies };
}

/** Polls `instances/{id}` (200 = terminal, 202 = running) until all are Completed; fails on the deadline. */
async function waitForAll(
  rpcBaseUrl: string,
  ids: readonly string[],
  deadline: number,
): Promise<Map<string, number>> {
  const completedAt = new Map<string, number>();
  let pending = [...ids];
  let lastStatuses = new Map<string, string>();
  while (pending.length > 0) {
    if (Date.now() > deadline) {
      const counts: Record<string, number> = {};
      for (const id of pending) {
        const s = lastStatuses.get(id) ?? 'not polled yet';
        counts[s] = (counts[s] ?? 0) + 1;
      }
      throw new Error(
        `deadline of ${DEADLINE_MS / 1000}s passed with ${pending.length}/${ids.length} orchestrations not Completed ` +
          `(last seen: ${JSON.stringify(counts)}; e.g. ${pending.slice(0, 3).join(', ')})`,
      );
    }
    const statuses = new Map<string, string>();
    await mapLimit(pending, POLL_CONCURRENCY, async (id) => {
      const res = await request(`${rpcBaseUrl}instances/${encodeURIComponent(id)}`);
      const status = res.body as StatusJson | null;
      if (res.status !== 200 && res.status !== 202) {
        throw new Error(`status of ${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
      }
      const runtimeStatus = status?.runtimeStatus ?? 'unknown';
      statuses.set(id, runtimeStatus);
      if (res.status === 200 && runtimeStatus === 'Completed') completedAt.set(id, Date.now());
      else if (TERMINAL.has(runtimeStatus)) {
        throw new Error(`orchestration ${id} ended ${runtimeStatus}: ${JSON.stringify(status?.output)}`);
      }
    });
    lastStatuses = statuses;
    pending = pending.filter((id) => !completedAt.has(id));
    if (pending.length > 0) await sleep(POLL_INTERVAL_MS);
  }
  return completedAt;
}

interface InstanceTimings {
  /** TaskCompleted.Timestamp − TaskScheduled.Timestamp, per step. */
  activityLegs: number[];
  /** The next scheduling turn's timestamp (next TaskScheduled, or ExecutionCompleted) − TaskScheduled, per step. */
  roundTrips: number[];
  /** ExecutionCompleted.Timestamp (epoch ms). */
  completedAt: number;
  /** ExecutionStarted.Timestamp (epoch ms): when the client queued the start. */
  createdAt: number;
}

/**
 * What the history timestamps mean (devhost/durable): they are ISO strings with millisecond precision from the host
 * clock (Date.now()), so they are fine-grained enough.
 *  - TaskScheduled is stamped with the turn's `now`, taken when the turn starts (after loading history, before the
 *    orchestrator is replayed and before the work item is enqueued);
 *  - TaskCompleted is stamped by the activity dispatcher right after the activity function returned, before the
 *    completion is sent to the control queue.
 * So TaskCompleted − TaskScheduled ("activity leg") covers replay + commit of the scheduling turn, the work-item
 * queue and the activity itself, but NOT the way back: control-queue delivery, waiting for an orchestration slot,
 * and loading the instance for the next turn. What a sequential chain actually waits per step is the time from one
 * scheduling turn to the next, i.e. the next TaskScheduled's timestamp (that turn's `now`) − this TaskScheduled's;
 * for the last step the ExecutionCompleted event (stamped with the final turn's `now`) plays that role. That
 * "round trip" is the honest per-step latency and is what `stepP50Ms`/`stepP99Ms` report; the activity leg is
 * reported alongside.
 */
function timingsOf(status: StatusJson): InstanceTimings {
  const events = status.historyEvents ?? [];
  const ms = (e: HistoryEventJson) => Date.parse(e.Timestamp);
  const scheduled = events.filter((e) => e.EventType === 'TaskScheduled');
  const completedById = new Map<number, HistoryEventJson>();
  for (const e of events)
    if (e.EventType === 'TaskCompleted' && e.TaskScheduledId !== undefined)
      completedById.set(e.TaskScheduledId, e);
  const started = events.find((e) => e.EventType === 'ExecutionStarted');
  const finished = events.find((e) => e.EventType === 'ExecutionCompleted');
  if (!started || !finished)
    throw new Error(`history of ${status.instanceId} has no ExecutionStarted/ExecutionCompleted`);
  if (scheduled.length !== ACTIVITIES_PER_ORCHESTRATION) {
    throw new Error(
      `history of ${status.instanceId} has ${scheduled.length} TaskScheduled events, expected ${ACTIVITIES_PER_ORCHESTRATION}`,
    );
  }
  const activityLegs: number[] = [];
  const roundTrips: number[] = [];
  scheduled.forEach((s, k) => {
    const done = s.EventId === undefined ? undefined : completedById.get(s.EventId);
    if (!done)
      throw new Error(`history of ${status.instanceId}: no TaskCompleted for TaskScheduled #${s.EventId}`);
    activityLegs.push(ms(done) - ms(s));
    const nextTurn = scheduled[k + 1] ?? finished;
    roundTrips.push(ms(nextTurn) - ms(s));
  });
  return { activityLegs, roundTrips, completedAt: ms(finished), createdAt: ms(started) };
}

function checkOutput(status: StatusJson, index: number): void {
  const first = index * 10;
  const expected = Array.from({ length: ACTIVITIES_PER_ORCHESTRATION }, (_, k) => first + k + 1);
  if (JSON.stringify(status.output) !== JSON.stringify(expected)) {
    throw new Error(
      `Chain #${index} (${status.instanceId}) returned ${JSON.stringify(status.output)}, expected ${JSON.stringify(expected)}`,
    );
  }
}

// ---- main ----

async function main(): Promise<void> {
  const tally: LogTally = { errors: [], warnings: [] };
  const t0 = performance.now();
  const devhost: Devhost = await startDevhost({
    appDir: APP_DIR,
    port: 0,
    storage: 'memory',
    log: quietLogger(tally),
  });
  const lines: string[] = [];
  let summary: Record<string, unknown>;
  try {
    lines.push(
      `devhost up in ${round(performance.now() - t0, 0)} ms: ${devhost.storageDescription}, hub ${devhost.hubName}`,
    );

    const raw = await measureRawTableWrites(devhost.connectionString);
    lines.push(
      `raw Azurite table writes: ${RAW_WRITES} upserts over ${RAW_PARTITIONS} partitions, concurrency ${RAW_CONCURRENCY}: ` +
        `${round(raw.seconds, 2)} s = ${round(raw.writesPerSec)} writes/s`,
    );

    const deadline = Date.now() + DEADLINE_MS;
    const started = await startChains(devhost.rpcBaseUrl);
    const accept = started.acceptLatencies;
    lines.push(
      `started ${ORCHESTRATIONS} Chain orchestrations at once: all 202 after ${round(started.acceptedMs, 0)} ms ` +
        `(per request p50 ${round(percentile(accept, 50), 0)} ms, p99 ${round(percentile(accept, 99), 0)} ms)`,
    );
    const observed = await waitForAll(devhost.rpcBaseUrl, started.ids, deadline);
    const lastObserved = Math.max(...observed.values());

    const histories = await mapLimit(started.ids, HISTORY_CONCURRENCY, async (id, i) => {
      const res = await request(
        `${devhost.rpcBaseUrl}instances/${encodeURIComponent(id)}?showHistory=true&showHistoryOutput=true`,
      );
      if (res.status !== 200)
        throw new Error(`history of ${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
      const status = res.body as StatusJson;
      checkOutput(status, i);
      return timingsOf(status);
    });

    // Wall time: from just before the first start request to the last ExecutionCompleted in history (the host
    // clock is Date.now(), the same clock as `startedAt`). The poll-observed figure is coarser by up to one
    // poll sweep and is printed for comparison.
    const lastCompleted = Math.max(...histories.map((h) => h.completedAt));
    const wallSeconds = (lastCompleted - started.startedAt) / 1000;
    const observedWallSeconds = (lastObserved - started.startedAt) / 1000;
    const orchestrationsPerSec = ORCHESTRATIONS / wallSeconds;
    const stepsPerSec = (ORCHESTRATIONS * ACTIVITIES_PER_ORCHESTRATION) / wallSeconds;
    const roundTrips = histories.flatMap((h) => h.roundTrips).sort((a, b) => a - b);
    const legs = histories.flatMap((h) => h.activityLegs).sort((a, b) => a - b);
    const e2e = histories.map((h) => h.completedAt - h.createdAt).sort((a, b) => a - b);

    lines.push(
      `all ${ORCHESTRATIONS} Completed with the expected outputs: ${round(wallSeconds, 2)} s ` +
        `(poll-observed ${round(observedWallSeconds, 2)} s) = ${round(orchestrationsPerSec, 2)} orchestrations/s, ` +
        `${round(stepsPerSec, 1)} activity steps/s`,
    );
    lines.push(
      `per-step latency (scheduling turn -> next turn), n=${roundTrips.length}: p50 ${percentile(roundTrips, 50)} ms, ` +
        `p99 ${percentile(roundTrips, 99)} ms, max ${roundTrips[roundTrips.length - 1]} ms`,
    );
    lines.push(
      `activity leg (TaskScheduled -> TaskCompleted), n=${legs.length}: p50 ${percentile(legs, 50)} ms, ` +
        `p99 ${percentile(legs, 99)} ms, max ${legs[legs.length - 1]} ms`,
    );
    lines.push(
      `orchestration end-to-end (ExecutionStarted -> ExecutionCompleted): p50 ${percentile(e2e, 50)} ms, ` +
        `p99 ${percentile(e2e, 99)} ms, max ${e2e[e2e.length - 1]} ms`,
    );
    lines.push(
      `orchestration steps/s vs raw table writes/s: ${round(stepsPerSec, 1)} / ${round(raw.writesPerSec, 1)} = ` +
        `${round(stepsPerSec / raw.writesPerSec, 4)}`,
    );

    summary = {
      orchestrationsPerSec: round(orchestrationsPerSec, 3),
      stepP50Ms: percentile(roundTrips, 50),
      stepP99Ms: percentile(roundTrips, 99),
      rawTableWritesPerSec: round(raw.writesPerSec, 1),
      orchestrations: ORCHESTRATIONS,
      activitiesPerOrchestration: ACTIVITIES_PER_ORCHESTRATION,
      wallSeconds: round(wallSeconds, 3),
      ratioOrchestrationStepsToRawWrites: round(stepsPerSec / raw.writesPerSec, 4),
      activityStepsPerSec: round(stepsPerSec, 1),
      activityLegP50Ms: percentile(legs, 50),
      activityLegP99Ms: percentile(legs, 99),
      orchestrationE2eP50Ms: percentile(e2e, 50),
      orchestrationE2eP99Ms: percentile(e2e, 99),
      observedWallSeconds: round(observedWallSeconds, 3),
      startAcceptP50Ms: round(percentile(accept, 50), 0),
      startAcceptP99Ms: round(percentile(accept, 99), 0),
      devhostErrors: tally.errors.length,
      devhostWarnings: tally.warnings.length,
    };
  } finally {
    await devhost.stop();
  }

  if (tally.warnings.length > 0) {
    lines.push(
      `devhost logged ${tally.warnings.length} warning(s); first: ${tally.warnings.slice(0, 3).join(' | ')}`,
    );
  }
  lines.push(`devhost logged ${tally.errors.length} error(s)`);
  for (const line of lines) console.log(line);
  console.log(JSON.stringify(summary));
}

/** A safety net that does not itself hold the process: if anything else still does, say what and exit. */
main().then(
  () => exitIfStuck('devhostBench', 0, EXIT_GRACE_MS),
  (error: unknown) => {
    console.error(
      `devhostBench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exitCode = 1;
    exitIfStuck('devhostBench', 1, EXIT_GRACE_MS);
  },
);
