export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

/**
 * Structured logs: one JSON object per line, `{time, level, msg, ...fields}`. The agent never hands secrets to the
 * logger (the node key lives only in the request signer); as a second line of defence, fields whose name says
 * they hold a secret are replaced by "[redacted]".
 */
export class Logger {
  constructor(
    private readonly level: LogLevel = 'info',
    private readonly base: LogFields = {},
    private readonly write: (line: string) => void = (line) => process.stdout.write(line),
  ) {}

  child(fields: LogFields): Logger {
    return new Logger(this.level, { ...this.base, ...fields }, this.write);
  }

  enabled(level: LogLevel): boolean {
    return ORDER[level] >= ORDER[this.level];
  }

  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }

  log(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    const record = { time: new Date().toISOString(), level, msg, ...this.base, ...fields };
    this.write(JSON.stringify(record, redact) + '\n');
  }
}

const SECRET_NAME = /^(key|nodeKey|secret|signature|password|token|authorization|x-fp-signature)$/i;

function redact(this: unknown, name: string, value: unknown): unknown {
  // `value` has been through toJSON already (a Buffer is {type, data} by now): look at the original too.
  const original = (this as Record<string, unknown> | null)?.[name];
  if (SECRET_NAME.test(name) && value !== undefined && value !== null) return '[redacted]';
  if (Buffer.isBuffer(original)) return '[buffer]';
  if (value instanceof Error) return value.message;
  return value;
}

/** A message for any thrown value, never a stack. */
export const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === 'string' ? error : JSON.stringify(error);
