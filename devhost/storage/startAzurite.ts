import { existsSync, mkdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { realRequire } from '../realRequire';

/** The well-known Azurite development account. It is public and only ever valid against the local emulator. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface RunningAzurite {
  connectionString: string;
  ports: { blob: number; queue: number; table: number };
  location: string | undefined;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /** Keep data in memory (tests) instead of under `location` (npm start). */
  inMemory: boolean;
  location?: string;
  host?: string;
  ports?: { blob?: number; queue?: number; table?: number };
}

export function connectionStringFor(host: string, ports: RunningAzurite['ports']): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=http://${host}:${ports.blob}/${AZURITE_ACCOUNT};` +
    `QueueEndpoint=http://${host}:${ports.queue}/${AZURITE_ACCOUNT};` +
    `TableEndpoint=http://${host}:${ports.table}/${AZURITE_ACCOUNT};`
  );
}

function packageRoot(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'devhost', 'storage', 'azuriteWorker.cjs'))) return dir;
  }
  throw new Error('devhost/storage/azuriteWorker.cjs not found above ' + __dirname);
}

type WorkerMessage =
  | { type: 'ready'; ports: RunningAzurite['ports'] }
  | { type: 'error'; message: string }
  | { type: 'stopped' };

/**
 * Starts Azurite's Blob, Queue and Table servers (port 0 = a free port) in a worker thread, so storage runs on its
 * own core and not on the engine's event loop (measured: Azurite took ~28% of the single busy thread when it ran
 * in-process). The worker is plain CommonJS loaded by Node, the same inside a test runner.
 */
export async function startAzurite(options: AzuriteOptions): Promise<RunningAzurite> {
  const host = options.host ?? '127.0.0.1';
  const location = options.inMemory ? undefined : path.resolve(options.location ?? '.devhost/azurite');
  if (location) mkdirSync(location, { recursive: true });
  const base = path.dirname(realRequire(__filename).resolve('azurite/package.json'));
  const worker = new Worker(path.join(packageRoot(), 'devhost', 'storage', 'azuriteWorker.cjs'), {
    workerData: {
      base,
      host,
      location,
      inMemory: options.inMemory,
      ports: {
        blob: options.ports?.blob ?? 0,
        queue: options.ports?.queue ?? 0,
        table: options.ports?.table ?? 0,
      },
    },
  });
  const ports = await new Promise<RunningAzurite['ports']>((resolve, reject) => {
    const onExit = (code: number) => reject(new Error(`Azurite stopped during start (exit code ${code})`));
    worker.once('exit', onExit);
    worker.once('error', reject);
    worker.once('message', (message: WorkerMessage) => {
      worker.off('exit', onExit);
      worker.off('error', reject);
      if (message.type === 'ready') resolve(message.ports);
      else
        reject(
          new Error(`Azurite could not start: ${message.type === 'error' ? message.message : message.type}`),
        );
    });
  });
  let stopped: Promise<void> | undefined;
  return {
    connectionString: connectionStringFor(host, ports),
    ports,
    location,
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.postMessage('stop');
      });
      return stopped;
    },
  };
}
