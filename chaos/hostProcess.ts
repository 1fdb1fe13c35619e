import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** The repository's root (this file runs from chaos/ in tests and from dist/chaos/ when built). */
export function repoRoot(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    try {
      if ((JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'failover-plane') return dir;
    } catch {
      // keep looking
    }
  }
  throw new Error(`no failover-plane package.json above ${__dirname}`);
}

const root = repoRoot();
const cli = path.join(root, 'bin/devhost.js');

/** The control plane as a devhost child process: killed for real, restarted on the same storage. */
export interface HostProcess {
  process: ChildProcess;
  url: string;
  keys: { masterKey: string; functionKeys: Record<string, string>; systemKeys: Record<string, string> };
  /** Resolves when the process has exited (code, or the signal that killed it). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
}

/**
 * A copy of this repository's Functions app (its built `dist/` and `node_modules` linked, `package.json` copied) whose
 * host.json has short queue visibility timeouts, so work a killed host held is redelivered within ~2 s instead of
 * the default 5 minutes. Nothing else differs from the app `npm start` runs.
 */
export function crashTestApp(dir: string, visibility = '00:00:02'): string {
  mkdirSync(dir, { recursive: true });
  const hostJson = JSON.parse(readFileSync(path.join(root, 'host.json'), 'utf8')) as {
    extensions: { durableTask: Record<string, unknown> };
  };
  hostJson.extensions.durableTask = {
    ...hostJson.extensions.durableTask,
    storageProvider: {
      controlQueueVisibilityTimeout: visibility,
      workItemQueueVisibilityTimeout: visibility,
      maxQueuePollingInterval: '00:00:00.100',
    },
  };
  writeFileSync(path.join(dir, 'host.json'), JSON.stringify(hostJson, null, 2));
  writeFileSync(path.join(dir, 'package.json'), readFileSync(path.join(root, 'package.json')));
  symlinkSync(path.join(root, 'dist'), path.join(dir, 'dist'), 'dir');
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

/** A TCP port that was free a moment ago (the devhost restarts on the same one, so agents keep their URL). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `bin/devhost.js start` as a child process on the given storage and port (`--cloud none`: the cloud simulator
 * runs in the test process, so its state outlives the host) and waits for its JSON ready line.
 */
export function spawnHost(options: {
  appDir: string;
  dataDir: string;
  port: number;
  connectionString: string;
  hub: string;
  env: Record<string, string>;
  crashAt?: string;
  startTimeoutMs?: number;
}): Promise<HostProcess> {
  const child = spawn(
    process.execPath,
    [
      cli,
      'start',
      '--app',
      options.appDir,
      '--port',
      String(options.port),
      '--storage',
      options.connectionString,
      '--data-dir',
      options.dataDir,
      '--hub',
      options.hub,
      '--cloud',
      'none',
      '--json',
      ...(options.crashAt ? ['--crash-at', options.crashAt] : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } },
  );
  let stderr = '';
  // The latest 256 KiB (a long chaos run would otherwise hold all of it).
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 512 * 1024) stderr = stderr.slice(-256 * 1024);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`devhost did not start within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`devhost exited (${code ?? signal}) before it was ready: ${stderr}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      clearTimeout(timer);
      const ready = JSON.parse(line) as { url: string; keys: HostProcess['keys'] };
      resolve({ process: child, url: ready.url, keys: ready.keys, exited, stderr: () => stderr });
    });
  });
}

/** Stops a host gracefully (SIGTERM) and waits for it to exit; a host that already exited is left alone. */
export async function stopHost(host: HostProcess | undefined): Promise<void> {
  if (!host || host.process.exitCode !== null || host.process.signalCode !== null) return;
  host.process.kill('SIGTERM');
  await host.exited;
}
