import path from 'node:path';
import { parseArgs } from 'node:util';
import { triggerKindOf } from './app/registeredFunction';
import { ManualClock, systemClock } from './clock';
import { CRASH_AT_ENV, CrashAtSyntaxError, parseCrashAt } from './durable/crashPoint';
import { startDevhost, type StorageChoice } from './startDevhost';
import { DEMO_USAGE, demoBanner, runDemoCli } from './demo/demoCli';

const USAGE = `Usage: devhost start [--app DIR] [--port N] [--storage memory|disk|<connection string>]
                     [--data-dir DIR] [--hub NAME] [--clock system|manual] [--cloud simulator|none] [--json]
                     [--demo | --no-demo]
       ${DEMO_USAGE}

Runs an Azure Functions (Node v4 model) app locally with Durable Functions on Azurite.
  --app       the Functions app directory (default: .)
  --port      the HTTP port (default: 7071; 0 = any free port)
  --storage   memory (nothing kept), disk (default; under --data-dir) or an Azure Storage connection string
  --data-dir  where disk storage and keys.json live (default: <app>/.devhost)
  --hub       durable task hub name (default: host.json extensions.durableTask.hubName)
  --clock     manual: time moves only through POST /admin/devhost/clock {"advanceMs": N} (master key)
  --cloud     simulator (default): a local ARM and OCI compute simulator the app's providers talk to; none: off
  --json      print one JSON line {"url", "rpcBaseUrl", "keys", ...} once ready (for scripts)
  --demo      declare the demo clusters and run real agents for their nodes (devhost/demo; npm start does)
  --no-demo   no demo fleet (wins over --demo: npm start -- --no-demo)
  --crash-at  TESTS ONLY: activity:<n>:after-side-effect|after-recorded kills the process (SIGKILL) at the n-th
              activity execution, before or after its completion is recorded (crash-recovery tests)`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CliOptions {
  appDir: string;
  port: number;
  storage: StorageChoice;
  dataDir?: string;
  hub?: string;
  clock: 'system' | 'manual';
  cloud: 'simulator' | 'none';
  json: boolean;
  /** Declare the demo clusters and run their agents (`--demo`, as `npm start` passes; `--no-demo` wins). */
  demo: boolean;
  /** Tests only: the crash point (`activity:<n>:<when>`), handed to the engine as DEVHOST_CRASH_AT. */
  crashAt?: string;
}

export function parseCli(argv: string[]): CliOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      app: { type: 'string' },
      port: { type: 'string' },
      storage: { type: 'string' },
      'data-dir': { type: 'string' },
      hub: { type: 'string' },
      clock: { type: 'string' },
      cloud: { type: 'string' },
      json: { type: 'boolean' },
      demo: { type: 'boolean' },
      'no-demo': { type: 'boolean' },
      'crash-at': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) throw new UsageError(USAGE);
  const command = positionals[0] ?? 'start';
  if (command !== 'start' || positionals.length > 1)
    throw new UsageError(`Unknown command "${positionals.join(' ')}".\n\n${USAGE}`);
  const port = values.port === undefined ? 7071 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be 0-65535, not "${values.port}"`);
  const storageArg = values.storage ?? 'disk';
  const storage: StorageChoice =
    storageArg === 'memory' || storageArg === 'disk'
      ? storageArg
      : storageArg.includes('=')
        ? { connectionString: storageArg }
        : 'disk';
  if (storageArg !== 'memory' && storageArg !== 'disk' && !storageArg.includes('=')) {
    throw new UsageError(
      `--storage must be memory, disk or a connection string (Key=Value;...), not "${storageArg}"`,
    );
  }
  const clock = values.clock ?? 'system';
  if (clock !== 'system' && clock !== 'manual')
    throw new UsageError(`--clock must be system or manual, not "${clock}"`);
  const cloud = values.cloud ?? 'simulator';
  if (cloud !== 'simulator' && cloud !== 'none')
    throw new UsageError(`--cloud must be simulator or none, not "${cloud}"`);
  const crashAt = values['crash-at'];
  if (crashAt !== undefined) {
    try {
      parseCrashAt(crashAt);
    } catch (error) {
      if (error instanceof CrashAtSyntaxError) throw new UsageError(error.message);
      throw error;
    }
  }
  return {
    appDir: path.resolve(values.app ?? '.'),
    port,
    storage,
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
    ...(values.hub ? { hub: values.hub } : {}),
    clock,
    cloud,
    json: values.json === true,
    demo: values.demo === true && values['no-demo'] !== true,
    ...(crashAt !== undefined ? { crashAt } : {}),
  };
}

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'demo') {
    process.exitCode = await runDemoCli(argv.slice(1));
    return;
  }
  let options: CliOptions;
  try {
    options = parseCli(argv);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = error instanceof UsageError && argv.includes('--help') ? 0 : 2;
    return;
  }
  // Tests only: the activity dispatcher reads its crash point from the environment (devhost/durable/crashPoint.ts).
  if (options.crashAt !== undefined) process.env[CRASH_AT_ENV] = options.crashAt;
  let devhost;
  try {
    devhost = await startDevhost({
      appDir: options.appDir,
      port: options.port,
      storage: options.storage,
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      ...(options.hub ? { hubName: options.hub } : {}),
      clock: options.clock === 'manual' ? new ManualClock(Date.now()) : systemClock,
      cloudSimulator: options.cloud === 'simulator',
      demo: options.demo,
    });
  } catch (error) {
    console.error(`devhost could not start: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
    return;
  }
  const lines = [`Functions app: ${devhost.app.directory}`, '', 'Functions:'];
  for (const fn of devhost.app.functions.values()) {
    const kind = triggerKindOf(fn);
    if (kind === 'http') {
      const methods = Array.isArray(fn.trigger.methods)
        ? (fn.trigger.methods as string[]).join(',')
        : 'GET,POST';
      const prefix = devhost.app.hostJson.extensions?.http?.routePrefix ?? 'api';
      const route = typeof fn.trigger.route === 'string' ? fn.trigger.route : fn.name;
      lines.push(
        `  ${fn.name}: [${methods}] ${devhost.url}/${prefix ? `${prefix}/` : ''}${route}  (auth: ${typeof fn.trigger.authLevel === 'string' ? fn.trigger.authLevel : 'anonymous'})`,
      );
    } else if (kind === 'timer') {
      lines.push(
        `  ${fn.name}: timerTrigger ${String(fn.trigger.schedule)}${fn.trigger.runOnStartup ? ' (runOnStartup)' : ''}`,
      );
    } else {
      lines.push(`  ${fn.name}: ${fn.trigger.type}`);
    }
  }
  lines.push(
    '',
    `Storage: ${devhost.storageDescription}`,
    `Task hub: ${devhost.hubName}`,
    `Clock: ${options.clock}`,
    `Cloud: ${devhost.cloud ? `simulator at ${devhost.cloud.simulator.url} (state: GET /admin/state; ARM subscription ${devhost.cloud.env.AZURE_SUBSCRIPTION_ID})` : 'none'}`,
    '',
    'Keys (x-functions-key header or ?code=):',
    `  master (admin): ${devhost.keys.masterKey}`,
    ...Object.entries(devhost.keys.functionKeys).map(([name, key]) => `  function/${name}: ${key}`),
    ...Object.entries(devhost.keys.systemKeys).map(([name, key]) => `  system/${name}: ${key}`),
    ...(devhost.signIn
      ? [
          '',
          `Sign in: ${devhost.signIn.url}  (App Service Authentication emulated; users: ${devhost.signIn.users
            .map((u) => `${u.name} [${u.roles.join(', ')}]`)
            .join(', ')})`,
        ]
      : []),
    ...[...devhost.app.functions.values()]
      .filter((fn) => fn.trigger.route === 'portal/{*path}')
      .map(
        () =>
          `Portal: ${devhost.url}/${devhost.app.hostJson.extensions?.http?.routePrefix ?? 'api'}/portal/${devhost.signIn ? '  (sign in as one of the users above)' : '  (set AUTH_TRUST_CLIENT_PRINCIPAL=true to sign in)'}`,
      ),
    ...(devhost.demo ? ['', ...demoBanner(devhost.demo, devhost.url)] : []),
    '',
    `Host started: ${devhost.url}  (Ctrl-C to stop)`,
  );
  // Signal handlers before the line that says the host started: whoever reads it may stop the host at once.
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      console.log('Forced exit.');
      process.exit(130);
    }
    stopping = true;
    console.log(`\n${signal}: stopping (waiting for running functions; press Ctrl-C again to force)...`);
    devhost
      .stop()
      .then(() => {
        console.log('Stopped.');
        process.exit(0);
      })
      .catch((error: unknown) => {
        console.error('Stop failed:', error);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  console.log(lines.join('\n'));
  if (options.json) {
    console.log(
      JSON.stringify({
        url: devhost.url,
        rpcBaseUrl: devhost.rpcBaseUrl,
        keys: devhost.keys,
        hubName: devhost.hubName,
        connectionString: devhost.connectionString,
        demo: devhost.demo
          ? { dir: devhost.demo.dir, nodes: devhost.demo.agents.map((a) => `${a.clusterId}/${a.nodeId}`) }
          : null,
      }),
    );
  }
}
