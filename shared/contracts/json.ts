/**
 * Strict JSON for request bodies (agent and admin). `JSON.parse` lets the last of two equal keys win, so a body
 * `{"epoch": 1, "epoch": 9}` means whatever the last parser in a chain decides; and `1e400` becomes Infinity, which
 * JSON serialises back as `null`. Both are refused here, naming where:
 *
 * - a duplicate key in any object (compared after unescaping, so `"a"` and `"\u0061"` are the same key);
 * - a number literal that is not a finite double.
 */

export type StrictJsonResult =
  | { ok: true; value: unknown }
  | {
      ok: false;
      reason: 'syntax' | 'duplicate-key' | 'number-range';
      message: string;
      /** Where, as `$.a.b[2]` (for `duplicate-key` and `number-range`). */
      path?: string;
    };

type Frame =
  | { kind: 'object'; path: string; keys: Set<string>; key: string | undefined; expectKey: boolean }
  | { kind: 'array'; path: string; index: number };

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

const childPath = (frame: Frame | undefined): string => {
  if (!frame) return '$';
  if (frame.kind === 'array') return `${frame.path}[${frame.index}]`;
  const key = frame.key ?? '';
  return IDENTIFIER.test(key) ? `${frame.path}.${key}` : `${frame.path}[${JSON.stringify(key)}]`;
};

/** The index just past the string literal starting at `start` (a `"`); the text is known to be valid JSON. */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    // The quote ends the string unless an odd number of backslashes escapes it.
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

const NUMBER_CHAR = /[0-9eE+\-.]/;

/** Scans valid JSON text for duplicate keys and out-of-range numbers. */
function findProblem(
  text: string,
): { reason: 'duplicate-key' | 'number-range'; message: string; path: string } | undefined {
  const stack: Frame[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    const top = stack[stack.length - 1];
    if (ch === '{' || ch === '[') {
      const path = childPath(top);
      stack.push(
        ch === '{'
          ? { kind: 'object', path, keys: new Set(), key: undefined, expectKey: true }
          : { kind: 'array', path, index: 0 },
      );
      i++;
    } else if (ch === '}' || ch === ']') {
      stack.pop();
      i++;
    } else if (ch === ',') {
      if (top?.kind === 'object') top.expectKey = true;
      else if (top?.kind === 'array') top.index++;
      i++;
    } else if (ch === '"') {
      const end = stringEnd(text, i);
      if (top?.kind === 'object' && top.expectKey) {
        const raw = text.slice(i, end);
        const key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        top.key = key;
        top.expectKey = false;
        if (top.keys.has(key)) {
          const path = childPath(top);
          return {
            reason: 'duplicate-key',
            message: `duplicate key ${JSON.stringify(key)} at ${path}`,
            path,
          };
        }
        top.keys.add(key);
      }
      i = end;
    } else if (ch === '-' || (ch >= '0' && ch <= '9')) {
      let end = i + 1;
      while (end < text.length && NUMBER_CHAR.test(text[end] as string)) end++;
      const literal = text.slice(i, end);
      if (!Number.isFinite(Number(literal))) {
        const path = childPath(top);
        return {
          reason: 'number-range',
          message: `the number ${literal.length > 32 ? `${literal.slice(0, 32)}…` : literal} at ${path} is out of range`,
          path,
        };
      }
      i = end;
    } else i++;
  }
  return undefined;
}

/** Parses JSON text, refusing duplicate keys and numbers that are not finite doubles. */
export function parseStrictJson(text: string): StrictJsonResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: 'syntax', message: (error as Error).message.split('\n')[0] ?? 'not JSON' };
  }
  const problem = findProblem(text);
  return problem ? { ok: false, ...problem } : { ok: true, value };
}
