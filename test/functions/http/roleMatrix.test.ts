import { randomBytes } from 'node:crypto';
import { generateKeys } from '../../../devhost/http/hostKeys';
import { encodeClientPrincipal } from '../../../shared/auth/clientPrincipal';
import { ROUTE_ACCESS, type HttpMethod, type RouteAccess } from '../../../shared/auth/routeAccess';
import { roleIncludes, type Role } from '../../../shared/auth/roles';
import { SECURE_WEBHOOK_ROLE } from '../../../shared/auth/webhookPrincipal';
import { paths, routes, type RouteName } from '../../../shared/contracts/routes';
import { startControlPlane, twoNodeCluster, type ControlPlane } from '../../helpers/controlPlane';

/**
 * The role matrix: every API route (from shared/contracts/routes.ts and what the app registers) called by each
 * identity — the three roles signed in through the devhost's emulated App Service Authentication, the three as
 * keys, no identity, and a forged principal header — expecting the route's answer, 401 or 403, and that a refused
 * request changed nothing.
 *
 * ADDING A ROUTE: declare its access in ROUTE_ACCESS (shared/auth/routeAccess.ts) and add a request for each of
 * its methods to CASES below (`access`: the role the issue gives it, which must match ROUTE_ACCESS; `allowed`: the
 * statuses an authorized caller gets). A registered route or method missing from either fails the first test.
 * Every allowed identity sends the request in turn against the one cluster `rm`: a request that would end or move
 * it (a delete, a confirmed make-active) must aim at something that does not exist (e.g. `paths.cluster('gone')`,
 * allowed [404]) or be refused by the route itself after authorization (allowed [409] or [422]).
 */

const CLUSTER = 'rm';
const SCALE_SET =
  '/subscriptions/00000000-0000-0000-0000-00000000f00d/resourceGroups/hpc-demo/providers/Microsoft.Compute/virtualMachineScaleSets';
const DOCUMENT = {
  ...twoNodeCluster(CLUSTER),
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

interface Case {
  /** Who may call it, as the issue specifies (checked against ROUTE_ACCESS, which the app enforces). */
  access: RouteAccess;
  path: string;
  body?: unknown;
  /** What a caller allowed through gets (the route's own answer: a success, or a refusal of the request). */
  allowed: number[];
}

const CASES: Record<string, Case> = {
  'health GET': {
    access: 'public',
    path: paths.health(),
    allowed: [200],
  },
  'clusters GET': {
    access: 'viewer',
    path: paths.clusters(),
    allowed: [200],
  },
  'cluster GET': {
    access: 'viewer',
    path: paths.cluster(CLUSTER),
    allowed: [200],
  },
  'cluster PUT': {
    access: 'admin',
    path: paths.cluster(CLUSTER),
    body: DOCUMENT,
    allowed: [200],
  },
  'cluster DELETE': {
    access: 'admin',
    path: paths.cluster('gone'), // a cluster that does not exist: allowed callers get its 404, nothing is deleted
    body: { confirm: true },
    allowed: [404],
  },
  'clusterStatus GET': {
    access: 'viewer',
    path: paths.clusterStatus(CLUSTER),
    allowed: [200],
  },
  'nodeKey POST': {
    access: 'admin',
    path: `${paths.nodeKey(CLUSTER, 'head-a')}?rotate=true`,
    allowed: [201],
  },
  'witnessBreak POST': {
    access: 'admin',
    path: `${paths.witnessBreak(CLUSTER)}?reason=matrix`,
    allowed: [202],
  },
  'operations GET': {
    access: 'viewer',
    path: paths.operations(CLUSTER),
    allowed: [200],
  },
  'operation GET': {
    access: 'viewer',
    path: paths.operation(CLUSTER, 'no-such-operation'),
    allowed: [404],
  },
  'audit GET': {
    access: 'viewer',
    path: paths.audit(CLUSTER),
    allowed: [200],
  },
  'makeActive POST': {
    access: 'operator',
    path: paths.makeActive(CLUSTER),
    body: { nodeId: 'head-b' },
    allowed: [200],
  },
  'failover POST': {
    access: 'operator',
    path: paths.failover(CLUSTER),
    body: { reason: 'matrix', targetNodeId: 'not-a-node' },
    allowed: [422],
  },
  'drills GET': {
    access: 'viewer',
    path: paths.drills(CLUSTER),
    allowed: [200],
  },
  'drills POST': {
    access: 'operator',
    path: paths.drills(CLUSTER),
    body: { mode: 'failover', confirm: true },
    allowed: [422],
  },
  'drill GET': {
    access: 'viewer',
    path: paths.drill(CLUSTER, 'no-such-drill'),
    allowed: [404],
  },
  'pool GET': {
    access: 'viewer',
    path: paths.pool(CLUSTER, 'gpu'),
    allowed: [200],
  },
  'poolDemand PUT': {
    access: 'operator',
    path: paths.poolDemand(CLUSTER, 'gpu'),
    body: { desired: 2 },
    allowed: [202],
  },
  'poolSpillover POST': {
    access: 'operator',
    path: paths.poolSpillover(CLUSTER, 'gpu'),
    body: {},
    allowed: [202],
  },
  'poolNodes GET': {
    access: 'viewer',
    path: paths.poolNodes(CLUSTER, 'gpu'),
    allowed: [200],
  },
  'poolNodeIdle PUT': {
    access: 'operator',
    path: paths.poolNodeIdle(CLUSTER, 'gpu', 'we-00000000'),
    body: { idle: true },
    allowed: [404],
  },
  'poolPlan POST': {
    access: 'operator',
    path: paths.poolPlan(CLUSTER, 'gpu'),
    body: {},
    allowed: [200],
  },
  'webhookAzureMonitor POST': {
    access: 'host-function-key',
    path: paths.webhookAzureMonitor(),
    body: {},
    allowed: [400, 422],
  },
  'webhookAzureMonitorSecure POST': {
    access: 'webhook-principal',
    path: paths.webhookAzureMonitorSecure(),
    body: {},
    allowed: [400, 422],
  },
  'webhookFailover POST': {
    access: 'signed-webhook',
    path: paths.webhookFailover(),
    body: {},
    allowed: [],
  },
  'agentHeartbeat POST': {
    access: 'agent',
    path: paths.agentHeartbeat(),
    body: {},
    allowed: [],
  },
  'agentArbitrate POST': {
    access: 'agent',
    path: paths.agentArbitrate(),
    body: {},
    allowed: [],
  },
  'agentArbitrationStatus GET': {
    access: 'agent',
    path: paths.agentArbitrationStatus(CLUSTER, 1),
    allowed: [],
  },
  'agentAck POST': {
    access: 'agent',
    path: paths.agentAck(),
    body: {},
    allowed: [],
  },
  'portal GET': {
    access: 'public',
    path: `${paths.portal()}/`,
    allowed: [200],
  },
};

type Identity =
  | { name: string; kind: 'user'; role: Role; forgedToo?: boolean }
  | { name: string; kind: 'key'; role: Role; hostFunctionKey: boolean }
  | { name: string; kind: 'none' }
  | { name: string; kind: 'forged' }
  /** An application's bearer token (the action groups' Secure Webhook caller), made a principal by the platform. */
  | { name: string; kind: 'webhook' };

const USERS: Record<Role, string> = {
  viewer: 'viewer@example.test',
  operator: 'operator@example.test',
  admin: 'admin@example.test',
};

const forgedAdmin = encodeClientPrincipal({
  name: 'mallory@example.test',
  objectId: 'forged',
  roles: ['admin'],
});

/** The role a 403 names for an access kind (the app role of the Secure Webhook, else the control-plane role). */
const roleNamed = (access: RouteAccess): string =>
  access === 'webhook-principal' ? SECURE_WEBHOOK_ROLE : access;

/** Whether the expected statuses are a refusal (401 or 403). */
const refusal = (statuses: number[]): boolean => statuses.every((s) => s === 401 || s === 403);

/** What `identity` must get from `route method`: the allowed statuses, or 401/403. */
function expected(access: RouteAccess, identity: Identity, allowed: number[]): number[] {
  switch (access) {
    case 'public':
      return allowed;
    case 'agent':
    case 'signed-webhook':
      return [401];
    case 'host-function-key':
      return identity.kind === 'key' && identity.hostFunctionKey ? allowed : [401];
    case 'webhook-principal':
      // Only a platform principal counts: one with the role gets through, any other is refused for lacking it.
      if (identity.kind === 'webhook') return allowed;
      return identity.kind === 'user' ? [403] : [401];
    default:
      if (identity.kind === 'none' || identity.kind === 'forged') return [401];
      if (identity.kind === 'webhook') return [403]; // authenticated, but no control-plane role
      return roleIncludes(identity.role, access) ? allowed : [403];
  }
}

async function send(
  cp: ControlPlane,
  { path, body }: Case,
  method: string,
  headers: Record<string, string>,
): Promise<{ status: number; json: any }> {
  const response = await fetch(`${cp.host.url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    redirect: 'manual',
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: response.status, json };
}

/** Signs in through the emulated platform; the session cookie. */
async function signIn(cp: ControlPlane, user: string): Promise<string> {
  const response = await fetch(`${cp.host.url}/.auth/login/aad`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ user, post_login_redirect_uri: '/' }).toString(),
    redirect: 'manual',
  });
  expect(response.status).toBe(302);
  const cookie = response.headers.get('set-cookie') ?? '';
  expect(cookie).toMatch(/^AppServiceAuthSession=/);
  return cookie.split(';')[0] as string;
}

/** A bearer token for the action groups' application from the emulated tenant (`POST /.auth/devhost/token`). */
async function actionGroupToken(cp: ControlPlane): Promise<string> {
  const response = await fetch(`${cp.host.url}/.auth/devhost/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: 'azns-aad-webhook' }).toString(),
  });
  expect(response.status).toBe(200);
  const token = ((await response.json()) as { access_token: string }).access_token;
  expect(token).toEqual(expect.any(String));
  return token;
}

/** Everything a refused request could have changed, read with the master key. */
async function snapshot(cp: ControlPlane): Promise<unknown> {
  const read = async (path: string) =>
    (await send(cp, { access: 'public', path, allowed: [] }, 'GET', { 'x-functions-key': cp.adminKey })).json;
  const cluster = await read(paths.cluster(CLUSTER));
  const pool = await read(paths.pool(CLUSTER, 'gpu'));
  return {
    document: cluster.cluster,
    epoch: cluster.status?.epoch,
    clusters: await read(paths.clusters()),
    audit: await read(`${paths.audit(CLUSTER)}?limit=100`),
    operations: await read(paths.operations(CLUSTER)),
    drills: await read(paths.drills(CLUSTER)),
    demand: [pool.pool?.demand, pool.pool?.demandSource, pool.pool?.demandSetBy],
  };
}

/** Every (route, method) the app registers, by route name. */
function registeredRoutes(
  cp: ControlPlane,
): { name: RouteName | undefined; template: string; method: string; authLevel: string }[] {
  const byTemplate = new Map<string, RouteName>(
    Object.entries(routes).map(([name, template]) => [template, name as RouteName]),
  );
  return [...cp.host.app.functions.values()]
    .filter((fn) => fn.trigger.type.toLowerCase() === 'httptrigger')
    .flatMap((fn) =>
      (fn.trigger.methods as string[]).map((method) => ({
        name: byTemplate.get(fn.trigger.route as string),
        template: fn.trigger.route as string,
        method: method.toUpperCase(),
        authLevel: String(fn.trigger.authLevel),
      })),
    );
}

const accessOf = (name: RouteName, method: string): RouteAccess | undefined =>
  (ROUTE_ACCESS[name] as Partial<Record<HttpMethod, RouteAccess>>)[method as HttpMethod];

describe('behind App Service Authentication (AUTH_TRUST_CLIENT_PRINCIPAL=true)', () => {
  let cp: ControlPlane;
  let identities: { identity: Identity; headers: Record<string, string> }[];

  beforeAll(async () => {
    const keys = generateKeys();
    keys.functionKeys['operator-ci'] = randomBytes(32).toString('base64url');
    cp = await startControlPlane(
      {
        AUTH_TRUST_CLIENT_PRINCIPAL: 'true',
        FAILOVER_WEBHOOK_SECRETS: `whsec_${randomBytes(32).toString('base64')}`,
      },
      { cloudSimulator: true, keys },
    );
    const declared = await send(
      cp,
      { access: 'admin', path: paths.cluster(CLUSTER), body: DOCUMENT, allowed: [] },
      'PUT',
      {
        'x-functions-key': cp.adminKey,
      },
    );
    expect(declared.status).toBe(201);
    const cookies = {
      viewer: await signIn(cp, USERS.viewer),
      operator: await signIn(cp, USERS.operator),
      admin: await signIn(cp, USERS.admin),
    };
    identities = [
      ...(['viewer', 'operator', 'admin'] as const).map((role) => ({
        identity: { name: `signed-in ${role}`, kind: 'user' as const, role },
        headers: { cookie: cookies[role] },
      })),
      {
        identity: { name: 'signed-in viewer with a forged admin header', kind: 'user', role: 'viewer' },
        headers: { cookie: cookies.viewer, 'x-ms-client-principal': forgedAdmin },
      },
      {
        identity: { name: 'master key', kind: 'key', role: 'admin', hostFunctionKey: true },
        headers: { 'x-functions-key': cp.adminKey },
      },
      {
        identity: { name: 'operator-ci function key', kind: 'key', role: 'operator', hostFunctionKey: true },
        headers: { 'x-functions-key': keys.functionKeys['operator-ci'] },
      },
      {
        identity: { name: 'default function key', kind: 'key', role: 'viewer', hostFunctionKey: true },
        headers: { 'x-functions-key': cp.functionKey },
      },
      { identity: { name: 'no identity', kind: 'none' }, headers: {} },
      {
        identity: { name: 'forged admin header (stripped by the front end)', kind: 'forged' },
        headers: { 'x-ms-client-principal': forgedAdmin },
      },
      {
        identity: { name: 'action group Secure Webhook token', kind: 'webhook' },
        headers: { authorization: `Bearer ${await actionGroupToken(cp)}` },
      },
    ];
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('has an access entry and a matrix request for every registered route and method, and nothing else', () => {
    const registered = registeredRoutes(cp);
    const problems: string[] = [];
    for (const r of registered) {
      if (!r.name) problems.push(`${r.method} ${r.template} is not in shared/contracts/routes.ts`);
      else if (!accessOf(r.name, r.method)) problems.push(`${r.name} ${r.method} has no ROUTE_ACCESS entry`);
      else if (!CASES[`${r.name} ${r.method}`])
        problems.push(`${r.name} ${r.method} has no case in the matrix`);
      else {
        const access = accessOf(r.name, r.method);
        const specified = CASES[`${r.name} ${r.method}`]?.access;
        if (access !== specified)
          problems.push(
            `${r.name} ${r.method} is ${String(access)} in ROUTE_ACCESS; the matrix says ${String(specified)}`,
          );
        const hostLevel = access === 'host-function-key' ? 'function' : 'anonymous';
        if (r.authLevel !== hostLevel)
          problems.push(
            `${r.name} ${r.method} is registered with authLevel ${r.authLevel}, not ${hostLevel}`,
          );
      }
    }
    for (const [name, methods] of Object.entries(ROUTE_ACCESS))
      for (const method of Object.keys(methods))
        if (!registered.some((r) => r.name === name && r.method === method))
          problems.push(`ROUTE_ACCESS has ${name} ${method}, which the app does not register`);
    for (const key of Object.keys(CASES)) {
      const [name, method] = key.split(' ') as [RouteName, string];
      if (!registered.some((r) => r.name === name && r.method === method))
        problems.push(`the matrix has ${key}, which the app does not register`);
    }
    expect(problems).toEqual([]);
  });

  it('refuses every identity without the role (401/403 naming the role) and changes nothing', async () => {
    const before = await snapshot(cp);
    const wrong: string[] = [];
    let refused = 0;
    for (const { name, method } of registeredRoutes(cp)) {
      const test = CASES[`${name} ${method}`] as Case;
      const access = test.access;
      for (const { identity, headers } of identities) {
        const want = expected(access, identity, test.allowed);
        if (!refusal(want)) continue;
        refused++;
        const got = await send(cp, test, method, headers);
        if (!want.includes(got.status))
          wrong.push(`${name} ${method} as ${identity.name}: ${got.status}, not ${want.join('/')}`);
        else if (got.status === 403 && got.json?.error?.requiredRole !== roleNamed(access))
          wrong.push(`${name} ${method} as ${identity.name}: the 403 does not name ${access}`);
        else if (typeof got.json?.error?.code !== 'string')
          wrong.push(`${name} ${method} as ${identity.name}: no JSON error`);
      }
    }
    expect(wrong).toEqual([]);
    expect(refused).toBeGreaterThan(50);
    expect(await snapshot(cp)).toEqual(before);
  });

  it("lets every identity with the role through to the route's own answer, and audits who acted", async () => {
    const wrong: string[] = [];
    for (const { name, method } of registeredRoutes(cp)) {
      const test = CASES[`${name} ${method}`] as Case;
      const access = test.access;
      for (const { identity, headers } of identities) {
        const want = expected(access, identity, test.allowed);
        if (refusal(want)) continue;
        const got = await send(cp, test, method, headers);
        if (!want.includes(got.status))
          wrong.push(
            `${name} ${method} as ${identity.name}: ${got.status} ${JSON.stringify(got.json)}, not ${want.join('/')}`,
          );
      }
    }
    expect(wrong).toEqual([]);
    const audit = (
      await send(cp, { access: 'viewer', path: `${paths.audit(CLUSTER)}?limit=100`, allowed: [] }, 'GET', {
        'x-functions-key': cp.adminKey,
      })
    ).json.entries as { action: string; actor: string }[];
    const actors = (action: string) =>
      [...new Set(audit.filter((e) => e.action === action).map((e) => e.actor))].sort();
    const operatorOid = cp.host.signIn?.users.find((u) => u.name === USERS.operator)?.objectId;
    const adminOid = cp.host.signIn?.users.find((u) => u.name === USERS.admin)?.objectId;
    expect(actors('node-key-rotated')).toEqual([`key:master`, `user:${USERS.admin} (${adminOid})`]);
    expect(actors('witness-lease-broken')).toEqual([`key:master`, `user:${USERS.admin} (${adminOid})`]);
    expect(actors('cluster-updated')).toEqual([]); // the same document: nothing changed, nothing audited
    const demand = audit.filter((e) => e.action.startsWith('pool-demand')).map((e) => e.actor);
    expect(new Set(demand)).toEqual(
      new Set([
        `user:${USERS.operator} (${operatorOid})`,
        `user:${USERS.admin} (${adminOid})`,
        'key:master',
        'key:operator-ci',
      ]),
    );
  });
  it('takes a key in the code query parameter as well, on every role route', async () => {
    const wrong: string[] = [];
    for (const { name, method } of registeredRoutes(cp)) {
      const test = CASES[`${name} ${method}`] as Case;
      if (test.access !== 'viewer' && test.access !== 'operator' && test.access !== 'admin') continue;
      if (method !== 'GET') continue; // reads only: they change nothing and answer the same way each time
      const separator = test.path.includes('?') ? '&' : '?';
      const viaQuery = await send(
        cp,
        { ...test, path: `${test.path}${separator}code=${encodeURIComponent(cp.functionKey)}` },
        method,
        {},
      );
      if (!test.allowed.includes(viaQuery.status))
        wrong.push(`${name} ${method}?code=: ${viaQuery.status} ${JSON.stringify(viaQuery.json)}`);
      const wrongKey = await send(
        cp,
        { ...test, path: `${test.path}${separator}code=not-a-key` },
        method,
        {},
      );
      if (wrongKey.status !== 401 || wrongKey.json?.error?.code !== 'InvalidKey')
        wrong.push(`${name} ${method}?code=not-a-key: ${wrongKey.status}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('not behind App Service Authentication (AUTH_TRUST_CLIENT_PRINCIPAL unset)', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane({ AUTH_TRUST_CLIENT_PRINCIPAL: 'false' });
    const declared = await send(
      cp,
      { access: 'admin', path: paths.cluster(CLUSTER), body: twoNodeCluster(CLUSTER), allowed: [] },
      'PUT',
      {
        'x-functions-key': cp.adminKey,
      },
    );
    expect(declared.status).toBe(201);
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('ignores a forged principal header on every role route (401) and changes nothing; no sign-in page', async () => {
    const before = await snapshot(cp);
    const wrong: string[] = [];
    for (const { name, method } of registeredRoutes(cp)) {
      const test = CASES[`${name} ${method}`] as Case;
      if (test.access !== 'viewer' && test.access !== 'operator' && test.access !== 'admin') continue;
      const got = await send(cp, test, method, {
        'x-ms-client-principal': forgedAdmin,
      });
      if (got.status !== 401 || got.json?.error?.code !== 'Unauthenticated')
        wrong.push(`${name} ${method}: ${got.status} ${JSON.stringify(got.json)}`);
    }
    expect(wrong).toEqual([]);
    expect(await snapshot(cp)).toEqual(before);
    // The secure webhook takes only a principal the platform vouches for: a forged one, even with the role, is 401.
    const forgedWebhook = encodeClientPrincipal({
      name: 'mallory',
      objectId: 'forged',
      roles: [SECURE_WEBHOOK_ROLE],
    });
    const secure = await send(cp, CASES['webhookAzureMonitorSecure POST'] as Case, 'POST', {
      'x-ms-client-principal': forgedWebhook,
    });
    expect(secure).toMatchObject({
      status: 401,
      json: {
        error: {
          code: 'ClientPrincipalNotTrusted',
          message: expect.stringContaining('AUTH_TRUST_CLIENT_PRINCIPAL'),
        },
      },
    });
    expect((await fetch(`${cp.host.url}/.auth/login`)).status).toBe(404);
    expect(cp.host.signIn).toBeUndefined();
  });
});
