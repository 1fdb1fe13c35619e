/**
 * Heartbeat throughput benchmark (`npm run bench:heartbeat`).
 *
 * Runs the control plane (this repository's Functions app, built) on the devhost with in-memory Azurite, all in this
 * one process, and measures, in one run:
 *   1. an idle baseline: the storage requests the host makes with nothing to do (durable engine queue polls and
 *      timers-table queries, the failure detector listing an empty cluster table), before any cluster exists;
 *   2. a reference: the raw single-entity upsert rate of the same embedded Azurite (concurrency 64, many partitions);
 *   3. heartbeat throughput: 50 clusters × 10 nodes send signed heartbeats (`POST /api/v1/agent/heartbeat`) as fast
 *      as possible for a fixed duration, at most 64 in flight and at most one per node, over keep-alive
 *      connections; per-request latency, non-200 answers, and the storage requests the Azure SDK made meanwhile,
 *      counted per service, per table (or container/queue), and per kind (point read, query, write).
 *
 * Order: idle baseline, raw reference, then clusters (declared and keyed with the app's admin API), warm-up (one
 * heartbeat per node: fills the directory and state caches, creates the heartbeat rows), measured phase. The load
 * generator runs on the devhost's event loop (signing, node:http client), so its own CPU counts against the result,
 * as the orchestration client's does in devhostBench; Azurite has its worker thread.
 *
 * Human-readable lines go first; the LAST line of stdout is one JSON object with the figures.
 */
import { randomBytes } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { TableClient } from '@azure/data-tables';
import { startDevhost, type Devhost } from '../devhost';
import { realProcess } from '../devhost/realRequire';
import { signRequest } from '../shared/auth/signedRequest';
import type { HeartbeatBody } from '../shared/contracts/agentApi';
import { paths } from '../shared/contracts/routes';
import { exitIfStuck, mapLimit, percentile, quietLogger, round, sleep, type LogTally } from './benchKit';

const CLUSTERS = 50;
const NODES_PER_CLUSTER = 10;
const CONCURRENCY = 64;
const MEASURE_MS = 15_000;
/** Equal to the measured phase, so the idle counts can be subtracted as they are. */
const IDLE_MS = MEASURE_MS;
/** Let the host settle (first detector round creates the tables, pollers back off) before the idle window. */
const SETTLE_MS = 1_500;
const SETUP_CONCURRENCY = 8;
const RAW_MS = 5_000;
const RAW_WARMUP_WRITES = 256;
const RAW_CONCURRENCY = 64;
const RAW_PARTITIONS = 500;
const MAX_NON200_FRACTION = 0.01;
const TABLE_PREFIX = 'Bench';
const HEARTBEAT_PATH = paths.agentHeartbeat();
const REQUEST_TIMEOUT_MS = 60_000;
/** If something still holds the event loop this long after the devhost stopped, report it and exit anyway. */
const EXIT_GRACE_MS = 5_000;
const REGIONS = ['westeurope', 'northeurope', 'eastus', 'westus2', 'uksouth'];

/** The compiled bench runs from dist/bench; the app is the repository root (where package.json is). */
const REPO_ROOT = path.resolve(__dirname, '../..');

// ---- small helpers ----

// ---- HTTP to the devhost: node:http over one keep-alive agent, so connection setup is not measured ----

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

interface HttpResult {
  status: number;
  text: string;
}

function send(
  baseUrl: string,
  method: string,
  pathAndQuery: string,
  headers: Record<string, string>,
  body?: string,
): Promise<HttpResult> {
  const url = new URL(pathAndQuery, baseUrl);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method,
        path: url.pathname + url.search,
        headers: {
          ...headers,
          ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
        },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    request.on('timeout', () =>
      request.destroy(new Error(`${method} ${url.pathname} timed out after ${REQUEST_TIMEOUT_MS} ms`)),
    );
    request.on('error', reject);
    request.end(body);
  });
}

function parseJson(text: string): unknown {
  try {
    return text.length > 0 ? (JSON.parse(text) as unknown) : null;
  } catch {
    return text;
  }
}

// ---- the devhost's log: quiet, errors only (warnings are counted and summarised) ----

/** The failure detector's warnings (one per cluster and epoch it records as failed). */
const detections = (tally: LogTally) => tally.warnings.filter((w) => w.startsWith('failure detected')).length;

// ---- counting the SDK's storage requests (node:diagnostics_channel) ----

type Service = 'table' | 'blob' | 'queue';
const SERVICES: readonly Service[] = ['table', 'blob', 'queue'];
type ChannelName = 'http' | 'undici';
/** Who a storage resource belongs to. */
type Owner = 'controlPlane' | 'engine' | 'reference' | 'account' | 'other';
/** point read (GET of one entity/blob/message), query (GET of a collection), write (anything else). */
type Kind = 'read' | 'query' | 'write';

/** Counters keyed by `channel|service|owner|resource|kind` (requests) or `...|status` (responses). */
type Counts = Map<string, number>;

interface StorageCounter {
  requests: Counts;
  responses: Counts;
  /** Bench requests to the devhost seen on each channel (sanity check of the exclusion). */
  devhost: Record<ChannelName, number>;
  unsubscribe(): void;
}

interface Classified {
  service: Service;
  owner: Owner;
  resource: string;
  kind: Kind;
}

function portsOf(connectionString: string): Map<number, Service> {
  const ports = new Map<number, Service>();
  const endpoints: [string, Service][] = [
    ['BlobEndpoint', 'blob'],
    ['QueueEndpoint', 'queue'],
    ['TableEndpoint', 'table'],
  ];
  for (const [setting, service] of endpoints) {
    const value = new RegExp(`(?:^|;)${setting}=([^;]+)`).exec(connectionString)?.[1];
    if (!value) throw new Error(`the storage connection string has no ${setting}`);
    ports.set(Number(new URL(value).port), service);
  }
  return ports;
}

/**
 * Names what a storage request touches from its path (`/devstoreaccount1/<table>(PartitionKey='p',RowKey='r')`,
 * `/devstoreaccount1/<container>/<blob>`, `/devstoreaccount1/<queue>/messages`). The control plane's tables start
 * with TABLE_PREFIX and its witness container with the lowercase prefix; the engine's tables, queues and container
 * with the task hub name; `$batch` is the engine's (only its history writes use entity-group transactions).
 */
function classify(
  service: Service,
  method: string,
  rawPath: string,
  hubName: string,
  referenceTable: string,
): Classified {
  const pathOnly = rawPath.split('?')[0] ?? '';
  const query = rawPath.includes('?') ? rawPath.slice(rawPath.indexOf('?')) : '';
  const segments = pathOnly.split('/').filter((s) => s.length > 0);
  const target = decodeURIComponent(segments[1] ?? '');
  const upper = method.toUpperCase();
  const isRead = upper === 'GET' || upper === 'HEAD';
  if (service === 'table') {
    const name = /^[^(]*/.exec(target)?.[0] ?? target;
    const point = /\(\s*PartitionKey=/.test(target);
    const kind: Kind = !isRead ? 'write' : point ? 'read' : 'query';
    let owner: Owner = 'other';
    let resource = name || '(account)';
    if (name === 'Tables' || name === '') owner = 'account';
    else if (name === referenceTable) owner = 'reference';
    else if (name === '$batch' || name.startsWith(hubName)) owner = 'engine';
    else if (name.startsWith(TABLE_PREFIX)) {
      owner = 'controlPlane';
      // The cluster table holds two kinds of rows: documents (partition `cluster`) and node credentials.
      const partition = /PartitionKey='([^']*)'/.exec(target)?.[1];
      if (name === `${TABLE_PREFIX}Clusters` && partition !== undefined) resource = `${name}[${partition}]`;
    }
    return { service, owner, resource, kind };
  }
  const prefix = TABLE_PREFIX.toLowerCase();
  const hub = hubName.toLowerCase();
  const owner: Owner =
    target === ''
      ? 'account'
      : target.startsWith(hub)
        ? 'engine'
        : target.startsWith(`${prefix}-`)
          ? 'controlPlane'
          : 'other';
  const collection = segments.length <= 2 || /comp=list/.test(query);
  const kind: Kind = !isRead ? 'write' : collection ? 'query' : 'read';
  return { service, owner, resource: target || '(account)', kind };
}

const bump = (counts: Counts, key: string, by = 1) => counts.set(key, (counts.get(key) ?? 0) + by);

/**
 * Subscribes to both client-request channels: `http.client.request.start` (node:http, what @azure/core-rest-pipeline
 * uses on Node) and `undici:request:create` (fetch). Each counts on its own, so the run shows which one sees the
 * SDK's requests. Only requests to the Azurite ports count; the bench's own requests go to the devhost's port.
 */
function countStorageRequests(devhost: Devhost, referenceTable: string): StorageCounter {
  const ports = portsOf(devhost.connectionString);
  const requests: Counts = new Map();
  const responses: Counts = new Map();
  const devhostSeen: Record<ChannelName, number> = { http: 0, undici: 0 };
  const record = (
    channel: ChannelName,
    counts: Counts,
    port: number,
    method: string,
    rawPath: string,
    suffix?: string,
  ) => {
    if (port === devhost.port) {
      if (counts === requests) devhostSeen[channel]++;
      return;
    }
    const service = ports.get(port);
    if (!service) return;
    const c = classify(service, method, rawPath, devhost.hubName, referenceTable);
    const key = [channel, c.service, c.owner, c.resource, suffix ?? c.kind].join('|');
    bump(counts, key);
  };
  const hostPort = (host: unknown): number => {
    const text = Array.isArray(host) ? String(host[0]) : typeof host === 'string' ? host : '';
    return Number(/:(\d+)$/.exec(text)?.[1] ?? NaN);
  };
  const onHttpStart = (message: unknown) => {
    const request = (message as { request?: http.ClientRequest }).request;
    if (!request) return;
    record('http', requests, hostPort(request.getHeader('host')), request.method, request.path);
  };
  const onHttpFinish = (message: unknown) => {
    const { request, response } = message as {
      request?: http.ClientRequest;
      response?: http.IncomingMessage;
    };
    if (!request || !response) return;
    record(
      'http',
      responses,
      hostPort(request.getHeader('host')),
      request.method,
      request.path,
      String(response.statusCode ?? 0),
    );
  };
  interface UndiciRequest {
    origin?: string | URL;
    path?: string;
    method?: string;
  }
  const undiciPort = (request: UndiciRequest) => {
    const origin = request.origin === undefined ? undefined : new URL(String(request.origin));
    return Number(origin?.port || NaN);
  };
  const onUndiciCreate = (message: unknown) => {
    const request = (message as { request?: UndiciRequest }).request;
    if (!request) return;
    record('undici', requests, undiciPort(request), request.method ?? 'GET', request.path ?? '/');
  };
  const onUndiciHeaders = (message: unknown) => {
    const { request, response } = message as { request?: UndiciRequest; response?: { statusCode?: number } };
    if (!request || !response) return;
    record(
      'undici',
      responses,
      undiciPort(request),
      request.method ?? 'GET',
      request.path ?? '/',
      String(response.statusCode ?? 0),
    );
  };
  const subscriptions: [string, (message: unknown) => void][] = [
    ['http.client.request.start', onHttpStart],
    ['http.client.response.finish', onHttpFinish],
    ['undici:request:create', onUndiciCreate],
    ['undici:request:headers', onUndiciHeaders],
  ];
  for (const [name, fn] of subscriptions) diagnosticsChannel.subscribe(name, fn);
  return {
    requests,
    responses,
    devhost: devhostSeen,
    unsubscribe: () => {
      for (const [name, fn] of subscriptions) diagnosticsChannel.unsubscribe(name, fn);
    },
  };
}

interface Snapshot {
  requests: Counts;
  responses: Counts;
}

const snapshot = (counter: StorageCounter): Snapshot => ({
  requests: new Map(counter.requests),
  responses: new Map(counter.responses),
});

function diff(after: Counts, before: Counts): Counts {
  const out: Counts = new Map();
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta !== 0) out.set(key, delta);
  }
  return out;
}

interface Window {
  requests: Counts;
  responses: Counts;
}

const windowOf = (before: Snapshot, after: Snapshot): Window => ({
  requests: diff(after.requests, before.requests),
  responses: diff(after.responses, before.responses),
});

/** Sums the counters whose key fields match (undefined = any). */
function sum(
  counts: Counts,
  match: {
    channel?: ChannelName;
    service?: Service;
    owner?: Owner;
    resource?: string;
    last?: string;
  },
): number {
  let total = 0;
  for (const [key, value] of counts) {
    const [channel, service, owner, resource, last] = key.split('|');
    if (match.channel !== undefined && channel !== match.channel) continue;
    if (match.service !== undefined && service !== match.service) continue;
    if (match.owner !== undefined && owner !== match.owner) continue;
    if (match.resource !== undefined && resource !== match.resource) continue;
    if (match.last !== undefined && last !== match.last) continue;
    total += value;
  }
  return total;
}

/** `resource kind` → count, for one channel and owner, largest first. */
function breakdown(counts: Counts, channel: ChannelName, owner?: Owner): [string, number][] {
  const rows = new Map<string, number>();
  for (const [key, value] of counts) {
    const [c, service, o, resource, last] = key.split('|');
    if (c !== channel || (owner !== undefined && o !== owner)) continue;
    bump(rows, `${service} ${resource} ${last}`, value);
  }
  return [...rows].sort((a, b) => b[1] - a[1]);
}

// ---- phase: raw Azurite upserts (reference) ----

async function measureRawUpserts(
  connectionString: string,
  tableName: string,
): Promise<{ upsertsPerSec: number; upserts: number; seconds: number }> {
  const table = TableClient.fromConnectionString(connectionString, tableName, {
    allowInsecureConnection: true,
  });
  await table.createTable();
  // About the size of a heartbeat row (a JSON Record with a couple of checks, Seq, ReceivedAt).
  const record = JSON.stringify({
    clusterId: 'bench-00',
    nodeId: 'node-0',
    seq: 1,
    receivedAt: Date.now(),
    role: 'standby',
    epoch: 1,
    checks: [
      { name: 'failoverping', status: 'ok' },
      { name: 'gpu', status: 'ok' },
    ],
  });
  const write = (i: number) =>
    table.upsertEntity(
      {
        partitionKey: `p${String(i % RAW_PARTITIONS).padStart(4, '0')}`,
        rowKey: 'hb',
        Record: record,
        Seq: i,
        ReceivedAt: new Date(),
      },
      'Replace',
    );
  // Warm-up (connections, JIT, the partitions' first inserts) outside the timed window.
  await mapLimit(
    Array.from({ length: RAW_WARMUP_WRITES }, (_, i) => i),
    RAW_CONCURRENCY,
    (i) => write(i),
  );
  let upserts = 0;
  let next = 0;
  const t0 = performance.now();
  const end = t0 + RAW_MS;
  await Promise.all(
    Array.from({ length: RAW_CONCURRENCY }, async () => {
      while (performance.now() < end) {
        await write(next++);
        upserts++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { upsertsPerSec: upserts / seconds, upserts, seconds };
}

// ---- phase: clusters, keys, heartbeats ----

interface BenchNode {
  clusterId: string;
  nodeId: string;
  key: Buffer;
  active: boolean;
  seq: number;
  epoch: number;
}

interface HeartbeatReplyJson {
  role?: unknown;
  epoch?: unknown;
  commands?: unknown;
}

interface HeartbeatTally {
  ok: number;
  non200: Map<string, number>;
  firstProblems: string[];
  roleMismatches: number;
  latencies: number[];
}

const newTally = (): HeartbeatTally => ({
  ok: 0,
  non200: new Map(),
  firstProblems: [],
  roleMismatches: 0,
  latencies: [],
});

const non200Count = (tally: HeartbeatTally) => [...tally.non200.values()].reduce((a, b) => a + b, 0);

/**
 * Declares the clusters and issues their nodes' keys, one cluster after another (SETUP_CONCURRENCY at a time); each
 * cluster's active sends its first heartbeat as soon as it has its key. The failure detector counts an active's
 * silence from the declaration, and a setup of several seconds would otherwise let it record failures of the first
 * clusters (5 missed heartbeats of 1 s) before the benchmark starts.
 */
async function declareClusters(devhost: Devhost, tally: HeartbeatTally): Promise<BenchNode[]> {
  const admin = { 'x-functions-key': devhost.keys.masterKey, 'content-type': 'application/json' };
  const clusters = Array.from({ length: CLUSTERS }, (_, i) => {
    const id = `bench-${String(i).padStart(2, '0')}`;
    const activeIndex = i % NODES_PER_CLUSTER;
    return {
      id,
      kind: i % 2 === 0 ? 'multi-region' : 'active-passive',
      nodes: Array.from({ length: NODES_PER_CLUSTER }, (_, k) => ({
        id: `node-${k}`,
        role: k === activeIndex ? 'active' : 'standby',
        site: { cloud: 'azure', region: REGIONS[k % REGIONS.length] as string },
        priority: 10 * k,
      })),
      // Defaults: heartbeat 1000 ms, 5 missed, lease 4000 ms.
      detection: {},
    };
  });
  const perCluster = await mapLimit(clusters, SETUP_CONCURRENCY, async (doc) => {
    const res = await send(devhost.url, 'PUT', paths.cluster(doc.id), admin, JSON.stringify(doc));
    if (res.status !== 201) throw new Error(`declaring ${doc.id} answered ${res.status}: ${res.text}`);
    const members: BenchNode[] = [];
    for (const n of doc.nodes) {
      const issued = await send(devhost.url, 'POST', paths.nodeKey(doc.id, n.id), admin);
      const key = (parseJson(issued.text) as { key?: unknown } | null)?.key;
      if (issued.status !== 201 || typeof key !== 'string')
        throw new Error(`issuing the key of ${doc.id}/${n.id} answered ${issued.status}: ${issued.text}`);
      members.push({
        clusterId: doc.id,
        nodeId: n.id,
        active: n.role === 'active',
        key: Buffer.from(key, 'base64'),
        seq: 0,
        epoch: 0,
      });
    }
    const active = members.find((m) => m.active);
    if (active) await heartbeat(devhost, active, tally);
    return members;
  });
  return perCluster.flat();
}

/** One signed heartbeat, as the node agent sends it; the node's seq and epoch move on. */
async function heartbeat(devhost: Devhost, node: BenchNode, tally: HeartbeatTally): Promise<void> {
  const role = node.active ? 'active' : 'standby';
  const heartbeatBody: HeartbeatBody = {
    role,
    epoch: node.epoch,
    checks: [
      { name: 'failoverping', status: 'ok' },
      { name: 'gpu', status: 'ok', detail: '8/8 healthy' },
    ],
  };
  const body = JSON.stringify(heartbeatBody);
  node.seq += 1;
  const headers = signRequest({
    method: 'POST',
    path: HEARTBEAT_PATH,
    body,
    clusterId: node.clusterId,
    nodeId: node.nodeId,
    keyVersion: 1,
    timestamp: Date.now(),
    seq: node.seq,
    key: node.key,
  });
  const sent = performance.now();
  let result: HttpResult;
  try {
    result = await send(
      devhost.url,
      'POST',
      HEARTBEAT_PATH,
      { 'content-type': 'application/json', ...headers },
      body,
    );
  } catch (error) {
    result = { status: 0, text: error instanceof Error ? error.message : String(error) };
  }
  tally.latencies.push(performance.now() - sent);
  if (result.status !== 200) {
    const code = (parseJson(result.text) as { error?: { code?: unknown } } | null)?.error?.code;
    bump(tally.non200, `${result.status}${typeof code === 'string' ? ` ${code}` : ''}`);
    if (tally.firstProblems.length < 5)
      tally.firstProblems.push(
        `${node.clusterId}/${node.nodeId} seq ${node.seq}: ${result.status} ${result.text}`,
      );
    return;
  }
  tally.ok++;
  const reply = parseJson(result.text) as HeartbeatReplyJson | null;
  if (typeof reply?.epoch === 'number') node.epoch = reply.epoch;
  if (reply?.role !== role || !Array.isArray(reply.commands) || reply.commands.length > 0) {
    tally.roleMismatches++;
    if (tally.firstProblems.length < 5)
      tally.firstProblems.push(`${node.clusterId}/${node.nodeId}: unexpected reply ${result.text}`);
  }
}

/**
 * Sends heartbeats for `durationMs`: CONCURRENCY workers take the node that has waited longest (a FIFO of idle
 * nodes), so at most one request per node is in flight and every node gets its turn in round-robin order.
 */
async function runHeartbeats(
  devhost: Devhost,
  nodes: readonly BenchNode[],
  durationMs: number,
  tally: HeartbeatTally,
): Promise<{ seconds: number }> {
  if (nodes.length < CONCURRENCY) throw new Error('need at least as many nodes as requests in flight');
  const idle = [...nodes];
  const t0 = performance.now();
  const end = t0 + durationMs;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const node = idle.shift();
        if (!node) throw new Error('no idle node (cannot happen: nodes > concurrency)');
        await heartbeat(devhost, node, tally);
        idle.push(node);
      }
    }),
  );
  return { seconds: (performance.now() - t0) / 1000 };
}

/** Fisher–Yates, so a cluster's nodes are spread over the round-robin order like independent agents. */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

// ---- main ----

async function main(): Promise<void> {
  const wallStart = performance.now();
  if (!existsSync(path.join(REPO_ROOT, 'package.json')))
    throw new Error(`${REPO_ROOT} has no package.json: the bench must run from dist/bench`);
  if (!existsSync(path.join(REPO_ROOT, 'dist/functions/http/agentHeartbeat.js')))
    throw new Error('build first: npm run build');
  // The app reads the real process environment (once, on first use): the settings go there before it loads.
  Object.assign(realProcess.env, {
    NODE_KEY_MASTER: randomBytes(32).toString('base64'),
    TABLE_PREFIX,
  });
  const tally: LogTally = { errors: [], warnings: [] };
  const t0 = performance.now();
  const devhost: Devhost = await startDevhost({
    appDir: REPO_ROOT,
    port: 0,
    storage: 'memory',
    log: quietLogger(tally),
  });
  const referenceTable = `RawUpserts${Date.now()}`;
  const counter = countStorageRequests(devhost, referenceTable);
  const lines: string[] = [];
  let summary: Record<string, unknown>;
  let failure: string | undefined;
  try {
    lines.push(
      `devhost up in ${round(performance.now() - t0, 0)} ms: ${devhost.storageDescription}, hub ${devhost.hubName}, ` +
        `app ${REPO_ROOT}, table prefix ${TABLE_PREFIX}`,
    );

    // 1. Idle baseline, before any cluster exists (so the failure detector has nothing to detect).
    await sleep(SETTLE_MS);
    const idleBefore = snapshot(counter);
    await sleep(IDLE_MS);
    const idle = windowOf(idleBefore, snapshot(counter));

    // 2. Raw upsert reference on the same Azurite.
    const raw = await measureRawUpserts(devhost.connectionString, referenceTable);
    lines.push(
      `raw Azurite upserts (reference): ${raw.upserts} single-entity upserts over ${RAW_PARTITIONS} partitions, ` +
        `concurrency ${RAW_CONCURRENCY}, ${round(raw.seconds, 2)} s = ${round(raw.upsertsPerSec)} upserts/s`,
    );

    // 3. Clusters, keys, warm-up.
    const setupStart = performance.now();
    const warm = newTally();
    const nodes = await declareClusters(devhost, warm);
    lines.push(
      `declared ${CLUSTERS} clusters × ${NODES_PER_CLUSTER} nodes, issued ${nodes.length} keys and sent each ` +
        `active's first heartbeat in ${round(performance.now() - setupStart, 0)} ms`,
    );
    // Warm-up: one heartbeat per node, the actives first (the detector watches only them).
    const warmStart = performance.now();
    const activesFirst = [...nodes.filter((n) => n.active), ...nodes.filter((n) => !n.active)];
    await mapLimit(activesFirst, CONCURRENCY, (node) => heartbeat(devhost, node, warm));
    lines.push(
      `warm-up: one heartbeat per node, ${warm.ok - CLUSTERS}/${nodes.length} answered 200 in ` +
        `${round(performance.now() - warmStart, 0)} ms`,
    );
    if (warm.ok !== nodes.length + CLUSTERS)
      throw new Error(
        `warm-up heartbeats failed: ${[...warm.non200].join(', ')}; ${warm.firstProblems.join(' | ')}`,
      );
    const detectionsBefore = detections(tally);

    // 4. Measured phase.
    const measured = newTally();
    const before = snapshot(counter);
    const run = await runHeartbeats(devhost, shuffled(nodes), MEASURE_MS, measured);
    const during = windowOf(before, snapshot(counter));
    const detectionsDuring = detections(tally) - detectionsBefore;

    // ---- figures ----
    const latencies = measured.latencies.sort((a, b) => a - b);
    const attempts = latencies.length;
    const non200 = non200Count(measured);
    const heartbeats = measured.ok;
    const heartbeatsPerSec = heartbeats / run.seconds;
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);

    // Which channel sees the SDK: the one that counted Azurite requests (both are printed).
    const perChannel = (w: Window, channel: ChannelName) => sum(w.requests, { channel });
    const channel: ChannelName =
      perChannel(during, 'http') + perChannel(idle, 'http') >=
      perChannel(during, 'undici') + perChannel(idle, 'undici')
        ? 'http'
        : 'undici';
    const perService = (w: Window, owner?: Owner) =>
      Object.fromEntries(
        SERVICES.map((s) => [s, sum(w.requests, { channel, service: s, ...(owner ? { owner } : {}) })]),
      ) as Record<Service, number>;
    const measuredByService = perService(during);
    const idleByService = perService(idle);
    const measuredTotal = SERVICES.reduce((a, s) => a + measuredByService[s], 0);
    const idleTotal = SERVICES.reduce((a, s) => a + idleByService[s], 0);
    // The idle window lasts IDLE_MS, the measured one run.seconds (a little over MEASURE_MS): scale by time.
    const idleScale = run.seconds / (IDLE_MS / 1000);

    /*
     * Storage requests per heartbeat, two honest ways:
     *  - primary (`storageRequestsPerHeartbeat`): every request to the control plane's own resources (tables named
     *    TABLE_PREFIX*, the witness container) during the measured phase, divided by the heartbeats. The durable
     *    engine's idle polling (its queues and hub tables) is excluded by name, not estimated. What remains includes
     *    the work that heartbeats cause indirectly and the failure detector's rounds (1 query + 50 state reads a
     *    second) — that is the control plane's real storage cost under this load, so it is kept, and broken down.
     *  - cross-check (`storageRequestsPerHeartbeatNetOfIdle`): ALL Azurite requests during the measured phase minus
     *    those of an idle window of the same length before any cluster existed (engine polling plus the detector
     *    listing an empty table), divided by the heartbeats.
     */
    const cpTable = sum(during.requests, { channel, service: 'table', owner: 'controlPlane' });
    const cpBlob = sum(during.requests, { channel, service: 'blob', owner: 'controlPlane' });
    const controlPlaneRequests = cpTable + cpBlob;
    const storageRequestsPerHeartbeat = controlPlaneRequests / heartbeats;
    const netOfIdle = (measuredTotal - idleTotal * idleScale) / heartbeats;
    const cpWrites = sum(during.requests, { channel, owner: 'controlPlane', last: 'write' });
    const cpReads = sum(during.requests, { channel, owner: 'controlPlane', last: 'read' });
    const cpQueries = sum(during.requests, { channel, owner: 'controlPlane', last: 'query' });
    const detectorRounds = sum(during.requests, {
      channel,
      owner: 'controlPlane',
      resource: `${TABLE_PREFIX}Clusters`,
      last: 'query',
    });
    const stateReads = sum(during.requests, {
      channel,
      owner: 'controlPlane',
      resource: `${TABLE_PREFIX}ClusterState`,
      last: 'read',
    });
    // Each detector round reads every cluster's state once; the rest are the heartbeat service's cache refreshes.
    const heartbeatStateReads = Math.max(0, stateReads - detectorRounds * CLUSTERS);
    const statusesOf = (owner: Owner) => {
      const out: Record<string, number> = {};
      for (const [key, value] of during.responses) {
        const [c, , o, resource, status] = key.split('|');
        if (c !== channel || o !== owner) continue;
        const name = `${resource} ${status}`;
        out[name] = (out[name] ?? 0) + value;
      }
      return out;
    };
    const cpStatuses = statusesOf('controlPlane');
    const cpNon2xx = Object.entries(cpStatuses).filter(([k]) => !/ 2\d\d$/.test(k));
    const ratio = heartbeatsPerSec / raw.upsertsPerSec;

    lines.push(
      `heartbeats: ${nodes.length} nodes (${CLUSTERS} clusters × ${NODES_PER_CLUSTER}, 1 active each), ` +
        `${CONCURRENCY} in flight (≤ 1 per node), ${round(run.seconds, 2)} s: ${heartbeats} answered 200 ` +
        `= ${round(heartbeatsPerSec)} heartbeats/s (${round(heartbeatsPerSec / nodes.length, 2)}/s per node)`,
    );
    lines.push(
      `heartbeat latency, n=${attempts}: p50 ${round(p50)} ms, p90 ${round(percentile(latencies, 90))} ms, ` +
        `p99 ${round(p99)} ms, max ${round(latencies[latencies.length - 1] ?? NaN)} ms`,
    );
    lines.push(
      `non-200 answers: ${non200}/${attempts}` +
        (non200 > 0 ? ` (${[...measured.non200].map(([k, v]) => `${k}: ${v}`).join(', ')})` : '') +
        `; replies with an unexpected role or a command: ${measured.roleMismatches}`,
    );
    for (const problem of measured.firstProblems) lines.push(`  e.g. ${problem}`);
    lines.push(
      `storage-request channels (Azurite ports only; bench requests to the devhost excluded: ` +
        `http ${counter.devhost.http}, undici ${counter.devhost.undici}): ` +
        `http.client.request.start counted ${perChannel(during, 'http')} during the measured phase ` +
        `(${perChannel(idle, 'http')} idle), undici:request:create ${perChannel(during, 'undici')} ` +
        `(${perChannel(idle, 'undici')} idle): using ${channel}`,
    );
    lines.push(
      `storage requests during the measured phase: table ${measuredByService.table}, blob ${measuredByService.blob}, ` +
        `queue ${measuredByService.queue}; idle window of ${IDLE_MS / 1000} s before any cluster: ` +
        `table ${idleByService.table}, blob ${idleByService.blob}, queue ${idleByService.queue}`,
    );
    lines.push(
      `control plane's own resources (${TABLE_PREFIX}* tables, witness container): ${controlPlaneRequests} requests ` +
        `= ${round(storageRequestsPerHeartbeat, 3)} per heartbeat (${round(cpWrites / heartbeats, 3)} writes, ` +
        `${round(cpReads / heartbeats, 3)} point reads, ${round(cpQueries / heartbeats, 3)} queries)`,
    );
    for (const [name, count] of breakdown(during.requests, channel, 'controlPlane')) {
      lines.push(
        `  ${name}: ${count} (${round(count / heartbeats, 3)}/heartbeat, ${round(count / run.seconds, 1)}/s)`,
      );
    }
    lines.push(
      `  of the ${stateReads} cluster-state reads: ~${detectorRounds * CLUSTERS} by ${detectorRounds} failure-detector ` +
        `rounds (1 list + ${CLUSTERS} state reads each), ~${heartbeatStateReads} by the heartbeat service's ` +
        `1 s state cache (${round(heartbeatStateReads / run.seconds / CLUSTERS, 2)}/s per cluster)`,
    );
    lines.push(
      `  control-plane storage answers other than 2xx: ` +
        (cpNon2xx.length > 0 ? cpNon2xx.map(([k, v]) => `${k}: ${v}`).join(', ') : 'none'),
    );
    lines.push(
      `all Azurite requests net of the idle window: (${measuredTotal} − ${idleTotal} × ${round(idleScale, 3)}) / ` +
        `${heartbeats} = ${round(netOfIdle, 3)} per heartbeat (cross-check; the engine's polling is what cancels)`,
    );
    for (const [name, count] of breakdown(during.requests, channel, 'engine')) {
      lines.push(`  engine ${name}: ${count} measured`);
    }
    lines.push(
      `heartbeats/s vs raw upserts/s: ${round(heartbeatsPerSec, 1)} / ${round(raw.upsertsPerSec, 1)} = ${round(ratio, 4)}`,
    );
    lines.push(
      `failure detections recorded (an active silent ≥ 5 heartbeat intervals): ${detectionsBefore} before the ` +
        `measured phase, ${detectionsDuring} during it`,
    );

    if (attempts === 0 || non200 / attempts > MAX_NON200_FRACTION) {
      failure =
        `${non200} of ${attempts} heartbeats (${round((100 * non200) / Math.max(1, attempts), 2)}%) did not answer ` +
        `200, more than ${MAX_NON200_FRACTION * 100}%`;
    }

    summary = {
      heartbeatsPerSec: round(heartbeatsPerSec, 1),
      p50Ms: round(p50, 1),
      p99Ms: round(p99, 1),
      storageRequestsPerHeartbeat: round(storageRequestsPerHeartbeat, 3),
      rawUpsertsPerSec: round(raw.upsertsPerSec, 1),
      ratio: round(ratio, 4),
      nodes: nodes.length,
      clusters: CLUSTERS,
      concurrency: CONCURRENCY,
      durationSec: round(run.seconds, 3),
      heartbeats,
      non200,
      roleMismatches: measured.roleMismatches,
      p90Ms: round(percentile(latencies, 90), 1),
      maxMs: round(latencies[latencies.length - 1] ?? NaN, 1),
      storageRequestsPerHeartbeatNetOfIdle: round(netOfIdle, 3),
      controlPlaneWritesPerHeartbeat: round(cpWrites / heartbeats, 3),
      controlPlaneReadsPerHeartbeat: round((cpReads + cpQueries) / heartbeats, 3),
      controlPlaneRequests,
      controlPlaneTableRequests: cpTable,
      controlPlaneBlobRequests: cpBlob,
      controlPlaneNon2xx: Object.fromEntries(cpNon2xx),
      tableRequests: measuredByService.table,
      blobRequests: measuredByService.blob,
      queueRequests: measuredByService.queue,
      idleTableRequests: idleByService.table,
      idleBlobRequests: idleByService.blob,
      idleQueueRequests: idleByService.queue,
      idleSec: IDLE_MS / 1000,
      storageChannel: channel,
      httpChannelRequests: perChannel(during, 'http'),
      undiciChannelRequests: perChannel(during, 'undici'),
      detectorRounds,
      rawUpserts: raw.upserts,
      devhostErrors: tally.errors.length,
      devhostWarnings: tally.warnings.length,
      failureDetections: detectionsBefore + detectionsDuring,
    };
  } finally {
    counter.unsubscribe();
    await devhost.stop();
    agent.destroy();
  }

  if (tally.warnings.length > 0) {
    lines.push(
      `devhost logged ${tally.warnings.length} warning(s); first: ${tally.warnings.slice(0, 3).join(' | ')}`,
    );
  }
  lines.push(`devhost logged ${tally.errors.length} error(s)`);
  const wallSeconds = (performance.now() - wallStart) / 1000;
  lines.push(`wall time ${round(wallSeconds, 1)} s`);
  summary.wallSec = round(wallSeconds, 1);
  for (const line of lines) console.log(line);
  console.log(JSON.stringify(summary));
  if (failure) throw new Error(failure);
}

/** A safety net that does not itself hold the process: if anything else still does, say what and exit. */
main().then(
  () => exitIfStuck('heartbeatBench', 0, EXIT_GRACE_MS),
  (error: unknown) => {
    console.error(
      `heartbeatBench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exitCode = 1;
    exitIfStuck('heartbeatBench', 1, EXIT_GRACE_MS);
  },
);
