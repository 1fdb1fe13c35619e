import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { ManualClock } from '../../devhost';
import { generateKeys } from '../../devhost/http/hostKeys';
import { signRequest } from '../../shared/auth/signedRequest';
import { signStandardWebhook } from '../../shared/auth/standardWebhooks';
import { paths } from '../../shared/contracts/routes';
import { startControlPlane, type ControlPlane } from '../helpers/controlPlane';
import { FUZZ_CLUSTER, FUZZ_DOCUMENT, FUZZ_NODES, type FuzzRequest } from './fuzzRoutes';

/** What came back: status, headers that matter, the body's text. */
export interface FuzzResponse {
  status: number;
  contentType: string;
  retryAfter: string | null;
  text: string;
}

/** The credentials the fuzzer holds: a key per role, agent keys per node, the webhook secret. */
export interface FuzzCredentials {
  keys: { viewer: string; operator: string; admin: string };
  /** A host function key (Azure Monitor's webhook URL carries one). */
  functionKey: string;
  agentKeys: Record<string, Buffer>;
  webhookSecret: string;
  /** A bearer token of the action groups' application (the secure Azure Monitor webhook's caller). */
  actionGroupsToken: string;
}

export interface FuzzTarget {
  cp: ControlPlane;
  url: string;
  clock: ManualClock;
  credentials: FuzzCredentials;
  /** Sends one generated request (signing it at send time when it asks to be signed). */
  send(request: FuzzRequest): Promise<FuzzResponse>;
  stop(): Promise<void>;
}

/** The next sequence number of each node: signed requests must go up. */
const nextSeq = new Map<string, number>();
let webhookCounter = 0;

/**
 * Starts the control plane for fuzzing: one in-process devhost on in-memory Azurite with a MANUAL clock (so no timer
 * trigger fires and no durable timer elapses between two snapshots: the state moves only when a request moves it),
 * a key per role, the failover webhook turned on, the fuzz cluster declared and its agents enrolled.
 */
export async function startFuzzTarget(): Promise<FuzzTarget> {
  const clock = new ManualClock(Date.now());
  const keys = generateKeys();
  keys.functionKeys['operator-fuzz'] = randomBytes(32).toString('base64url');
  const webhookSecret = `whsec_${randomBytes(32).toString('base64')}`;
  const cp = await startControlPlane(
    { FAILOVER_WEBHOOK_SECRETS: webhookSecret, AUTH_TRUST_CLIENT_PRINCIPAL: 'true' },
    { clock, keys, cloudSimulator: true },
  );
  const url = cp.host.url;
  const admin = keys.masterKey;
  const declared = await fetch(`${url}${paths.cluster(FUZZ_CLUSTER)}`, {
    method: 'PUT',
    headers: { 'x-functions-key': admin, 'content-type': 'application/json' },
    body: JSON.stringify(FUZZ_DOCUMENT),
  });
  if (declared.status !== 201) throw new Error(`declaring the fuzz cluster: ${declared.status}`);
  const agentKeys: Record<string, Buffer> = {};
  for (const node of FUZZ_NODES) {
    const issued = await fetch(`${url}${paths.nodeKey(FUZZ_CLUSTER, node)}`, {
      method: 'POST',
      headers: { 'x-functions-key': admin },
    });
    if (issued.status !== 201) throw new Error(`issuing the key of ${node}: ${issued.status}`);
    agentKeys[node] = Buffer.from(((await issued.json()) as { key: string }).key, 'base64');
  }
  const tokenResponse = await fetch(`${url}/.auth/devhost/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: 'azns-aad-webhook' }).toString(),
  });
  const { access_token: actionGroupsToken } = (await tokenResponse.json()) as { access_token?: string };
  if (!actionGroupsToken) throw new Error(`the action groups' token: ${tokenResponse.status}`);
  const credentials: FuzzCredentials = {
    actionGroupsToken,
    keys: {
      viewer: keys.functionKeys.default as string,
      operator: keys.functionKeys['operator-fuzz'],
      admin,
    },
    functionKey: keys.functionKeys.default as string,
    agentKeys,
    webhookSecret,
  };

  async function send(request: FuzzRequest): Promise<FuzzResponse> {
    const target = new URL(`${url}${request.path}`);
    const headers: Record<string, string> = {};
    if (request.contentType !== undefined) headers['content-type'] = request.contentType;
    const key = keyOf(request.auth, credentials);
    if (key !== undefined) headers['x-functions-key'] = key;
    if (request.auth.kind === 'principal') headers['x-ms-client-principal'] = request.auth.header;
    if (request.auth.kind === 'bearer')
      headers.authorization = `Bearer ${
        request.auth.token === 'action-groups' ? credentials.actionGroupsToken : 'fuzz-not-a-token'
      }`;
    const body = request.body;
    if (request.auth.kind === 'agent' && request.auth.signed) {
      const node = request.auth.nodeId;
      const seq = (nextSeq.get(node) ?? 0) + 1;
      nextSeq.set(node, seq);
      Object.assign(
        headers,
        signRequest({
          method: request.method,
          path: target.pathname,
          body: body ?? '',
          clusterId: request.auth.clusterId,
          nodeId: node,
          keyVersion: 1,
          timestamp: clock.now() + (request.auth.skewMs ?? 0),
          seq: request.auth.replay ? 1 : seq,
          key: credentials.agentKeys[node] ?? randomBytes(32),
        }),
      );
    }
    if (request.auth.kind === 'webhook' && request.auth.signed) {
      webhookCounter++;
      const id = request.auth.replayId ? 'msg_fuzz_1' : `msg_fuzz_${webhookCounter}`;
      const seconds = Math.floor((clock.now() + (request.auth.skewMs ?? 0)) / 1000);
      headers['webhook-id'] = id;
      headers['webhook-timestamp'] = String(seconds);
      headers['webhook-signature'] = signStandardWebhook(webhookSecret, id, seconds, body ?? '');
    }
    Object.assign(headers, request.headers);
    const sentBody = body !== undefined && request.method !== 'GET' ? body : undefined;
    // fetch (like every WHATWG URL user) resolves `.` and `..` segments, `%2e` ones too, before sending: a path with
    // one goes out as it is through node:http, as a hand-made client or a proxy would send it.
    if (DOT_SEGMENT.test(request.path.split('?')[0] as string))
      return rawSend(target.host, request.method, request.path, headers, sentBody);
    const response = await fetch(target, {
      method: request.method,
      headers,
      ...(sentBody !== undefined ? { body: sentBody } : {}),
      redirect: 'manual',
    });
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      retryAfter: response.headers.get('retry-after'),
      text: await response.text(),
    };
  }

  // Each agent heartbeats once, as a real one does when it starts: its heartbeat row exists from then on (a signed
  // request refused later only moves the row's sequence number, which the state comparison leaves out).
  for (const node of FUZZ_NODES) {
    const first = await send({
      route: 'agentHeartbeat POST',
      method: 'POST',
      path: paths.agentHeartbeat(),
      headers: {},
      contentType: 'application/json',
      body: JSON.stringify({ role: node === 'head-a' ? 'active' : 'standby', epoch: 1, checks: [] }),
      auth: { kind: 'agent', signed: true, clusterId: FUZZ_CLUSTER, nodeId: node },
    });
    if (first.status !== 200)
      throw new Error(`the first heartbeat of ${node}: ${first.status} ${first.text}`);
  }
  return { cp, url, clock, credentials, send, stop: () => cp.stop() };
}

const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i;

/** One request with its path exactly as given (no dot-segment resolution). */
function rawSend(
  host: string,
  method: string,
  rawPath: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<FuzzResponse> {
  const [hostname, port] = host.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        hostname,
        port: Number(port),
        method,
        path: rawPath,
        headers: { ...headers, ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            retryAfter: res.headers['retry-after'] ?? null,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function keyOf(auth: FuzzRequest['auth'], credentials: FuzzCredentials): string | undefined {
  switch (auth.kind) {
    case 'role':
      return credentials.keys[auth.role];
    case 'functionKey':
      return credentials.functionKey;
    case 'badKey':
      return 'not-a-key-of-this-control-plane';
    default:
      return undefined;
  }
}
