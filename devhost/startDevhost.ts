import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { acquireInstanceLock, DevhostStartError } from './instanceLock';
import { loadFunctionsApp, type LoadedApp } from './app/loadFunctionsApp';
import {
  assertLocalDurableProvider,
  parseOverridableStates,
  parseTimeSpan,
  resolveAppSettingReferences,
  type HostJson,
} from './app/hostJson';
import { triggerKindOf } from './app/registeredFunction';
import { installHostClock, isManualClock, systemClock, type Clock } from './clock';
import { DurableEngine } from './durable/durableEngine';
import type { EngineSettings, LogFn } from './durable/engineContext';
import { TaskHubStore } from './durable/taskHubStore';
import { taskHubNames } from './durable/taskHubNames';
import { handleDurableApi, type ManagementUrls } from './http/durableHttpApi';
import { createFunctionsHttpHandler } from './http/functionsHttpServer';
import { generateKeys, loadOrCreateKeys, type HostKeys } from './http/hostKeys';
import { parseRequestTarget } from './http/requestTarget';
import { answerClientError, answerEarly, jsonError, readBody, send } from './http/wire';
import { startAzurite, type RunningAzurite } from './storage/startAzurite';
import { startLocalCloud, type LocalCloud } from './cloudSimulator/startLocalCloud';
import { realGlobal, realProcess } from './realRequire';
import { TimerTriggerScheduler } from './timers/timerTriggerScheduler';
import { createEasyAuth, type EasyAuth } from './auth/easyAuth';
import { DEFAULT_APPLICATIONS, type LocalApplication } from './auth/localApplications';
import { hostKeySettings } from './auth/hostKeySettings';
import {
  DEFAULT_USERS_YAML,
  loadOrCreateLocalUsers,
  parseLocalUsers,
  type LocalUser,
} from './auth/localUsers';
import { startDemoFleet, type DemoFleet } from './demo/demoFleet';
import { handleDemoControl, isDemoControlRequest } from './demo/demoControl';

export type StorageChoice = 'memory' | 'disk' | { connectionString: string };

export interface DevhostOptions {
  /** The Functions app directory (host.json, package.json). Default: the current directory. */
  appDir?: string;
  /** Public port; 0 picks a free one. Default 7071. */
  port?: number;
  host?: string;
  /** `memory` (tests), `disk` (under `dataDir`), or an existing storage connection string. */
  storage?: StorageChoice;
  /** Where disk storage and the keys file live. Default `<appDir>/.devhost`. */
  dataDir?: string;
  /** Keys to enforce; default: read or create `<dataDir>/keys.json` (memory storage: fresh keys). */
  keys?: HostKeys;
  clock?: Clock;
  /** Overrides the task hub name from host.json (tests use one hub per run). */
  hubName?: string;
  maxRequestBodyBytes?: number;
  log?: LogFn;
  /** Environment for local.settings.json Values; default process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * Start the cloud simulator (simulated ARM and OCI with the demo clouds) and point the app's Azure and OCI
   * settings at it. Default false for the library; the CLI turns it on unless `--cloud none`.
   */
  cloudSimulator?: boolean;
  /**
   * Users of the emulated sign-in (`/.auth/login`), on when the app sets `AUTH_TRUST_CLIENT_PRINCIPAL=true`.
   * Default: `<dataDir>/users.yaml` (created with a viewer, an operator and an admin); memory storage: those three.
   */
  users?: LocalUser[];
  /**
   * Applications of the emulated tenant that call the app with a bearer token (`POST /.auth/devhost/token`), on with
   * the sign-in. Default: the Azure Monitor action groups' Secure Webhook caller with `ActionGroupsSecureWebhook`.
   */
  applications?: LocalApplication[];
  /**
   * Declare the demo clusters and run real agents for their nodes (devhost/demo), controlled under
   * `/admin/devhost/demo`; their files go to `<dataDir>/demo`. Default false; `npm start` passes `--demo` (`--no-demo` wins).
   */
  demo?: boolean;
}

export interface Devhost {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  rpcBaseUrl: string;
  keys: HostKeys;
  app: LoadedApp;
  connectionString: string;
  storageDescription: string;
  hubName: string;
  engine: DurableEngine | undefined;
  clock: Clock;
  /** Tell the host that a manual clock moved (fires timers that are now due). */
  clockAdvanced(): void;
  timers: TimerTriggerScheduler;
  /** The cloud simulator, when started (`cloudSimulator: true`). */
  cloud: LocalCloud | undefined;
  /** The users of the emulated sign-in, when the app trusts the platform's principal header. */
  signIn:
    | { users: LocalUser[]; url: string; applications: readonly LocalApplication[]; tokenUrl: string }
    | undefined;
  /** The demo fleet, when started (`demo: true`). */
  demo: DemoFleet | undefined;
  stop(): Promise<void>;
}

const DEFAULT_BODY_LIMIT = 100 * 1024 * 1024;

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** host.json when it exists and parses (else undefined: loading the app reports what is wrong with it). */
function readHostJsonIfValid(appDir: string): HostJson | undefined {
  const file = path.join(appDir, 'host.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as HostJson;
  } catch {
    return undefined;
  }
}

export const consoleLog: LogFn = (level, message, fields) => {
  const line = fields && Object.keys(fields).length ? `${message} ${JSON.stringify(fields)}` : message;
  (level === 'error' ? console.error : level === 'warn' ? console.warn : console.log)(`[${level}] ${line}`);
};

/**
 * Runs a Functions app locally the way `func start` would: loads it, serves HTTP triggers with auth levels
 * enforced, fires timer triggers, and runs Durable Functions on Azure Storage (embedded Azurite or a given account).
 */
export async function startDevhost(options: DevhostOptions = {}): Promise<Devhost> {
  const log = options.log ?? consoleLog;
  const appDir = path.resolve(options.appDir ?? '.');
  const dataDir = path.resolve(options.dataDir ?? path.join(appDir, '.devhost'));
  // Before anything starts: a host.json in its Azure form (the Durable Task Scheduler) cannot run here.
  const early = readHostJsonIfValid(appDir);
  if (early) assertLocalDurableProvider(early);
  const clock = options.clock ?? systemClock;
  const storage = options.storage ?? 'disk';
  const keys =
    options.keys ??
    (storage === 'memory' ? generateKeys() : loadOrCreateKeys(path.join(dataDir, 'keys.json')));
  const env = options.env ?? realProcess.env;
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 7071;
  // Before anything starts (Azurite on the data directory above all): the data directory's lock, then the port.
  const lock = storage === 'disk' ? acquireInstanceLock(dataDir, requestedPort) : undefined;
  const releaseOnExit = () => lock?.release();
  if (lock) realProcess.once('exit', releaseOnExit);
  const server = createServer();
  const starting = (_req: IncomingMessage, res: ServerResponse) =>
    send(res, jsonError(503, 'Starting', 'The devhost is starting; retry in a moment.'));
  server.on('request', starting);
  server.on('clientError', answerClientError);
  let port: number;
  try {
    port = await listen(server, requestedPort, host);
  } catch (error) {
    lock?.release();
    realProcess.off('exit', releaseOnExit);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new DevhostStartError(
        `port ${requestedPort} is in use: another devhost is running? use --port N`,
      );
    if (code === 'EACCES')
      throw new DevhostStartError(`port ${requestedPort} is not allowed for this user: use --port N`);
    throw error;
  }

  let cloud: LocalCloud | undefined;
  let rpcServer: Server | undefined;
  // The app reads "now" from the host's clock (shared/time/hostClock.ts): installed before the app loads.
  const uninstallClock = installHostClock(clock, [realGlobal, globalThis]);
  let azurite: RunningAzurite | undefined;
  try {
    let connectionString: string;
    let storageDescription: string;
    if (typeof storage === 'object') {
      connectionString = storage.connectionString;
      storageDescription = 'the given storage connection string';
    } else {
      azurite = await startAzurite({
        inMemory: storage === 'memory',
        location: path.join(dataDir, 'azurite'),
      });
      connectionString = azurite.connectionString;
      storageDescription =
        storage === 'memory'
          ? `embedded Azurite in memory (blob ${azurite.ports.blob}, queue ${azurite.ports.queue}, table ${azurite.ports.table})`
          : `embedded Azurite on disk at ${azurite.location} (blob ${azurite.ports.blob}, queue ${azurite.ports.queue}, table ${azurite.ports.table})`;
    }
    // The host's storage is AzureWebJobsStorage, as under the real host; the app sees the devhost's account.
    env.AzureWebJobsStorage = connectionString;
    if (options.cloudSimulator) {
      cloud = await startLocalCloud({ clock });
      Object.assign(env, cloud.env);
    }
    // The app authorizes keys itself where signed-in users must reach it: it gets the devhost's keys with roles.
    Object.assign(env, hostKeySettings(keys));
    const app = loadFunctionsApp(appDir, {
      log: (level, message) => log(level === 'error' ? 'error' : 'debug', message),
      env,
    });
    // App Service Authentication, emulated, when the app is configured to run behind it.
    let easyAuth: EasyAuth | undefined;
    let users: LocalUser[] | undefined;
    const applications = options.applications ?? DEFAULT_APPLICATIONS;
    if (env.AUTH_TRUST_CLIENT_PRINCIPAL?.trim().toLowerCase() === 'true') {
      users =
        options.users ??
        (storage === 'disk'
          ? loadOrCreateLocalUsers(path.join(dataDir, 'users.yaml'))
          : parseLocalUsers(DEFAULT_USERS_YAML));
      easyAuth = createEasyAuth(users, applications);
    }
    const durableConfig = app.hostJson.extensions?.durableTask ?? {};
    assertLocalDurableProvider(app.hostJson);
    // `%TASKHUB_NAME%` and the like resolve from the app settings, as under the real host.
    const hubName =
      options.hubName ??
      (durableConfig.hubName !== undefined
        ? resolveAppSettingReferences(durableConfig.hubName, env, 'host.json extensions.durableTask.hubName')
        : 'TestHubName');
    const hasDurable = [...app.functions.values()].some((f) =>
      ['orchestration', 'activity', 'entity'].includes(triggerKindOf(f)),
    );
    const provider = durableConfig.storageProvider ?? {};
    const cores = 2;
    const settings: EngineSettings = {
      hubName,
      controlVisibilityMs: provider.controlQueueVisibilityTimeout
        ? parseTimeSpan(provider.controlQueueVisibilityTimeout)
        : 5 * 60_000,
      workItemVisibilityMs: provider.workItemQueueVisibilityTimeout
        ? parseTimeSpan(provider.workItemQueueVisibilityTimeout)
        : 5 * 60_000,
      maxPollIdleMs: provider.maxQueuePollingInterval
        ? Math.min(parseTimeSpan(provider.maxQueuePollingInterval), 500)
        : 500,
      maxConcurrentActivities: durableConfig.maxConcurrentActivityFunctions ?? 10 * cores,
      maxConcurrentOrchestrations: durableConfig.maxConcurrentOrchestratorFunctions ?? 10 * cores,
      overridableExistingInstanceStates: parseOverridableStates(
        durableConfig.overridableExistingInstanceStates,
      ),
      policy: {
        maximumShortTimerMs: parseTimeSpan('6.00:00:00'),
        longTimerIntervalMs: parseTimeSpan('3.00:00:00'),
      },
    };
    for (const f of app.functions.values()) {
      if (triggerKindOf(f) === 'entity')
        log('warn', `Durable entity ${f.name} is registered but entities are not supported by the devhost`);
    }

    let engine: DurableEngine | undefined;
    if (hasDurable) {
      const store = new TaskHubStore(connectionString, taskHubNames(hubName));
      await store.initialize();
      // Activities may bind a durable client too; its data names the public origin, known once listening.
      engine = new DurableEngine({
        store,
        app,
        clock,
        settings,
        log,
        durableClientData: () => durableClientData(publicOrigin),
      });
    }

    // The durable client's loopback endpoint (production: localhost:17071), unauthenticated and loopback-only.
    let rpcPort = 0;
    rpcServer = createServer((req, res) => {
      void (async () => {
        try {
          const target = parseRequestTarget(req);
          if ('error' in target) {
            answerEarly(req, res, target.error);
            return;
          }
          const { url } = target;
          if (!engine || !url.pathname.startsWith('/durabletask/')) {
            answerEarly(req, res, jsonError(404, 'NotFound', 'Unknown durable RPC path'));
            return;
          }
          const body = await readBody(req, DEFAULT_BODY_LIMIT);
          send(
            res,
            await handleDurableApi(
              engine,
              managementUrls,
              url.pathname.slice('/durabletask/'.length),
              { method: (req.method ?? 'GET').toUpperCase(), url, headers: req.headers, body },
              publicOrigin,
            ),
          );
        } catch (error) {
          log('error', 'durable RPC request failed', {
            error: error instanceof Error ? error.message : String(error),
          });
          if (!res.headersSent)
            send(res, jsonError(503, 'Unavailable', 'The durable task store is not reachable; retry.'));
        }
      })();
    });
    rpcServer.on('clientError', answerClientError);
    rpcPort = await listen(rpcServer, 0, '127.0.0.1');
    const rpcBaseUrl = `http://127.0.0.1:${rpcPort}/durabletask/`;

    let publicOrigin = '';
    const systemKey = keys.systemKeys.durabletask_extension ?? keys.masterKey;
    const common = () => `taskHub=${hubName}&connection=Storage&code=${encodeURIComponent(systemKey)}`;
    const managementUrls: ManagementUrls = {
      payload(instanceId, origin) {
        const base = `${origin}/runtime/webhooks/durabletask/instances/${encodeURIComponent(instanceId)}`;
        const qs = common();
        return {
          id: instanceId,
          statusQueryGetUri: `${base}?${qs}`,
          sendEventPostUri: `${base}/raiseEvent/{eventName}?${qs}`,
          terminatePostUri: `${base}/terminate?reason={text}&${qs}`,
          rewindPostUri: `${base}/rewind?reason={text}&${qs}`,
          purgeHistoryDeleteUri: `${base}?${qs}`,
          restartPostUri: `${base}/restart?${qs}`,
          suspendPostUri: `${base}/suspend?reason={text}&${qs}`,
          resumePostUri: `${base}/resume?reason={text}&${qs}`,
        };
      },
    };
    const durableClientData = (origin: string) => {
      const base = `${origin}/runtime/webhooks/durabletask`;
      const urls = managementUrls.payload('INSTANCEID', origin);
      return {
        taskHubName: hubName,
        creationUrls: {
          createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?code=${encodeURIComponent(systemKey)}`,
          createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&code=${encodeURIComponent(systemKey)}`,
        },
        managementUrls: { ...urls, id: 'INSTANCEID' },
        baseUrl: base,
        requiredQueryStringParameters: `code=${encodeURIComponent(systemKey)}`,
        rpcBaseUrl,
      };
    };

    const timers = new TimerTriggerScheduler(
      app,
      clock,
      log,
      () => durableClientData(publicOrigin),
      (name) => /^(true|1)$/i.test(env[`AzureWebJobs.${name}.Disabled`]?.trim() ?? ''),
    );
    const clockAdvanced = () => {
      engine?.clockAdvanced();
      timers.tick();
    };
    const unsubscribe = isManualClock(clock) ? clock.onAdvance(clockAdvanced) : () => undefined;
    const routePrefix = app.hostJson.extensions?.http?.routePrefix ?? 'api';
    const functionTimeout = (app.hostJson as { functionTimeout?: string }).functionTimeout;
    const handler = createFunctionsHttpHandler({
      app,
      keys,
      engine,
      routePrefix,
      maxRequestBodyBytes:
        options.maxRequestBodyBytes ??
        app.hostJson.extensions?.http?.maxRequestBodySize ??
        DEFAULT_BODY_LIMIT,
      functionTimeoutMs: functionTimeout ? parseTimeSpan(functionTimeout) : 230_000,
      clock,
      log,
      durableClientData,
      managementUrls,
      onClockAdvanced: () => undefined, // the manual clock's listener already does it
      easyAuth,
    });
    let demo: DemoFleet | undefined;
    server.off('request', starting);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (!isDemoControlRequest(req)) return handler(req, res);
      handleDemoControl(demo, keys, req, res).catch((error: unknown) => {
        log('error', 'demo control failed', {
          error: error instanceof Error ? error.message : String(error),
        });
        if (!res.headersSent) send(res, jsonError(500, 'DemoControlFailed', 'the demo control failed'));
      });
    });
    // With a listener, Node no longer answers `Expect: 100-continue` itself: the handler sends 100 Continue only
    // after route, method, key and declared size passed, so a refused client never sends its body.
    server.on('checkContinue', handler);
    const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    publicOrigin = url;
    // durable-functions rewrites client URLs to localhost:7071 unless WEBSITE_HOSTNAME is set (spec §6.1).
    if (!realProcess.env.WEBSITE_HOSTNAME || realProcess.env.WEBSITE_HOSTNAME.includes('0.0.0.0')) {
      realProcess.env.WEBSITE_HOSTNAME = `localhost:${port}`;
    }

    for (const hook of app.hooks.get('appStart') ?? [])
      await hook({ hookData: {}, appHookData: {}, functionAppDirectory: appDir });
    engine?.start();
    timers.start();
    if (options.demo) {
      try {
        demo = await startDemoFleet({
          url,
          masterKey: keys.masterKey,
          dir: path.join(dataDir, 'demo'),
          cloud,
          fresh: storage !== 'disk',
          log,
        });
      } catch (error) {
        unsubscribe();
        await timers.stop();
        await engine?.stop();
        throw error; // the server, storage and cloud are closed below
      }
    }

    let stopped = false;
    return {
      url,
      port,
      rpcBaseUrl,
      keys,
      app,
      connectionString,
      storageDescription,
      hubName,
      engine,
      clock,
      clockAdvanced,
      timers,
      cloud,
      signIn: users
        ? { users, url: `${url}/.auth/login`, applications, tokenUrl: `${url}/.auth/devhost/token` }
        : undefined,
      demo,
      async stop() {
        if (stopped) return;
        stopped = true;
        await demo?.stop();
        unsubscribe();
        await close(server);
        await timers.stop();
        await engine?.stop();
        await close(rpcServer as Server);
        for (const hook of app.hooks.get('appTerminate') ?? []) await hook({ hookData: {}, appHookData: {} });
        await cloud?.stop();
        await azurite?.stop();
        uninstallClock();
        lock?.release();
        realProcess.off('exit', releaseOnExit);
      },
    };
  } catch (error) {
    uninstallClock();
    await close(server);
    if (rpcServer) await close(rpcServer);
    await cloud?.stop();
    await azurite?.stop();
    lock?.release();
    realProcess.off('exit', releaseOnExit);
    throw error;
  }
}
