import { z } from 'zod';
import { paths } from '../../shared/contracts/routes';
import type { ClusterStatus } from '../../shared/domain/clusterStatus';
import { idArg, printJson } from '../args';
import { JSON_OPTION, type Command } from '../command';
import { UnavailableError } from '../errors';
import { renderStatusBlock } from '../render/statusBlock';
import { safe, table } from '../render/text';

const listSchema = z.object({
  clusters: z.array(
    z.object({
      id: z.string(),
      kind: z.string(),
      nodes: z.number(),
      epoch: z.number(),
      activeNodeId: z.string().nullable(),
    }),
  ),
});

const clusterSchema = z.object({
  cluster: z
    .object({
      failover: z.object({ rpoObjectiveMs: z.number().optional() }).passthrough().optional(),
      detection: z
        .object({ heartbeatIntervalMs: z.number().optional(), missedHeartbeats: z.number().optional() })
        .passthrough()
        .optional(),
    })
    .passthrough(),
  status: z
    .object({ clusterId: z.string(), nodes: z.array(z.object({ nodeId: z.string() }).passthrough()) })
    .passthrough(),
});

/** `failoverctl status [cluster]`: every cluster in brief, or one cluster's `cmha status` block. */
export const statusCommand: Command = {
  name: 'status',
  args: '[cluster]',
  summary: "every cluster's epoch and active node, or one cluster's status block",
  details: [
    'With a cluster: the `cmha status` block — the active marked *, per node its role, site, heartbeat age, checks,',
    'GPUs and replication lag against the RPO objective; the witness holder and epoch, the lease, what is running.',
  ],
  options: { json: JSON_OPTION },
  minArgs: 0,
  maxArgs: 1,
  json: true,
  async run({ io, args, json, api }) {
    if (args.length === 0) {
      const answer = await api().call(paths.clusters());
      if (json) {
        printJson(io.out, answer);
        return 0;
      }
      const parsed = listSchema.safeParse(answer);
      if (!parsed.success)
        throw new UnavailableError('the control plane answered a cluster list the CLI cannot read');
      if (parsed.data.clusters.length === 0) {
        io.out('No clusters declared.\n');
        return 0;
      }
      io.out(
        table(
          ['CLUSTER', 'KIND', 'NODES', 'EPOCH', 'ACTIVE'],
          parsed.data.clusters.map((c) => [
            safe(c.id),
            safe(c.kind),
            String(c.nodes),
            String(c.epoch),
            safe(c.activeNodeId ?? '-'),
          ]),
        ).join('\n') + '\n',
      );
      return 0;
    }
    const clusterId = idArg(args, 0, 'cluster');
    if (json) {
      printJson(io.out, await api().call(paths.clusterStatus(clusterId)));
      return 0;
    }
    const parsed = clusterSchema.safeParse(await api().call(paths.cluster(clusterId)));
    if (!parsed.success)
      throw new UnavailableError('the control plane answered a cluster the CLI cannot read');
    const { cluster, status } = parsed.data;
    const interval = cluster.detection?.heartbeatIntervalMs;
    const missed = cluster.detection?.missedHeartbeats;
    io.out(
      renderStatusBlock(status as unknown as ClusterStatus, {
        rpoObjectiveMs: cluster.failover?.rpoObjectiveMs,
        detectionWindowMs: interval !== undefined && missed !== undefined ? interval * missed : undefined,
      }),
    );
    return 0;
  },
};
