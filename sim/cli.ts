/**
 * The safety simulation (`npm run sim -- --seeds 2000`).
 *
 *   node dist/sim/cli.js --seeds N [--from S]        runs seeds S .. S+N-1 (S defaults to 1)
 *   node dist/sim/cli.js --seed S [--verbose]         one run; --verbose prints its whole log
 *   options: --broken <rule>  --duration <ms of simulated time per seed>  --controller-skew <ms>  --reports <n>
 *            --peer-leases on|off (force peer promises in every scenario; default: drawn, half of them)
 *
 * Prints one line per run that broke the invariant (with the first violations and a trace excerpt for the first
 * few), and as the LAST line one JSON object with the totals. Exits 1 when any run broke the invariant.
 */
import { performance } from 'node:perf_hooks';
import { BROKEN_RULES, isBrokenRule, type BrokenRule } from './rules';
import { runSimulation, type SimResult } from './simulation';

interface CliOptions {
  from: number;
  seeds: number;
  verbose: boolean;
  brokenRule?: BrokenRule;
  durationMs?: number;
  controllerSkewMs?: number;
  peerLeases?: boolean;
  reports: number;
}

function usage(problem: string): never {
  console.error(`${problem}
usage: cli.js --seeds N [--from S] | --seed S [--verbose]
       [--broken ${BROKEN_RULES.join('|')}] [--duration MS] [--controller-skew MS] [--reports N]
       [--peer-leases on|off]`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): CliOptions {
  const options: CliOptions = { from: 1, seeds: 100, verbose: false, reports: 5 };
  let single: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    const int = () => {
      const v = value();
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) usage(`${flag}: not a non-negative integer: ${v}`);
      return n;
    };
    switch (flag) {
      case '--seeds':
        options.seeds = int();
        break;
      case '--from':
        options.from = int();
        break;
      case '--seed':
        single = int();
        break;
      case '--verbose':
        options.verbose = true;
        break;
      case '--broken': {
        const rule = value();
        if (!isBrokenRule(rule)) usage(`unknown rule ${rule}`);
        options.brokenRule = rule;
        break;
      }
      case '--duration':
        options.durationMs = int();
        break;
      case '--controller-skew':
        options.controllerSkewMs = int();
        break;
      case '--peer-leases': {
        const v = value();
        if (v !== 'on' && v !== 'off') usage(`--peer-leases: on or off, not ${v}`);
        options.peerLeases = v === 'on';
        break;
      }
      case '--reports':
        options.reports = int();
        break;
      default:
        usage(`unknown argument ${flag}`);
    }
  }
  if (single !== undefined) {
    options.from = single;
    options.seeds = 1;
  }
  return options;
}

function describe(r: SimResult): string {
  const s = r.scenario;
  const d = s.detection;
  const clocks = Object.entries(s.agentClocks)
    .map(([n, c]) => `${n} ${(c.drift * 100).toFixed(2)}%`)
    .join(', ');
  return (
    `${s.nodes.length} nodes, ${s.controllerInstances} controller instance(s); heartbeat ${d.heartbeatIntervalMs} ms × ` +
    `${d.missedHeartbeats}, lease ${d.leaseMs} ms, drift margin ${d.driftMarginMs} ms; drift: ${clocks}, ` +
    `controller ${(s.controllerClock.drift * 100).toFixed(2)}%`
  );
}

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const totals = {
    failovers: 0,
    promotions: 0,
    refusals: 0,
    rollBacks: 0,
    retries: 0,
    actions: 0,
    selfDemotions: 0,
    selfDemotionReaffirms: 0,
    peerLeaseIntervals: 0,
    peerActions: 0,
    promisesGranted: 0,
    boundRefusals: 0,
    peerConfirmations: 0,
    cpOutages: 0,
    longCpOutages: 0,
    peerPartitions: 0,
    simulatedMs: 0,
  };
  let violating = 0;
  let reported = 0;
  for (let seed = options.from; seed < options.from + options.seeds; seed++) {
    const result = runSimulation({
      seed,
      brokenRule: options.brokenRule,
      verbose: options.verbose,
      durationMs: options.durationMs,
      controllerSkewMs: options.controllerSkewMs,
      peerLeases: options.peerLeases,
    });
    totals.failovers += result.stats.revokes;
    totals.promotions += result.stats.promotions;
    totals.refusals += result.stats.refusals;
    totals.rollBacks += result.stats.rollBacks;
    totals.retries += result.stats.retries;
    totals.actions += result.stats.actions;
    totals.selfDemotions += result.stats.selfDemotions;
    totals.selfDemotionReaffirms += result.stats.selfDemotionReaffirms;
    totals.peerLeaseIntervals += result.stats.peerLeaseIntervals;
    totals.peerActions += result.stats.peerActions;
    totals.promisesGranted += result.stats.promisesGranted;
    totals.boundRefusals += result.stats.boundRefusals;
    totals.peerConfirmations += result.stats.peerConfirmations;
    totals.cpOutages += result.stats.cpOutages;
    totals.longCpOutages += result.stats.longCpOutages;
    totals.peerPartitions += result.stats.peerPartitions;
    totals.simulatedMs += result.simulatedMs;
    if (options.verbose) {
      console.log(`seed ${seed}: ${describe(result)}`);
      for (const line of result.log) console.log(line);
      console.log(`stats ${JSON.stringify(result.stats)}`);
      console.log(`digest ${result.digest}`);
    }
    if (result.violations.length === 0) continue;
    violating++;
    const first = result.violations.slice(0, 3).map((v) => `[${v.invariant} ${v.kind}] ${v.message}`);
    console.log(`seed ${seed}: ${result.violations.length} violation(s): ${first.join(' | ')}`);
    if (reported++ < options.reports) {
      console.log(`  scenario: ${describe(result)}`);
      console.log('  trace before the first violation:');
      for (const line of result.excerpt) console.log(`    ${line}`);
    }
  }
  const summary = {
    seeds: options.seeds,
    violations: violating,
    failovers: totals.failovers,
    promotions: totals.promotions,
    refusals: totals.refusals,
    rollBacks: totals.rollBacks,
    retries: totals.retries,
    actions: totals.actions,
    selfDemotions: totals.selfDemotions,
    selfDemotionReaffirms: totals.selfDemotionReaffirms,
    peerLeaseIntervals: totals.peerLeaseIntervals,
    peerActions: totals.peerActions,
    promisesGranted: totals.promisesGranted,
    boundRefusals: totals.boundRefusals,
    peerConfirmations: totals.peerConfirmations,
    cpOutages: totals.cpOutages,
    longCpOutages: totals.longCpOutages,
    peerPartitions: totals.peerPartitions,
    simulatedHours: Number((totals.simulatedMs / 3_600_000).toFixed(2)),
    wallMs: Math.round(performance.now() - started),
    ...(options.brokenRule ? { brokenRule: options.brokenRule } : {}),
    ...(options.peerLeases === undefined ? {} : { peerLeases: options.peerLeases }),
  };
  console.log(JSON.stringify(summary));
  process.exitCode = violating > 0 ? 1 : 0;
}

main();
