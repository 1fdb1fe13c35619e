import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_ACTIONS, DEMO_CONTROL_PATH, isDemoAction } from './demoControl';
import type { DemoFleet } from './demoFleet';

export const DEMO_USAGE = `devhost demo kill|pause|resume|partition|heal|restart <node> [--url URL] [--data-dir DIR | --key KEY]
       devhost demo list [--url URL] [--data-dir DIR | --key KEY]`;

const HELP = `Usage: ${DEMO_USAGE}

Makes a node of the running devhost's demo fleet fail (or recover), through POST ${DEMO_CONTROL_PATH}/nodes/{node}/{action}
with the master key of <data-dir>/keys.json.
  kill       SIGKILL the node's agent (a crash)          restart    start it again (it rejoins as a standby)
  pause      SIGSTOP it (a hung node)                     resume     SIGCONT
  partition  cut it off the network (it keeps running)    heal       reconnect it
  list       the demo nodes, their agents and the clusters' health
  --url       the devhost (default http://127.0.0.1:7071)
  --data-dir  where keys.json is (default ./.devhost)
  --key       the master key instead (a devhost with --storage memory keeps no keys.json)`;

/** `devhost demo <action> <node>`: resolves with the exit code (0 done, 1 refused or unreachable, 2 usage). */
export async function runDemoCli(
  argv: string[],
  io: { out: (line: string) => void; err: (line: string) => void } = {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  },
): Promise<number> {
  let values: {
    url?: string | undefined;
    'data-dir'?: string | undefined;
    key?: string | undefined;
    help?: boolean | undefined;
  };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        key: { type: 'string' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const [action, node] = positionals;
  const list = action === 'list' && positionals.length === 1;
  if (!list && (!action || !isDemoAction(action) || !node || positionals.length !== 2)) {
    io.err(`expected one of ${DEMO_ACTIONS.join(', ')} and a node, or list\n\n${HELP}`);
    return 2;
  }
  let masterKey = values.key;
  if (masterKey === undefined) {
    const keysFile = path.resolve(values['data-dir'] ?? '.devhost', 'keys.json');
    if (!existsSync(keysFile)) {
      io.err(`no ${keysFile}: is the devhost running from this directory (or pass --data-dir or --key)?`);
      return 2;
    }
    try {
      masterKey = (JSON.parse(readFileSync(keysFile, 'utf8')) as { masterKey: string }).masterKey;
    } catch {
      io.err(`${keysFile} is not a devhost keys file`);
      return 2;
    }
  }
  const base = (values.url ?? 'http://127.0.0.1:7071').replace(/\/+$/, '');
  const target = list
    ? `${base}${DEMO_CONTROL_PATH}`
    : `${base}${DEMO_CONTROL_PATH}/nodes/${encodeURIComponent(node as string)}/${action as string}`;
  let response: Response;
  try {
    response = await fetch(target, {
      method: list ? 'GET' : 'POST',
      headers: { 'x-functions-key': masterKey },
    });
  } catch (error) {
    io.err(`cannot reach the devhost at ${base}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (!response.ok) {
    const error = body?.error as { message?: string } | undefined;
    io.err(`${response.status}: ${error?.message ?? 'refused'}`);
    return 1;
  }
  if (list) {
    const nodes = (body?.nodes ?? []) as {
      clusterId: string;
      nodeId: string;
      state: string;
      pid: number | null;
    }[];
    for (const n of nodes)
      io.out(`${`${n.clusterId}/${n.nodeId}`.padEnd(24)} ${n.state.padEnd(12)} ${n.pid ?? '-'}`);
    const clusters = (body?.clusters ?? []) as {
      clusterId: string;
      healthy: boolean;
      activeNodeId: string | null;
      why?: string;
    }[];
    for (const c of clusters)
      io.out(
        `${c.clusterId.padEnd(24)} ${c.healthy ? 'healthy' : `not healthy: ${c.why ?? ''}`} (active ${c.activeNodeId ?? '-'})`,
      );
    return 0;
  }
  const result = body?.node as { clusterId: string; nodeId: string; state: string } | undefined;
  io.out(`${action as string}: ${result?.clusterId}/${result?.nodeId} is ${result?.state}`);
  return 0;
}

/** The start banner's lines about the demo fleet. */
export function demoBanner(fleet: DemoFleet, url: string): string[] {
  const nodes = (c: DemoFleet['clusters'][number]) =>
    c.nodes.map((n) => `${n.id}${n.role === 'active' ? '*' : ''}`).join(', ');
  return [
    `API: ${url}/api/v1  (e.g. GET ${url}/api/v1/clusters/bcm-head/status?format=text with the master key)`,
    `Demo fleet: ${fleet.clusters.length} clusters, ${fleet.agents.length} real agents (* declared active; npm start -- --no-demo: none)`,
    ...fleet.clusters.map((c) => `  ${c.id.padEnd(13)} ${nodes(c).padEnd(22)} ${c.description}`),
    `  agents' configurations, hook scripts and logs: ${fleet.dir} (hooks.log: every hook step)`,
    `  make a node fail: node bin/devhost.js demo kill|pause|partition <node>  (restart|resume|heal undo; list)`,
  ];
}
