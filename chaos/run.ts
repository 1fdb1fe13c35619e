import { parseArgs } from 'node:util';
import { runChaos } from './runChaos';
import { FAULT_KINDS, type FaultKind } from './schedule';

const USAGE = `Usage: npm run chaos -- [--seed N] [--schedules K] [--minutes M] [--clusters C] [--nodes 2|3]
                      [--without kind,kind] [--broken ignore-lease] [--keep] [--quiet]

Runs seeded fault schedules against the local stack (devhost on disk storage, the cloud simulator, real agents)
and checks what the nodes did. The last line is one JSON object (schedules, faults, failovers, violations, seed).
Exit code 0: no violation; 1: violations (printed with the seed and the schedule); 2: usage.
Fault kinds: ${FAULT_KINDS.join(', ')}.`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        seed: { type: 'string' },
        schedules: { type: 'string' },
        minutes: { type: 'string' },
        clusters: { type: 'string' },
        nodes: { type: 'string' },
        without: { type: 'string' },
        broken: { type: 'string' },
        keep: { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    process.stderr.write(`chaos: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const int = (name: string, text: string | undefined, fallback: number, min: number, max: number) => {
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new RangeError(`--${name} must be a number from ${min} to ${max}`);
    return n;
  };
  let options;
  try {
    const without = (values.without ?? '').split(',').filter(Boolean);
    const unknown = without.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
    if (unknown.length) throw new RangeError(`--without: unknown fault kind ${unknown.join(', ')}`);
    if (values.broken !== undefined && values.broken !== 'ignore-lease')
      throw new RangeError('--broken: the one broken variant is ignore-lease');
    const nodes = int('nodes', values.nodes, 3, 2, 3);
    options = {
      seed: Math.floor(int('seed', values.seed, Date.now() % 1_000_000, 0, 2 ** 32 - 1)),
      schedules: Math.floor(int('schedules', values.schedules, 4, 1, 1000)),
      minutes: int('minutes', values.minutes, 2, 0.1, 24 * 60),
      clusters: Math.floor(int('clusters', values.clusters, 3, 1, 10)),
      nodesPerCluster: nodes === 2 ? (2 as const) : (3 as const),
      without: without as FaultKind[],
      ...(values.broken ? { broken: 'ignore-lease' as const } : {}),
      ...(values.keep ? { keepFiles: true } : {}),
    };
  } catch (error) {
    process.stderr.write(`chaos: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const quiet = values.quiet === true;
  const { summary, report } = await runChaos({
    ...options,
    log: (line) => {
      if (!quiet) process.stderr.write(`${new Date().toISOString()} ${line}\n`);
    },
  });
  if (report) process.stdout.write(`${report}\n`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return summary.violations > 0 ? 1 : 0;
}

main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    process.stderr.write(
      `chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
