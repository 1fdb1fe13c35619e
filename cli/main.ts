import { homedir } from 'node:os';
import { parseArgs } from 'node:util';
import { ApiClient } from './apiClient';
import { GLOBAL_OPTIONS, stringFlag, type CliIo, type Command, type Flags, type OptionSpec } from './command';
import { COMMANDS } from './commands';
import { resolveConnection } from './connection';
import { CliError, UsageError } from './errors';
import { ExitCodes } from './exitCodes';
import { pad, safe } from './render/text';

const GROUPS = new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0] ?? ''));

const EXIT_CODES_HELP = [
  'Exit codes: 0 ok, 1 operation failed or refused, 2 usage error, 3 not found, 4 authentication,',
  '            5 unreachable or temporarily unavailable.',
];

function usageLine(command: Command): string {
  return `failoverctl ${command.name}${command.args ? ` ${command.args}` : ''}`;
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  return Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.type === 'string' ? ' <value>' : ''}`;
    return `  ${pad(flag, 30)} ${spec.help}`;
  });
}

/** `failoverctl --help`. */
export function mainHelp(): string {
  return [
    'failoverctl — the failover-plane control plane from the command line',
    '',
    'Usage: failoverctl <command> [arguments] [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${pad(`${c.name}${c.args ? ` ${c.args}` : ''}`, 36)} ${c.summary}`),
    '',
    'Options of every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Connection: --url/--key, else FAILOVERPLANE_URL/FAILOVERPLANE_KEY, else the profile',
    '~/.config/failoverplane/profile.json ({"url", "key"} or {"url", "auth": "entra", "scope"}; FAILOVERPLANE_PROFILE',
    'names another file).',
    ...EXIT_CODES_HELP,
    "'failoverctl <command> --help' describes a command.",
    '',
  ].join('\n');
}

/** `failoverctl <command> --help`. */
export function commandHelp(command: Command): string {
  return [
    `Usage: ${usageLine(command)} [options]`,
    '',
    command.summary,
    ...(command.details ?? []),
    '',
    'Options:',
    ...optionLines(command.options),
    ...optionLines(GLOBAL_OPTIONS),
    '',
    ...EXIT_CODES_HELP,
    '',
  ].join('\n');
}

/** Finds the command the arguments name (`status`, `drill run`, ...) and the arguments after it. */
function findCommand(argv: string[]): { command: Command; rest: string[] } | { group: string } | undefined {
  const [first, second] = argv;
  if (first === undefined) return undefined;
  if (GROUPS.has(first)) {
    const command = COMMANDS.find((c) => c.name === `${first} ${second ?? ''}`);
    return command ? { command, rest: argv.slice(2) } : { group: first };
  }
  const command = COMMANDS.find((c) => c.name === first);
  return command ? { command, rest: argv.slice(1) } : undefined;
}

function parse(command: Command, rest: string[]): { flags: Flags; args: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of Object.entries({ ...GLOBAL_OPTIONS, ...command.options }))
    options[name] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
  try {
    const parsed = parseArgs({ args: rest, options, strict: true, allowPositionals: true });
    return { flags: parsed.values, args: parsed.positionals };
  } catch (error) {
    const message = error instanceof Error ? (error.message.split('\n')[0] ?? '') : 'invalid arguments';
    const unknown = /^Unknown option '([^']+)'/.exec(message);
    throw new UsageError(
      `${unknown ? `unknown option ${unknown[1]}` : message} (see: failoverctl ${command.name} --help)`,
    );
  }
}

/** The process's streams and environment. */
export function processIo(): CliIo {
  // `failoverctl audit x | head`: the reader went away; stop quietly instead of dying on EPIPE with a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(ExitCodes.ok);
    process.stderr.write(`failoverctl: cannot write the output: ${error.code ?? error.message}\n`);
    process.exit(ExitCodes.failed);
  });
  // Ctrl-C: one line; an operation the control plane already started is not stopped by leaving.
  process.once('SIGINT', () => {
    process.stderr.write(
      '\nfailoverctl: interrupted; an operation already started goes on (failoverctl ops list <cluster>)\n',
    );
    process.exit(130);
  });
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    stdin: process.stdin,
    env: process.env,
    home: homedir(),
  };
}

/** Runs `failoverctl` with `argv` (without the node and script paths); resolves to the exit code. Never throws. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  try {
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      const named = argv[0] === 'help' && argv.length > 1 ? findCommand(argv.slice(1)) : undefined;
      io.out(named && 'command' in named ? commandHelp(named.command) : mainHelp());
      return argv.length === 0 ? ExitCodes.usage : ExitCodes.ok;
    }
    const found = findCommand(argv);
    if (!found) throw new UsageError(`unknown command ${JSON.stringify(argv[0])} (see: failoverctl --help)`);
    if ('group' in found) {
      const subs = COMMANDS.filter((c) => c.name.startsWith(`${found.group} `)).map(
        (c) => c.name.split(' ')[1],
      );
      if (argv.includes('--help') || argv.includes('-h')) {
        io.out(
          COMMANDS.filter((c) => c.name.startsWith(`${found.group} `))
            .map(commandHelp)
            .join('\n'),
        );
        return ExitCodes.ok;
      }
      throw new UsageError(`${found.group} needs one of: ${subs.join(', ')} (see: failoverctl --help)`);
    }
    const { command, rest } = found;
    const { flags, args } = parse(command, rest);
    if (flags.help === true) {
      io.out(commandHelp(command));
      return ExitCodes.ok;
    }
    if (args.length < command.minArgs || args.length > command.maxArgs)
      throw new UsageError(`usage: ${usageLine(command)} (see: failoverctl ${command.name} --help)`);
    let client: ApiClient | undefined;
    const api = () =>
      (client ??= new ApiClient(
        resolveConnection(
          {
            url: stringFlag(flags, 'url'),
            key: stringFlag(flags, 'key'),
            entra: flags.entra === true,
            scope: stringFlag(flags, 'scope'),
          },
          io.env,
          io.home,
        ),
      ));
    return await command.run({ io, args, flags, json: flags.json === true, api });
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`failoverctl: ${safe(error.message)}\n`);
      return error.exitCode;
    }
    // A bug, not a user error: still one line, never a stack trace.
    io.err(`failoverctl: internal error: ${safe(error instanceof Error ? error.message : String(error))}\n`);
    return ExitCodes.failed;
  }
}
