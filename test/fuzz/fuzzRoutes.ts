import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HttpMethod, RouteAccess } from '../../shared/auth/routeAccess';
import type { Role } from '../../shared/auth/roles';
import type { RouteName } from '../../shared/contracts/routes';

/** The cluster every generated request is about (declared by the fuzz target, its agents enrolled). */
export const FUZZ_CLUSTER = 'fz';
/** Its nodes; the agents of the first two sign requests. */
export const FUZZ_NODES = ['head-a', 'head-b'] as const;
/** A third node (no agent): the node-key route rotates its key, so the agents' keys stay valid. */
export const SPARE_NODE = 'spare';
/** The cluster the declare route (PUT) writes: generated documents must not reshape the fuzz cluster itself. */
export const PUT_CLUSTER = 'fz-put';

const SCALE_SET =
  '/subscriptions/00000000-0000-0000-0000-00000000f00d/resourceGroups/hpc-demo/providers/Microsoft.Compute/virtualMachineScaleSets';

export const FUZZ_DOCUMENT = {
  id: FUZZ_CLUSTER,
  kind: 'active-passive',
  nodes: [
    { id: 'head-a', role: 'active', site: { cloud: 'azure', region: 'westeurope' } },
    { id: 'head-b', role: 'standby', site: { cloud: 'azure', region: 'northeurope' }, priority: 10 },
    { id: SPARE_NODE, role: 'standby', site: { cloud: 'azure', region: 'northeurope' }, priority: 1 },
  ],
  detection: {},
  // A silent active is recorded but waits for an operator: the clock moves only when the fuzzer settles.
  failover: { mode: 'manual' },
  pools: [
    {
      id: 'gpu',
      desired: 2,
      sites: [
        {
          id: 'we',
          cloud: 'azure',
          region: 'westeurope',
          size: 'Standard_NC24ads_A100_v4',
          group: `${SCALE_SET}/gpu-we`,
        },
      ],
    },
  ],
};

const PUT_DOCUMENT = {
  id: PUT_CLUSTER,
  kind: 'active-passive',
  nodes: [
    { id: 'head-a', role: 'active', site: { cloud: 'azure', region: 'westeurope' } },
    { id: 'head-b', role: 'standby', site: { cloud: 'azure', region: 'northeurope' }, priority: 10 },
  ],
  detection: { heartbeatIntervalMs: 5000 },
};

/** An Azure Monitor alert (common alert schema) the control plane understands and answers without acting. */
const ALERT = JSON.parse(
  readFileSync(path.resolve(__dirname, '../fixtures/alerts/metric-vm-resolved.json'), 'utf8'),
) as unknown;

/** How a generated request authenticates. */
export type FuzzAuth =
  | { kind: 'none' }
  | { kind: 'role'; role: Role }
  | { kind: 'badKey' }
  | { kind: 'functionKey' }
  | {
      kind: 'agent';
      signed: boolean;
      clusterId: string;
      nodeId: string;
      /** Send sequence number 1 again. */
      replay?: boolean;
      /** Sign with a timestamp this far from the control plane's clock. */
      skewMs?: number;
    }
  | {
      kind: 'webhook';
      signed: boolean;
      /** Sign with a timestamp this far from the control plane's clock. */
      skewMs?: number;
      /** Deliver again under the first delivery's id (a replay or a retry). */
      replayId?: boolean;
    }
  /** An `x-ms-client-principal` header (the app trusts it in the fuzz target, as behind App Service Authentication). */
  | { kind: 'principal'; header: string }
  /** An `Authorization: Bearer` token: the action groups' application's (issued by the emulated tenant) or garbage. */
  | { kind: 'bearer'; token: 'action-groups' | 'garbage' };

/** One generated request, as sent (and as printed when it fails). */
export interface FuzzRequest {
  /** `<route> <method>` of the route it was generated for. */
  route: string;
  method: string;
  /** Path and query, from the host's root. */
  path: string;
  headers: Record<string, string>;
  contentType?: string;
  body?: string;
  auth: FuzzAuth;
}

/** What the fuzzer knows of a route and method: who may call it, and a request the route accepts or refuses. */
export interface FuzzRouteSpec {
  access: RouteAccess;
  /** Valid values of each path parameter (the generator also sends odd ones). */
  params: Record<string, string[]>;
  /** A query the route understands (mutated too). */
  query?: Record<string, string>;
  /** A well-formed body (the base of the mutations); none for a route that reads no body. */
  body?: unknown;
}

const cluster = { clusterId: [FUZZ_CLUSTER, 'no-such-cluster'] };
const pool = { ...cluster, poolId: ['gpu', 'no-such-pool'] };

/**
 * Every route and method of the control plane, with what to generate for it. ADDING A ROUTE: add it here too — the
 * fuzz test fails for a route the app registers that this table does not cover (and for an entry the app does not
 * register). The devhost's own `/admin/*` and `/runtime/webhooks/durabletask/*` APIs are not the app's routes
 * (the Functions host's management APIs, master/system key only, not part of this code base in Azure): not fuzzed.
 */
export const FUZZ_ROUTES: Record<string, FuzzRouteSpec> = {
  'health GET': { access: 'public', params: {} },
  'clusters GET': { access: 'viewer', params: {}, query: { limit: '10' } },
  'cluster GET': { access: 'viewer', params: cluster },
  'cluster PUT': { access: 'admin', params: { clusterId: [PUT_CLUSTER] }, body: PUT_DOCUMENT },
  'cluster DELETE': {
    access: 'admin',
    params: { clusterId: ['gone', 'no-such-cluster'] },
    body: { confirm: true },
  },
  'clusterStatus GET': { access: 'viewer', params: cluster },
  'nodeKey POST': {
    access: 'admin',
    params: { ...cluster, nodeId: [SPARE_NODE, 'no-such-node'] },
    query: { rotate: 'true' },
  },
  'witnessBreak POST': { access: 'admin', params: cluster, query: { reason: 'fuzz' } },
  'operations GET': { access: 'viewer', params: cluster, query: { limit: '5' } },
  'operation GET': { access: 'viewer', params: { ...cluster, operationId: ['no-such-operation'] } },
  'audit GET': { access: 'viewer', params: cluster, query: { limit: '5' } },
  'makeActive POST': { access: 'operator', params: cluster, body: { nodeId: 'head-b' } },
  'failover POST': {
    access: 'operator',
    params: cluster,
    body: { reason: 'fuzz', targetNodeId: 'not-a-node' },
  },
  'drills GET': { access: 'viewer', params: cluster, query: { limit: '5' } },
  'drills POST': { access: 'operator', params: cluster, body: { mode: 'failover', confirm: true } },
  'drill GET': { access: 'viewer', params: { ...cluster, drillId: ['no-such-drill'] } },
  'pool GET': { access: 'viewer', params: pool },
  'poolDemand PUT': { access: 'operator', params: pool, body: { desired: 2 } },
  'poolPlan POST': { access: 'operator', params: pool, body: {} },
  'poolSpillover POST': { access: 'operator', params: pool, body: {} },
  'poolNodes GET': { access: 'viewer', params: pool },
  'poolNodeIdle PUT': {
    access: 'operator',
    params: { ...pool, nodeId: ['we-00000000'] },
    body: { idle: true },
  },
  'webhookAzureMonitor POST': { access: 'host-function-key', params: {}, body: ALERT },
  'webhookAzureMonitorSecure POST': { access: 'webhook-principal', params: {}, body: ALERT },
  'webhookFailover POST': {
    access: 'signed-webhook',
    params: {},
    body: { clusterId: FUZZ_CLUSTER, reason: 'fuzz', targetNodeId: 'not-a-node' },
  },
  'agentHeartbeat POST': {
    access: 'agent',
    params: {},
    body: { role: 'standby', epoch: 1, checks: [{ name: 'disk', status: 'ok' }], replicationLagMs: 10 },
  },
  'agentArbitrate POST': { access: 'agent', params: {}, body: { epoch: 1, checks: [] } },
  'agentArbitrationStatus GET': {
    access: 'agent',
    params: { clusterId: [FUZZ_CLUSTER], epoch: ['1', '2'] },
  },
  'agentAck POST': {
    access: 'agent',
    params: {},
    body: {
      commandId: 'no-such-command',
      type: 'promote',
      epoch: 1,
      outcome: 'ok',
      steps: [{ name: 'promote', exitCode: 0, durationMs: 5, outputTail: '' }],
    },
  },
  'portal GET': { access: 'public', params: { path: ['', 'index.html', 'app.js', 'no-such-file'] } },
};

/** The methods the app serves at a route's path (any other one is a wrong method there). */
export function methodsOf(
  routeAccess: Record<RouteName, Partial<Record<HttpMethod, RouteAccess>>>,
  name: string,
): string[] {
  return Object.keys(routeAccess[name as RouteName] ?? {});
}
