import {
  makeActivePlanAnswerSchema,
  operationStartedSchema,
} from '../../shared/contracts/operationsRequests';
import { paths } from '../../shared/contracts/routes';
import { errorInfo, errorForAnswer } from '../apiClient';
import { idArg, printJson } from '../args';
import { JSON_OPTION, stringFlag, type Command } from '../command';
import { OperationFailedError, UnavailableError, UsageError } from '../errors';
import { followAndReport, FOLLOW_OPTIONS } from '../followAndReport';
import { askContinue } from '../prompt';
import { renderMakeActivePlan } from '../render/planText';
import { safe } from '../render/text';

/**
 * `failoverctl makeactive <cluster> <node>`: the plan, `Continue(c)/Exit(e)?` (or `--yes`), then the switchover's
 * steps as they end, each with its duration, ending `[ OK ]` or the failure or roll-back.
 */
export const makeActiveCommand: Command = {
  name: 'makeactive',
  args: '<cluster> <node>',
  summary: 'make a node active (a planned switchover): the plan, a confirmation, then live progress',
  details: [
    'Shows who becomes active and passive, the preconditions and the hook steps, then asks Continue(c)/Exit(e)?',
    'on stdin. "e" exits 0 with nothing changed. Exit 1 when blocked, refused, failed or rolled back.',
  ],
  options: {
    yes: { type: 'boolean', short: 'y', help: 'do not ask: run the plan if it can run' },
    force: { type: 'boolean', help: 'lift the RPO bound (never a health or heartbeat precondition)' },
    reason: { type: 'string', help: 'why (goes to the operation and the audit log)' },
    'no-wait': { type: 'boolean', help: 'print the operation id and return once it started' },
    json: { ...JSON_OPTION, help: 'with --yes: print the ended operation as JSON (no progress lines)' },
    ...FOLLOW_OPTIONS,
  },
  minArgs: 2,
  maxArgs: 2,
  json: true,
  async run(context) {
    const { io, args, flags, json, api } = context;
    const clusterId = idArg(args, 0, 'cluster');
    const nodeId = idArg(args, 1, 'node');
    const yes = flags.yes === true;
    if (json && !yes) throw new UsageError('--json needs --yes (the confirmation is a question on stdin)');
    const reason = stringFlag(flags, 'reason');
    const base = { nodeId, ...(flags.force === true ? { force: true } : {}), ...(reason ? { reason } : {}) };
    const shown = await api().send(paths.makeActive(clusterId), { method: 'POST', body: base });
    if (shown.status !== 200) throw errorForAnswer(errorInfo(shown));
    const parsed = makeActivePlanAnswerSchema.safeParse(shown.json);
    if (!parsed.success) throw new UnavailableError('the control plane answered a plan the CLI cannot read');
    const { plan } = parsed.data;
    if (!json) io.out(renderMakeActivePlan(plan));
    if (!plan.canRun)
      throw new OperationFailedError(
        `make-active of ${nodeId} is blocked by ${plan.blockers.map(safe).join(', ')}; nothing changed`,
      );
    if (!yes) {
      const answer = await askContinue(io.stdin, io.out);
      if (answer === 'exit') {
        io.out('Exited: nothing changed.\n');
        return 0;
      }
      if (answer === 'no-answer')
        throw new OperationFailedError('no answer on stdin: nothing changed (--yes skips the question)');
    }
    const started = operationStartedSchema.safeParse(
      await api().call(paths.makeActive(clusterId), { method: 'POST', body: { ...base, confirm: true } }),
    );
    if (!started.success)
      throw new UnavailableError('the control plane answered a start the CLI cannot read');
    return followAndReport(context, clusterId, started.data, json, printJson);
  },
};
