import { z } from 'zod';
import { paths } from '../../shared/contracts/routes';
import type { DrillReport, DrillSummary } from '../../shared/domain/drills';
import { idArg, integerArg, printJson } from '../args';
import { JSON_OPTION, stringFlag, type Command } from '../command';
import { OperationFailedError, UnavailableError, UsageError } from '../errors';
import { FOLLOW_OPTIONS } from '../followAndReport';
import { followOperation } from '../followOperation';
import { renderDrillList, renderDrillReport } from '../render/drillText';
import { safe } from '../render/text';
import { PAGE_OPTIONS, pageQuery } from './opsCommands';

const startedSchema = z.object({ drillId: z.string(), started: z.boolean() }).passthrough();
const reportAnswerSchema = z.object({
  drill: z
    .object({
      drillId: z.string(),
      result: z.string(),
      checks: z.array(z.unknown()),
      legs: z.array(z.unknown()),
    })
    .passthrough()
    .nullable(),
  running: z.object({ step: z.string() }).passthrough().optional(),
});
const listSchema = z.object({
  drills: z.array(
    z
      .object({ drillId: z.string(), objectives: z.object({ rtoMs: z.number() }).passthrough() })
      .passthrough(),
  ),
  continuation: z.string().optional(),
});

/** `failoverctl drill run <cluster>`: starts a drill now and follows it to its report. */
export const drillRunCommand: Command = {
  name: 'drill run',
  args: '<cluster>',
  summary: 'start a DR drill now (validate, switchover or failover) and follow it to its report',
  details: ['Exit 1 when the drill did not pass (failed, aborted, skipped) or was refused.'],
  options: {
    mode: { type: 'string', help: "validate | switchover | failover (default: the document's drill.mode)" },
    target: { type: 'string', help: 'the node a switchover or failover drill moves the active role to' },
    confirm: { type: 'boolean', help: 'required for a failover drill (it silences the active for real)' },
    'no-wait': { type: 'boolean', help: 'print the drill id and return once it started' },
    json: { ...JSON_OPTION, help: 'print the report as JSON (no progress lines)' },
    ...FOLLOW_OPTIONS,
  },
  minArgs: 1,
  maxArgs: 1,
  json: true,
  async run({ io, args, flags, json, api }) {
    const clusterId = idArg(args, 0, 'cluster');
    const mode = stringFlag(flags, 'mode');
    if (mode !== undefined && !['validate', 'switchover', 'failover'].includes(mode))
      throw new UsageError(`--mode must be validate, switchover or failover (got ${JSON.stringify(mode)})`);
    const target = stringFlag(flags, 'target');
    const body = {
      ...(mode ? { mode } : {}),
      ...(target !== undefined ? { targetNodeId: idArg([target], 0, 'target node') } : {}),
      ...(flags.confirm === true ? { confirm: true } : {}),
    };
    const parsed = startedSchema.safeParse(
      await api().call(paths.drills(clusterId), { method: 'POST', body }),
    );
    if (!parsed.success)
      throw new UnavailableError('the control plane answered a drill start the CLI cannot read');
    const { drillId } = parsed.data;
    if (flags['no-wait'] === true) {
      if (json) printJson(io.out, parsed.data);
      else io.out(`Started drill ${safe(drillId)}\n`);
      return 0;
    }
    if (!json) io.out(`Started drill ${safe(drillId)}\n`);
    const timeout = integerArg(stringFlag(flags, 'timeout-seconds'), '--timeout-seconds', 1, 86_400);
    const interval = integerArg(stringFlag(flags, 'interval-ms'), '--interval-ms', 50, 60_000);
    await followOperation(api(), clusterId, drillId, {
      ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}),
      ...(interval !== undefined ? { intervalMs: interval } : {}),
      ...(json ? {} : { onStep: (line: string) => io.out(`  ${line}\n`) }),
    });
    const answer = await api().call(paths.drill(clusterId, drillId));
    const report = reportAnswerSchema.safeParse(answer);
    if (!report.success || !report.data.drill)
      throw new UnavailableError(
        `drill ${drillId} ended but its report is not readable yet: failoverctl drill show ${clusterId} ${drillId}`,
      );
    if (json) printJson(io.out, answer);
    else io.out(renderDrillReport(report.data.drill as unknown as DrillReport));
    if (report.data.drill.result !== 'passed')
      throw new OperationFailedError(`drill ${drillId} ${report.data.drill.result}`);
    return 0;
  },
};

/** `failoverctl drill list <cluster>`: the drills, newest first. */
export const drillListCommand: Command = {
  name: 'drill list',
  args: '<cluster>',
  summary: 'the drill reports of a cluster, newest first',
  options: { json: JSON_OPTION, ...PAGE_OPTIONS },
  minArgs: 1,
  maxArgs: 1,
  json: true,
  async run({ io, args, flags, json, api }) {
    const clusterId = idArg(args, 0, 'cluster');
    const answer = await api().call(`${paths.drills(clusterId)}${pageQuery(flags)}`);
    if (json) {
      printJson(io.out, answer);
      return 0;
    }
    const page = listSchema.safeParse(answer);
    if (!page.success)
      throw new UnavailableError('the control plane answered a drill list the CLI cannot read');
    io.out(renderDrillList(page.data.drills as unknown as DrillSummary[]));
    if (page.data.continuation) io.out(`More: --continuation ${page.data.continuation}\n`);
    return 0;
  },
};

/** `failoverctl drill show <cluster> <drill>`: one report. */
export const drillShowCommand: Command = {
  name: 'drill show',
  args: '<cluster> <drill>',
  summary: 'one drill report: result, RTO and RPO against the objectives, checks, legs, reasons',
  options: { json: JSON_OPTION },
  minArgs: 2,
  maxArgs: 2,
  json: true,
  async run({ io, args, json, api }) {
    const clusterId = idArg(args, 0, 'cluster');
    const drillId = idArg(args, 1, 'drill');
    const answer = await api().call(paths.drill(clusterId, drillId));
    if (json) {
      printJson(io.out, answer);
      return 0;
    }
    const report = reportAnswerSchema.safeParse(answer);
    if (!report.success) throw new UnavailableError('the control plane answered a drill the CLI cannot read');
    if (!report.data.drill) {
      io.out(`Drill ${safe(drillId)} is running (${safe(report.data.running?.step ?? 'checking')})\n`);
      return 0;
    }
    io.out(renderDrillReport(report.data.drill as unknown as DrillReport));
    return 0;
  },
};
