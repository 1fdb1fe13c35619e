import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAuthorized, type HostKeys } from '../http/hostKeys';
import { json, jsonError, send, type WireReply } from '../http/wire';
import { DemoAgentNotRunningError, type DemoAgent } from './demoAgent';
import type { DemoFleet } from './demoFleet';

/**
 * Making a demo node fail, for `failoverctl demo …` and `devhost demo …`:
 *
 * - `kill`: a crash (SIGKILL; no demote, no fence). `restart` starts its agent again (it rejoins as a standby).
 * - `pause`: a hung node (SIGSTOP: no heartbeat, no self-fence). `resume` sends SIGCONT.
 * - `partition`: a network cut; the agent keeps running (its lease lapses, it fences itself) but reaches nothing.
 *   `heal` reconnects it.
 *
 * Served by the devhost under `/admin/devhost/demo` (master key, loopback like the whole devhost):
 * `GET /admin/devhost/demo` lists the nodes and the clusters' health; `POST /admin/devhost/demo/nodes/{node}/{action}`
 * acts (`{node}`: `master1` or `bcm-head/master1` URL-encoded).
 */
export const DEMO_ACTIONS = ['kill', 'pause', 'resume', 'partition', 'heal', 'restart'] as const;
export type DemoAction = (typeof DEMO_ACTIONS)[number];

export const DEMO_CONTROL_PATH = '/admin/devhost/demo';

export const isDemoAction = (value: string): value is DemoAction =>
  (DEMO_ACTIONS as readonly string[]).includes(value);

export class DemoNodeNotFoundError extends Error {
  override readonly name = 'DemoNodeNotFoundError';
}

/** What a node looks like after an action, and in the listing. */
export interface DemoNodeView {
  clusterId: string;
  nodeId: string;
  state: DemoAgent['state'];
  pid: number | null;
}

const view = (agent: DemoAgent): DemoNodeView => ({
  clusterId: agent.clusterId,
  nodeId: agent.nodeId,
  state: agent.state,
  pid: agent.pid ?? null,
});

/** Applies `action` to the agent of `node` (`master1` or `bcm-head/master1`). */
export async function applyDemoAction(
  fleet: DemoFleet,
  node: string,
  action: DemoAction,
): Promise<DemoNodeView> {
  const agent = fleet.find(node);
  if (!agent)
    throw new DemoNodeNotFoundError(
      `no demo node "${node}"; the demo nodes: ${fleet.agents.map((a) => a.nodeId).join(', ')}`,
    );
  switch (action) {
    case 'kill':
      await agent.kill();
      break;
    case 'pause':
      agent.pause();
      break;
    case 'resume':
      agent.resume();
      break;
    case 'partition':
      agent.partition();
      break;
    case 'heal':
      agent.heal();
      break;
    case 'restart':
      await agent.restart();
      break;
  }
  return view(agent);
}

/** Whether a request is for the demo control (the devhost routes it here before the Functions app). */
export const isDemoControlRequest = (req: IncomingMessage): boolean =>
  (req.url ?? '').split('?')[0]?.replace(/\/+$/, '').startsWith(DEMO_CONTROL_PATH) ?? false;

/** Serves `/admin/devhost/demo[...]`: master key only; without a demo fleet, 404. */
export async function handleDemoControl(
  fleet: DemoFleet | undefined,
  keys: HostKeys,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  req.resume(); // no body is read
  send(res, await demoControlReply(fleet, keys, req));
}

async function demoControlReply(
  fleet: DemoFleet | undefined,
  keys: HostKeys,
  req: IncomingMessage,
): Promise<WireReply> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const header = req.headers['x-functions-key'];
  const presented = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('code') ?? undefined;
  if (!isAuthorized(keys, 'admin', presented))
    return jsonError(401, 'Unauthorized', 'the demo control needs the master key (x-functions-key)');
  if (!fleet)
    return jsonError(
      404,
      'DemoNotRunning',
      'the demo fleet is not running (start the devhost with --demo, as npm start does)',
    );
  const rest = url.pathname.slice(DEMO_CONTROL_PATH.length).replace(/\/+$/, '');
  const method = (req.method ?? 'GET').toUpperCase();
  if (rest === '') {
    if (method !== 'GET') return jsonError(405, 'MethodNotAllowed', 'GET only', {});
    return json(200, { nodes: fleet.agents.map(view), clusters: await fleet.health() });
  }
  const match = /^\/nodes\/([^/]+)\/([^/]+)$/.exec(rest);
  if (!match) return jsonError(404, 'NotFound', `no demo control route ${url.pathname}`);
  if (method !== 'POST') return jsonError(405, 'MethodNotAllowed', 'POST only');
  const node = decodeURIComponent(match[1] as string);
  const action = match[2] as string;
  if (!isDemoAction(action))
    return jsonError(400, 'UnknownDemoAction', `"${action}" is not one of ${DEMO_ACTIONS.join(', ')}`);
  try {
    return json(200, { action, node: await applyDemoAction(fleet, node, action) });
  } catch (error) {
    if (error instanceof DemoNodeNotFoundError) return jsonError(404, 'DemoNodeNotFound', error.message);
    if (error instanceof DemoAgentNotRunningError)
      return jsonError(409, 'DemoAgentNotRunning', error.message);
    throw error;
  }
}
