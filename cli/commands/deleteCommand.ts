import { z } from 'zod';
import { paths } from '../../shared/contracts/routes';
import type { DeleteClusterPlan } from '../../shared/control/clusters/deleteCluster';
import { errorForAnswer, errorInfo } from '../apiClient';
import { idArg, printJson } from '../args';
import { JSON_OPTION, type Command } from '../command';
import { OperationFailedError, UnavailableError, UsageError } from '../errors';
import { askContinue } from '../prompt';
import { renderDeletePlan } from '../render/planText';
import { safe } from '../render/text';

const answerSchema = z.object({
  deleted: z.boolean(),
  plan: z
    .object({
      clusterId: z.string(),
      nodes: z.array(z.string()),
      removes: z.object({}).passthrough(),
      blockers: z.array(z.string()),
      canRun: z.boolean(),
    })
    .passthrough(),
});

/** `failoverctl delete <cluster>`: the deletion plan, `Continue(c)/Exit(e)?` (or `--yes`), then the deletion. */
export const deleteCommand: Command = {
  name: 'delete',
  args: '<cluster>',
  summary: 'delete a cluster: its state, heartbeats, witness record, node keys and pool state (audited)',
  details: [
    'Shows what goes and what is kept, then asks Continue(c)/Exit(e)?. Refused while an operation runs, and while a',
    'node heartbeats within the detection window unless --force.',
  ],
  options: {
    yes: { type: 'boolean', short: 'y', help: 'do not ask' },
    force: {
      type: 'boolean',
      help: 'delete although nodes still heartbeat (stop their agents instead if you can)',
    },
    json: { ...JSON_OPTION, help: 'with --yes: print the answer as JSON' },
  },
  minArgs: 1,
  maxArgs: 1,
  json: true,
  async run({ io, args, flags, json, api }) {
    const clusterId = idArg(args, 0, 'cluster');
    const yes = flags.yes === true;
    if (json && !yes) throw new UsageError('--json needs --yes (the confirmation is a question on stdin)');
    const force = flags.force === true;
    const shown = answerSchema.safeParse(
      await api().call(paths.cluster(clusterId), { method: 'DELETE', body: {} }),
    );
    if (!shown.success) throw new UnavailableError('the control plane answered a plan the CLI cannot read');
    const plan = shown.data.plan as unknown as DeleteClusterPlan;
    if (!json) io.out(renderDeletePlan(plan));
    const blocking = force ? plan.runningOperations.length > 0 : !plan.canRun;
    if (blocking)
      throw new OperationFailedError(
        `deletion of ${clusterId} is blocked (${plan.blockers.map(safe).join('; ')}); nothing changed`,
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
    const done = await api().send(paths.cluster(clusterId), {
      method: 'DELETE',
      body: { confirm: true, ...(force ? { force: true } : {}) },
    });
    if (done.status !== 200) throw errorForAnswer(errorInfo(done));
    if (json) printJson(io.out, done.json);
    else io.out(`[ OK ] cluster ${safe(clusterId)} deleted\n`);
    return 0;
  },
};
