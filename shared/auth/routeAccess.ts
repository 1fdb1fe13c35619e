import type { RouteName } from '../contracts/routes';
import type { Role } from './roles';

/**
 * Who may call a route with a method:
 * - a role (`viewer`, `operator`, `admin`): the app authorizes it (functions/common/authorize.ts) — a signed-in user
 *   with the role (App Service Authentication) or an `AUTH_KEYS` key with it. Such routes are `anonymous` at the
 *   Functions host, which would otherwise refuse a signed-in user who has no function key.
 * - `public`: anyone (health, the portal's static files).
 * - `agent`: a node agent's signed request (shared/auth/signedRequest.ts); users and keys get nothing more.
 * - `signed-webhook`: a Standard Webhooks signature (the failover webhook).
 * - `host-function-key`: a function key checked by the Functions host itself (Azure Monitor's webhook URL).
 * - `webhook-principal`: a principal authenticated by App Service Authentication (trusted only with
 *   `AUTH_TRUST_CLIENT_PRINCIPAL=true`) holding the app role `ActionGroupsSecureWebhook` — an Azure Monitor action
 *   group's Secure Webhook (shared/auth/webhookPrincipal.ts). `anonymous` at the host; keys get nothing.
 */
export type RouteAccess =
  Role | 'public' | 'agent' | 'signed-webhook' | 'host-function-key' | 'webhook-principal';

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH';

/**
 * THE place a route's access is declared: one line per route and method. A route added to `routes` without an
 * entry here fails the type check, and one registered with a method missing here fails the role matrix test
 * (test/functions/http/roleMatrix.test.ts), which also needs a request for it there.
 */
export const ROUTE_ACCESS = {
  health: { GET: 'public' },
  clusters: { GET: 'viewer' },
  cluster: { GET: 'viewer', PUT: 'admin', DELETE: 'admin' },
  clusterStatus: { GET: 'viewer' },
  nodeKey: { POST: 'admin' },
  witnessBreak: { POST: 'admin' },
  operations: { GET: 'viewer' },
  operation: { GET: 'viewer' },
  audit: { GET: 'viewer' },
  makeActive: { POST: 'operator' },
  failover: { POST: 'operator' },
  drills: { GET: 'viewer', POST: 'operator' },
  drill: { GET: 'viewer' },
  pool: { GET: 'viewer' },
  poolDemand: { PUT: 'operator' },
  poolPlan: { POST: 'operator' },
  poolSpillover: { POST: 'operator' },
  poolNodes: { GET: 'viewer' },
  poolNodeIdle: { PUT: 'operator' },
  webhookAzureMonitor: { POST: 'host-function-key' },
  webhookAzureMonitorSecure: { POST: 'webhook-principal' },
  webhookFailover: { POST: 'signed-webhook' },
  agentHeartbeat: { POST: 'agent' },
  agentArbitrate: { POST: 'agent' },
  agentArbitrationStatus: { GET: 'agent' },
  agentAck: { POST: 'agent' },
  portal: { GET: 'public' },
} as const satisfies Record<RouteName, Partial<Record<HttpMethod, RouteAccess>>>;

type AccessTable = typeof ROUTE_ACCESS;

/** The methods of `route` whose access is a role: what `authorizeRoute` accepts. */
export type RoleMethod<R extends RouteName> = {
  [M in keyof AccessTable[R]]: AccessTable[R][M] extends Role ? M : never;
}[keyof AccessTable[R]];

/** The role a role-guarded route and method need. */
export function requiredRole<R extends RouteName>(route: R, method: RoleMethod<R>): Role {
  const access = (ROUTE_ACCESS[route] as Partial<Record<HttpMethod, RouteAccess>>)[method as HttpMethod];
  if (access !== 'viewer' && access !== 'operator' && access !== 'admin')
    throw new Error(`${route} ${String(method)} is not authorized by role`);
  return access;
}
