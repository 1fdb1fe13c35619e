import { ID_RULE, isId } from '../shared/contracts/ids';
import { UsageError } from './errors';

/** A positional id argument (`what`: cluster, node, ...), checked against the one id rule before any request. */
export function idArg(args: string[], index: number, what: string): string {
  const value = args[index];
  if (value === undefined) throw new UsageError(`missing the ${what}`);
  if (!isId(value)) throw new UsageError(`${JSON.stringify(value)} is not a valid ${what} id (${ID_RULE})`);
  return value;
}

/** A whole number from a flag or an argument, within bounds. */
export function integerArg(
  value: string | undefined,
  what: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,10}$/.test(value) || Number(value) < min || Number(value) > max)
    throw new UsageError(
      `${what} must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`,
    );
  return Number(value);
}

/** Prints `json` as the API answered it, indented, one value per command. */
export const printJson = (out: (text: string) => void, json: unknown): void =>
  out(`${JSON.stringify(json, null, 2)}\n`);
