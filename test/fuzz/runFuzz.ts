/**
 * `npm run fuzz`: every HTTP route of the control plane fuzzed against one in-process devhost on Azurite.
 *   FUZZ_RUNS   requests per route and method (default 10000)
 *   FUZZ_SEED   the seed (default: random, printed); a failure prints the seed that replays it
 *   FUZZ_ROUTES comma-separated `<route> <METHOD>` entries to fuzz (default: all)
 *   FUZZ_BATCH  largest batch of requests between two state comparisons (default 25)
 *   FUZZ_VERBOSE=1 also prints each route's refusals by status and error code
 * Prints one line per route, then one JSON line: {requests, routes, failures, seed, seconds}. Exit code 1 on a failure.
 */
import { FuzzSession } from './fuzzRunner';

function intSetting(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer`);
  return value;
}

async function main(): Promise<number> {
  const runs = intSetting('FUZZ_RUNS', 10_000);
  const seed = intSetting('FUZZ_SEED', Math.floor(Math.random() * 2 ** 31));
  const batch = intSetting('FUZZ_BATCH', 25);
  const only = process.env.FUZZ_ROUTES?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  console.log(`fuzzing with seed ${seed}, ${runs} requests per route${only ? ` (${only.join(', ')})` : ''}`);
  const session = await FuzzSession.start();
  try {
    const summary = await session.run({
      runs,
      seed,
      batch,
      verbose: process.env.FUZZ_VERBOSE === '1',
      ...(only?.length ? { only } : {}),
      log: (line) => console.log(line),
    });
    console.log(
      JSON.stringify({
        requests: summary.requests,
        routes: summary.routes,
        failures: summary.failures,
        seed: summary.seed,
        seconds: Math.round(summary.ms / 1000),
      }),
    );
    return summary.failures === 0 ? 0 : 1;
  } finally {
    await session.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
