import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fg from 'fast-glob';
import { realProcess, realRequire } from '../realRequire';
import { activateCoreRegistry, type CoreRegistry } from './functionsCore';
import { checkOutputBindings } from '../bindings/outputBindings';
import type { HostJson } from './hostJson';
import type { RegisteredFunction } from './registeredFunction';

/** The classes of the app's own copy of `@azure/functions`, used for every conversion to and from the wire. */
export interface FunctionsLibrary {
  HttpRequest: new (init: unknown) => unknown;
  HttpResponse: new (init?: unknown) => unknown;
  InvocationContext: new (init: unknown) => unknown;
}

export interface LoadedApp {
  directory: string;
  hostJson: HostJson;
  functions: Map<string, RegisteredFunction>;
  hooks: Map<string, ((context: unknown) => unknown)[]>;
  library: FunctionsLibrary;
  /** The files `package.json` `main` matched, in load order. */
  files: string[];
  /** The environment the app sees (local.settings.json Values applied): binding connection settings are read here. */
  env: NodeJS.ProcessEnv;
}

export class AppLoadError extends Error {
  override readonly name = 'AppLoadError';
}

export interface LoadOptions {
  log?: (level: string, message: string) => void;
  /** Environment to apply `local.settings.json` Values to; defaults to `process.env`. Existing values win. */
  env?: NodeJS.ProcessEnv;
}

function readJson<T>(file: string, what: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (error) {
    throw new AppLoadError(`${what} (${file}) is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Loads a Node v4-programming-model Functions app the way the Functions worker does: host.json, `local.settings.json`
 * Values into the environment, then every file matched by `package.json` `main` (globs allowed), capturing each
 * registration through the `@azure/functions-core` stand-in.
 */
export function loadFunctionsApp(appDirectory: string, options: LoadOptions = {}): LoadedApp {
  const directory = path.resolve(appDirectory);
  const log = options.log ?? (() => undefined);
  const env = options.env ?? realProcess.env;
  const hostFile = path.join(directory, 'host.json');
  if (!existsSync(hostFile))
    throw new AppLoadError(`No host.json in ${directory}: is this a Functions app directory?`);
  const hostJson = readJson<HostJson>(hostFile, 'host.json');
  if (hostJson.version !== '2.0')
    throw new AppLoadError(`host.json "version" must be "2.0" (found ${JSON.stringify(hostJson.version)})`);

  const settingsFile = path.join(directory, 'local.settings.json');
  if (existsSync(settingsFile)) {
    const settings = readJson<{ Values?: Record<string, unknown> }>(settingsFile, 'local.settings.json');
    for (const [key, value] of Object.entries(settings.Values ?? {})) {
      if (env[key] === undefined && ['string', 'number', 'boolean'].includes(typeof value))
        env[key] = String(value);
    }
  }

  const packageFile = path.join(directory, 'package.json');
  const main = existsSync(packageFile)
    ? readJson<{ main?: string }>(packageFile, 'package.json').main
    : undefined;
  const pattern = (main ?? 'index.js').replace(/\\/g, '/');
  const files = fg.isDynamicPattern(pattern)
    ? fg.sync(pattern, { cwd: directory, absolute: true, onlyFiles: true }).sort()
    : [path.join(directory, pattern)].filter((file) => existsSync(file));
  if (files.length === 0) {
    throw new AppLoadError(
      `package.json "main" (${pattern}) matches no file in ${directory}: did you build the app?`,
    );
  }

  const appRequire = realRequire(path.join(directory, 'package.json'));
  let functionsEntry: string;
  try {
    functionsEntry = appRequire.resolve('@azure/functions');
  } catch {
    throw new AppLoadError(
      `@azure/functions cannot be resolved from ${directory}: run npm install in the app`,
    );
  }

  // Each load starts from fresh module instances: the library caches its core API and "setup" state per module.
  forgetModules(appRequire, directory);

  const registry: CoreRegistry = {
    functions: new Map(),
    hooks: new Map(),
    programmingModel: undefined,
    log: (level, category, message) => log(level, `[${category}] ${message}`),
  };
  activateCoreRegistry(registry, functionsEntry);
  for (const file of files) {
    try {
      appRequire(file);
    } catch (error) {
      throw new AppLoadError(
        `Loading ${path.relative(directory, file)} failed: ${(error as Error).stack ?? String(error)}`,
      );
    }
  }
  const library = appRequire(functionsEntry) as FunctionsLibrary;
  try {
    checkOutputBindings(registry.functions.values(), env);
  } catch (error) {
    throw new AppLoadError((error as Error).message);
  }
  return { directory, hostJson, functions: registry.functions, hooks: registry.hooks, library, files, env };
}

function forgetModules(appRequire: NodeJS.Require, directory: string): void {
  const roots = [directory + path.sep];
  for (const pkg of ['@azure/functions', 'durable-functions']) {
    try {
      const entry = appRequire.resolve(`${pkg}/package.json`);
      roots.push(path.dirname(entry) + path.sep);
    } catch {
      // not installed in this app: nothing to forget
    }
  }
  for (const key of Object.keys(appRequire.cache)) {
    const inAppSource =
      key.startsWith(directory + path.sep) && !key.includes(`${path.sep}node_modules${path.sep}`);
    if (inAppSource || roots.slice(1).some((root) => key.startsWith(root))) delete appRequire.cache[key];
  }
}
