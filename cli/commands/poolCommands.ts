import { z } from 'zod';
import { MAX_POOL_DEMAND } from '../../shared/contracts/operationsRequests';
import { paths } from '../../shared/contracts/routes';
import type { PoolView } from '../../shared/control/pools/poolView';
import { idArg, integerArg, printJson } from '../args';
import { JSON_OPTION, stringFlag, type Command } from '../command';
import { UnavailableError } from '../errors';
import { safe, table, time } from '../render/text';

const poolAnswerSchema = z.object({
  pool: z
    .object({ poolId: z.string(), sites: z.array(z.object({ siteId: z.string() }).passthrough()) })
    .passthrough(),
  previous: z.number().optional(),
  spillover: z.object({ operationId: z.string(), started: z.boolean() }).passthrough().optional(),
});

function renderPool(pool: PoolView): string {
  const lines = [
    `Pool ${safe(pool.poolId)} of ${safe(pool.clusterId)}: demand ${pool.demand} (${pool.demandSource === 'api' ? `set ${time(pool.demandSetAt)} by ${safe(pool.demandSetBy ?? '-')}` : 'from the document'}), placed ${pool.placed}, shortfall ${pool.shortfall}`,
    ...table(
      ['SITE', 'WHERE', 'SIZE', 'PLACED', 'HEADROOM', 'COOL-DOWN'],
      pool.sites.map((s) => [
        safe(s.siteId),
        safe([s.cloud, s.region, s.zone].filter(Boolean).join('/')),
        safe(s.size),
        String(s.placed),
        s.headroom
          ? s.headroom.error
            ? `unreadable: ${safe(s.headroom.error)}`
            : `quota ${s.headroom.quotaNodes}, capacity ${safe(s.headroom.capacityNodes)}${s.headroom.restricted ? `, restricted: ${safe(s.headroom.restricted)}` : ''}`
          : 'not read yet',
        s.coolingDown ? `until ${time(s.coolingDown.until)} (${safe(s.coolingDown.kind)})` : '-',
      ]),
    ).map((l) => `  ${l}`),
  ];
  if (pool.runningOperation) lines.push(`Running: spillover ${safe(pool.runningOperation)}`);
  if (pool.lastRun)
    lines.push(
      `Last run: ${safe(pool.lastRun.operationId)}, ended ${time(pool.lastRun.endedAt)}: ${safe(pool.lastRun.reason)}`,
    );
  return lines.join('\n') + '\n';
}

function readPool(json: unknown): {
  pool: PoolView;
  previous?: number | undefined;
  spillover?: { operationId: string; started: boolean } | undefined;
} {
  const parsed = poolAnswerSchema.safeParse(json);
  if (!parsed.success) throw new UnavailableError('the control plane answered a pool the CLI cannot read');
  return {
    pool: parsed.data.pool as unknown as PoolView,
    previous: parsed.data.previous,
    spillover: parsed.data.spillover,
  };
}

/** `failoverctl pools show <cluster> <pool>`. */
export const poolsShowCommand: Command = {
  name: 'pools show',
  args: '<cluster> <pool>',
  summary: 'a capacity pool: demand, nodes placed per site, headroom, cool-downs, shortfall',
  options: { json: JSON_OPTION },
  minArgs: 2,
  maxArgs: 2,
  json: true,
  async run({ io, args, json, api }) {
    const answer = await api().call(paths.pool(idArg(args, 0, 'cluster'), idArg(args, 1, 'pool')));
    if (json) printJson(io.out, answer);
    else io.out(renderPool(readPool(answer).pool));
    return 0;
  },
};

/** `failoverctl pools demand <cluster> <pool> <desired>`. */
export const poolsDemandCommand: Command = {
  name: 'pools demand',
  args: '<cluster> <pool> <desired>',
  summary: "set a pool's desired node count (audited)",
  options: { json: JSON_OPTION },
  minArgs: 3,
  maxArgs: 3,
  json: true,
  async run({ io, args, json, api }) {
    const clusterId = idArg(args, 0, 'cluster');
    const poolId = idArg(args, 1, 'pool');
    const desired = integerArg(args[2], 'desired', 0, MAX_POOL_DEMAND);
    const answer = await api().call(paths.poolDemand(clusterId, poolId), {
      method: 'PUT',
      body: { desired },
    });
    if (json) {
      printJson(io.out, answer);
      return 0;
    }
    const { pool, previous, spillover } = readPool(answer);
    io.out(
      `Demand of pool ${safe(poolId)} set to ${desired}${previous !== undefined ? ` (was ${previous})` : ''}\n`,
    );
    if (spillover)
      io.out(
        `Spillover ${safe(spillover.operationId)} ${spillover.started ? 'started' : 'already running: it plans for the new demand'}; follow it with: failoverctl ops show ${safe(clusterId)} ${safe(spillover.operationId)}\n`,
      );
    io.out(renderPool(pool));
    return 0;
  },
};

const planSchema = z
  .object({
    plan: z
      .object({
        add: z.array(z.object({ siteId: z.string(), count: z.number() }).passthrough()),
        skipped: z.array(
          z.object({ siteId: z.string(), reason: z.string(), detail: z.string().optional() }).passthrough(),
        ),
        remove: z.array(z.object({ siteId: z.string(), count: z.number() }).passthrough()).optional(),
        shortfall: z.number(),
      })
      .passthrough(),
  })
  .passthrough();

/** `failoverctl pools plan <cluster> <pool> [--desired N]`: the dry run. */
export const poolsPlanCommand: Command = {
  name: 'pools plan',
  args: '<cluster> <pool>',
  summary: "the spillover planner's dry run: nodes per site, why each other site is skipped, the shortfall",
  options: {
    desired: { type: 'string', help: "plan for this many nodes (default: the pool's demand)" },
    json: JSON_OPTION,
  },
  minArgs: 2,
  maxArgs: 2,
  json: true,
  async run({ io, args, flags, json, api }) {
    const clusterId = idArg(args, 0, 'cluster');
    const poolId = idArg(args, 1, 'pool');
    const desired = integerArg(stringFlag(flags, 'desired'), '--desired', 0, MAX_POOL_DEMAND);
    const answer = await api().call(paths.poolPlan(clusterId, poolId), {
      method: 'POST',
      body: desired !== undefined ? { desired } : {},
    });
    if (json) {
      printJson(io.out, answer);
      return 0;
    }
    const parsed = planSchema.safeParse(answer);
    if (!parsed.success) throw new UnavailableError('the control plane answered a plan the CLI cannot read');
    const { plan } = parsed.data;
    io.out(`Plan for pool ${safe(poolId)} (dry run, nothing provisioned): shortfall ${plan.shortfall}\n`);
    for (const a of plan.add) io.out(`  add ${a.count} at ${safe(a.siteId)}\n`);
    for (const r of plan.remove ?? []) io.out(`  remove ${r.count} at ${safe(r.siteId)}\n`);
    for (const s of plan.skipped)
      io.out(`  skip ${safe(s.siteId)}: ${safe(s.reason)}${s.detail ? ` (${safe(s.detail)})` : ''}\n`);
    return 0;
  },
};
