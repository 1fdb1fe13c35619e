import { z } from 'zod';
import { idArg, printJson } from '../args';
import { JSON_OPTION, type Command } from '../command';
import { UnavailableError, UsageError } from '../errors';
import { safe, table } from '../render/text';

/**
 * The devhost's demo-fleet control (devhost/demo/demoControl.ts `DEMO_CONTROL_PATH`; the CLI ships without the
 * devhost, so the path is repeated here and a test holds the two equal). Only a devhost started with its demo fleet
 * (`npm start`) answers it, with the master key.
 */
export const DEMO_CONTROL_PATH = '/admin/devhost/demo';

const ACTIONS = {
  kill: 'SIGKILL the node’s agent (a crash); undo with restart',
  pause: 'SIGSTOP the node’s agent (a hung node); undo with resume',
  partition: 'cut the node off the network (it keeps running and fences itself); undo with heal',
  restart: 'start a killed node’s agent again (it rejoins as a standby)',
  resume: 'SIGCONT a paused node',
  heal: 'reconnect a partitioned node',
} as const;

const nodeAnswerSchema = z.object({
  node: z.object({ clusterId: z.string(), nodeId: z.string(), state: z.string() }).passthrough(),
});
const listSchema = z.object({
  nodes: z.array(
    z
      .object({ clusterId: z.string(), nodeId: z.string(), state: z.string(), pid: z.number().nullable() })
      .passthrough(),
  ),
  clusters: z.array(
    z
      .object({
        clusterId: z.string(),
        healthy: z.boolean(),
        activeNodeId: z.string().nullable(),
        why: z.string().optional(),
      })
      .passthrough(),
  ),
});

const actionCommand = (action: keyof typeof ACTIONS): Command => ({
  name: `demo ${action}`,
  args: '<node>',
  summary: `demo fleet (npm start): ${ACTIONS[action]}`,
  details: ['<node> is a demo node id (master1) or cluster/node (bcm-head/master1). Needs the master key.'],
  options: { json: JSON_OPTION },
  minArgs: 1,
  maxArgs: 1,
  json: true,
  async run({ io, args, json, api }) {
    const raw = args[0] ?? '';
    const parts = raw.split('/');
    if (parts.length > 2) throw new UsageError(`node must be <node> or <cluster>/<node>, got ${safe(raw)}`);
    parts.forEach((p, i) => idArg(parts, i, i === 0 && parts.length === 2 ? 'cluster' : 'node'));
    const answer = await api().call(`${DEMO_CONTROL_PATH}/nodes/${encodeURIComponent(raw)}/${action}`, {
      method: 'POST',
    });
    if (json) {
      printJson(io.out, answer);
      return 0;
    }
    const parsed = nodeAnswerSchema.safeParse(answer);
    if (!parsed.success) throw new UnavailableError('the devhost answered a demo node the CLI cannot read');
    const { clusterId, nodeId, state } = parsed.data.node;
    io.out(`${action}: ${safe(clusterId)}/${safe(nodeId)} is ${safe(state)}\n`);
    return 0;
  },
});

/** `failoverctl demo list`: the demo nodes, their agents and each demo cluster's health. */
export const demoListCommand: Command = {
  name: 'demo list',
  args: '',
  summary: 'demo fleet (npm start): the nodes, their agents and each cluster’s health',
  options: { json: JSON_OPTION },
  minArgs: 0,
  maxArgs: 0,
  json: true,
  async run({ io, json, api }) {
    const answer = await api().call(DEMO_CONTROL_PATH);
    if (json) {
      printJson(io.out, answer);
      return 0;
    }
    const parsed = listSchema.safeParse(answer);
    if (!parsed.success) throw new UnavailableError('the devhost answered a demo fleet the CLI cannot read');
    const lines = [
      ...table(
        ['NODE', 'AGENT', 'PID'],
        parsed.data.nodes.map((n) => [
          `${safe(n.clusterId)}/${safe(n.nodeId)}`,
          safe(n.state),
          String(n.pid ?? '-'),
        ]),
      ),
      '',
      ...table(
        ['CLUSTER', 'ACTIVE', 'HEALTH'],
        parsed.data.clusters.map((c) => [
          safe(c.clusterId),
          safe(c.activeNodeId ?? '-'),
          c.healthy ? 'healthy' : `not healthy: ${safe(c.why ?? '')}`,
        ]),
      ),
    ];
    io.out(lines.join('\n') + '\n');
    return 0;
  },
};

export const demoCommands: readonly Command[] = [
  actionCommand('kill'),
  actionCommand('pause'),
  actionCommand('partition'),
  actionCommand('restart'),
  actionCommand('resume'),
  actionCommand('heal'),
  demoListCommand,
];
