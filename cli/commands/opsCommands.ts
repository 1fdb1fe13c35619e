import { type z } from 'zod';
import { auditPageSchema, operationPageSchema } from '../../shared/contracts/operationsApi';
import { paths } from '../../shared/contracts/routes';
import { idArg, integerArg, printJson } from '../args';
import { JSON_OPTION, stringFlag, type Command, type Flags, type OptionSpec } from '../command';
import { UnavailableError } from '../errors';
import { readOperation } from '../followOperation';
import { renderOperation, renderOperationList } from '../render/operationText';
import { safe, table, time } from '../render/text';

export const PAGE_OPTIONS: Record<string, OptionSpec> = {
  limit: { type: 'string', help: 'how many (1-100)' },
  continuation: { type: 'string', help: 'the token printed after the previous page' },
};

/** `?limit=&continuation=` from the flags. */
export function pageQuery(flags: Flags): string {
  const query = new URLSearchParams();
  const limit = integerArg(stringFlag(flags, 'limit'), '--limit', 1, 100);
  if (limit !== undefined) query.set('limit', String(limit));
  const continuation = stringFlag(flags, 'continuation');
  if (continuation !== undefined) query.set('continuation', continuation);
  const text = query.toString();
  return text ? `?${text}` : '';
}

const more = (continuation: string | undefined) =>
  continuation ? `More: --continuation ${continuation}\n` : '';

function read<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, json: unknown, what: string): T {
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new UnavailableError(`the control plane answered ${what} the CLI cannot read`);
  return parsed.data;
}

/** `failoverctl ops list <cluster>`: the operations history, newest first. */
export const opsListCommand: Command = {
  name: 'ops list',
  args: '<cluster>',
  summary: 'the operations history of a cluster, newest first',
  options: { json: JSON_OPTION, ...PAGE_OPTIONS },
  minArgs: 1,
  maxArgs: 1,
  json: true,
  async run({ io, args, flags, json, api }) {
    const clusterId = idArg(args, 0, 'cluster');
    const answer = await api().call(`${paths.operations(clusterId)}${pageQuery(flags)}`);
    if (json) {
      printJson(io.out, answer);
      return 0;
    }
    const page = read(operationPageSchema, answer, 'an operations page');
    io.out(renderOperationList(page.operations) + more(page.continuation));
    return 0;
  },
};

/** `failoverctl ops show <cluster> <operation>`: one operation with its step timeline. */
export const opsShowCommand: Command = {
  name: 'ops show',
  args: '<cluster> <operation>',
  summary: 'one operation: trigger, actor, epochs, each step with its outcome and duration',
  options: { json: JSON_OPTION },
  minArgs: 2,
  maxArgs: 2,
  json: true,
  async run({ io, args, json, api }) {
    const clusterId = idArg(args, 0, 'cluster');
    const operationId = idArg(args, 1, 'operation');
    if (json) {
      printJson(io.out, await api().call(paths.operation(clusterId, operationId)));
      return 0;
    }
    io.out(renderOperation(await readOperation(api(), clusterId, operationId)));
    return 0;
  },
};

/** `failoverctl audit <cluster>`: every state change with its actor, newest first. */
export const auditCommand: Command = {
  name: 'audit',
  args: '<cluster>',
  summary: 'the audit log of a cluster (every state change with its actor), newest first',
  options: { json: JSON_OPTION, ...PAGE_OPTIONS },
  minArgs: 1,
  maxArgs: 1,
  json: true,
  async run({ io, args, flags, json, api }) {
    const clusterId = idArg(args, 0, 'cluster');
    const answer = await api().call(`${paths.audit(clusterId)}${pageQuery(flags)}`);
    if (json) {
      printJson(io.out, answer);
      return 0;
    }
    const page = read(auditPageSchema, answer, 'an audit page');
    if (page.entries.length === 0) io.out('No audit entries.\n');
    else
      io.out(
        table(
          ['AT', 'ACTOR', 'ACTION', 'DETAIL'],
          page.entries.map((e) => [
            time(e.at),
            safe(e.actor),
            safe(e.action),
            safe(JSON.stringify(e.detail)).slice(0, 160),
          ]),
        ).join('\n') + '\n',
      );
    io.out(more(page.continuation));
    return 0;
  },
};
