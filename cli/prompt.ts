import { createInterface } from 'node:readline';

export type Answer = 'continue' | 'exit' | 'no-answer';

/**
 * Asks `Continue(c)/Exit(e)?` on stdin until it gets `c` or `e` (case-insensitive, `continue`/`exit` too);
 * `no-answer` when stdin ends first.
 */
export async function askContinue(
  input: NodeJS.ReadableStream,
  write: (text: string) => void,
): Promise<Answer> {
  const lines = createInterface({ input, terminal: false, crlfDelay: Infinity });
  const iterator = lines[Symbol.asyncIterator]();
  try {
    for (;;) {
      write('Continue(c)/Exit(e)? ');
      const next = await iterator.next();
      if (next.done) {
        write('\n');
        return 'no-answer';
      }
      // A terminal echoes the answer and its newline; piped answers are not echoed: end the line ourselves.
      if ((input as { isTTY?: boolean }).isTTY !== true) write('\n');
      const answer = String(next.value).trim().toLowerCase();
      if (answer === 'c' || answer === 'continue') return 'continue';
      if (answer === 'e' || answer === 'exit') return 'exit';
    }
  } finally {
    lines.close();
  }
}
