import type { z } from 'zod';
import type { operationStartedSchema } from '../shared/contracts/operationsRequests';
import { paths } from '../shared/contracts/routes';
import { integerArg } from './args';
import { stringFlag, type CommandContext, type OptionSpec } from './command';
import { OperationFailedError } from './errors';
import { followOperation } from './followOperation';
import { endLine } from './render/operationText';
import { safe } from './render/text';

/** The options of the commands that follow an operation. */
export const FOLLOW_OPTIONS: Record<string, OptionSpec> = {
  'timeout-seconds': {
    type: 'string',
    help: 'stop following after this long (default 900; exit 5, it goes on)',
  },
  'interval-ms': { type: 'string', help: 'how often to read the operation while following (default 250)' },
};

/**
 * After a 202: prints the operation id (or that it joined the running one), follows it printing each step as it
 * ends, then the `[ OK ]` / `[FAIL]` line. Exit 0 when it succeeded, 1 otherwise (`--no-wait`: 0 once started).
 */
export async function followAndReport(
  { io, flags, api }: CommandContext,
  clusterId: string,
  started: z.infer<typeof operationStartedSchema>,
  json: boolean,
  printJson: (out: (text: string) => void, value: unknown) => void,
): Promise<number> {
  const { operationId } = started;
  if (!json)
    io.out(
      started.started
        ? `Started ${safe(operationId)}\n`
        : `Joined the running operation ${safe(operationId)} (one operation at a time per cluster)\n`,
    );
  if (flags['no-wait'] === true) {
    if (json) printJson(io.out, started);
    return 0;
  }
  const timeout = integerArg(stringFlag(flags, 'timeout-seconds'), '--timeout-seconds', 1, 86_400);
  const interval = integerArg(stringFlag(flags, 'interval-ms'), '--interval-ms', 50, 60_000);
  const operation = await followOperation(api(), clusterId, operationId, {
    ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}),
    ...(interval !== undefined ? { intervalMs: interval } : {}),
    ...(json ? {} : { onStep: (line: string) => io.out(`  ${line}\n`) }),
  });
  if (json) printJson(io.out, { operation });
  else {
    // A failover chooses its target: say who is active now.
    const active =
      operation.status === 'succeeded' && !operation.targetNodeId
        ? await api()
            .call(paths.clusterStatus(clusterId))
            .then((s) => (s as { activeNodeId?: string | null }).activeNodeId ?? null)
            .catch(() => null)
        : null;
    io.out(`${endLine(operation, active)}\n`);
  }
  if (operation.status !== 'succeeded')
    throw new OperationFailedError(
      `${operation.kind} ${operation.operationId} ${operation.status}${operation.reason ? `: ${operation.reason}` : ''}`,
    );
  return 0;
}
