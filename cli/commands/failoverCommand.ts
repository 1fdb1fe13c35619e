import { operationStartedSchema } from '../../shared/contracts/operationsRequests';
import { paths } from '../../shared/contracts/routes';
import { idArg, printJson } from '../args';
import { JSON_OPTION, stringFlag, type Command } from '../command';
import { UnavailableError, UsageError } from '../errors';
import { followAndReport, FOLLOW_OPTIONS } from '../followAndReport';

/** `failoverctl failover <cluster> --reason R`: an unplanned failover now, followed to its end. */
export const failoverCommand: Command = {
  name: 'failover',
  args: '<cluster>',
  summary: 'start an unplanned failover (with a reason) and follow its steps',
  details: ["Starts or joins the cluster's one operation; exit 1 when it fails or is refused."],
  options: {
    reason: { type: 'string', help: 'why (required: goes to the operation and the audit log)' },
    target: { type: 'string', help: 'the node to prefer (default: the healthiest standby)' },
    force: { type: 'boolean', help: 'override the anti-flapping policy' },
    'no-wait': { type: 'boolean', help: 'print the operation id and return once it started' },
    json: { ...JSON_OPTION, help: 'print the ended operation as JSON (no progress lines)' },
    ...FOLLOW_OPTIONS,
  },
  minArgs: 1,
  maxArgs: 1,
  json: true,
  async run(context) {
    const { args, flags, json, api } = context;
    const clusterId = idArg(args, 0, 'cluster');
    const reason = stringFlag(flags, 'reason');
    if (!reason) throw new UsageError('failover needs --reason "why" (it goes to the audit log)');
    const target = stringFlag(flags, 'target');
    const body = {
      reason,
      ...(target !== undefined ? { targetNodeId: idArg([target], 0, 'target node') } : {}),
      ...(flags.force === true ? { force: true } : {}),
    };
    const started = operationStartedSchema.safeParse(
      await api().call(paths.failover(clusterId), { method: 'POST', body }),
    );
    if (!started.success)
      throw new UnavailableError('the control plane answered a start the CLI cannot read');
    return followAndReport(context, clusterId, started.data, json, printJson);
  },
};
