import type { ApiClient } from './apiClient';

/** Where the CLI reads and writes: the process's streams in `bin/failoverctl.js`, buffers in tests. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  /** The home directory (for the default profile path). */
  home: string;
}

/** The option values of a command line (`--name value` or a `--flag`). */
export type Flags = Record<string, string | boolean | undefined>;

export interface CommandContext {
  io: CliIo;
  /** The positional arguments after the command's name. */
  args: string[];
  flags: Flags;
  /** `--json`: print the API's JSON instead of text. */
  json: boolean;
  /** The API client (built on first use, so `--help` needs no URL). */
  api: () => ApiClient;
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** One line for `--help`. */
  help: string;
}

/** One command (or `group sub` subcommand) of `failoverctl`. */
export interface Command {
  /** `status`, `drill run`, ... */
  name: string;
  /** The arguments after the name, as `--help` shows them: `<cluster> <node>`. */
  args: string;
  summary: string;
  /** More lines for `--help` (optional). */
  details?: string[];
  options: Record<string, OptionSpec>;
  minArgs: number;
  maxArgs: number;
  /** Prints with `--json` too (a read command, or a write printing the API's answer). */
  json: boolean;
  run(context: CommandContext): Promise<number>;
}

/** The options every command takes. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  url: { type: 'string', help: 'the control plane URL (else FAILOVERPLANE_URL, else the profile)' },
  key: { type: 'string', help: 'a function or master key (else FAILOVERPLANE_KEY, else the profile)' },
  entra: {
    type: 'boolean',
    help: 'authenticate with an Entra token (DefaultAzureCredential) instead of a key',
  },
  scope: { type: 'string', help: 'the Entra scope for --entra (else FAILOVERPLANE_SCOPE, else the profile)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

export const JSON_OPTION: OptionSpec = { type: 'boolean', help: "print the API's JSON answer" };

/** A string option's value (undefined when absent). */
export const stringFlag = (flags: Flags, name: string): string | undefined => {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
};
