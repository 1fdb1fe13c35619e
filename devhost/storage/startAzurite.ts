import { mkdirSync } from 'node:fs';
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

interface AzuriteServer {
  start(): Promise<void>;
  close(): Promise<void>;
  getHttpServerAddress(): string;
}
type ServerCtor = new (config: unknown) => AzuriteServer;
type ConfigCtor = new (...args: unknown[]) => unknown;

export function connectionStringFor(host: string, ports: RunningAzurite['ports']): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=http://${host}:${ports.blob}/${AZURITE_ACCOUNT};` +
    `QueueEndpoint=http://${host}:${ports.queue}/${AZURITE_ACCOUNT};` +
    `TableEndpoint=http://${host}:${ports.table}/${AZURITE_ACCOUNT};`
  );
}

/**
 * Starts Azurite's Blob, Queue and Table servers in this process (port 0 = a free port). Loaded through Node's real
 * `require` so that it works the same inside a test runner. The positional configuration constructors are those of
 * the pinned azurite version.
 */
export async function startAzurite(options: AzuriteOptions): Promise<RunningAzurite> {
  const host = options.host ?? '127.0.0.1';
  const location = options.inMemory ? undefined : path.resolve(options.location ?? '.devhost/azurite');
  if (location) mkdirSync(location, { recursive: true });
  const req = realRequire(__filename);
  const base = path.dirname(req.resolve('azurite/package.json'));
  const load = <T>(rel: string) => (req(path.join(base, 'dist/src', rel)) as { default: T }).default;
  const BlobConfiguration = load<ConfigCtor>('blob/BlobConfiguration');
  const BlobServer = load<ServerCtor>('blob/BlobServer');
  const QueueConfiguration = load<ConfigCtor>('queue/QueueConfiguration');
  const QueueServer = load<ServerCtor>('queue/QueueServer');
  const TableConfiguration = load<ConfigCtor>('table/TableConfiguration');
  const TableServer = load<ServerCtor>('table/TableServer');
  // Azurite's telemetry is off unless initialised; make that explicit so nothing ever leaves the machine.
  const telemetry = req(path.join(base, 'dist/src/common/Telemetry')) as {
    AzuriteTelemetryClient?: { enableTelemetry?: boolean };
  };
  if (telemetry.AzuriteTelemetryClient) telemetry.AzuriteTelemetryClient.enableTelemetry = false;
  const at = (file: string) => (location ? path.join(location, file) : file);
  const extents = (name: string) => [{ locationId: 'Default', locationPath: at(name), maxConcurrency: 10 }];

  const blob = new BlobServer(
    new BlobConfiguration(
      host,
      options.ports?.blob ?? 0,
      0,
      at('__azurite_db_blob__.json'),
      at('__azurite_db_blob_extent__.json'),
      extents('__blobstorage__'),
      false,
      undefined,
      false,
      undefined,
      true,
      true,
      '',
      '',
      '',
      undefined,
      false,
      options.inMemory,
    ),
  );
  const queue = new QueueServer(
    new QueueConfiguration(
      host,
      options.ports?.queue ?? 0,
      0,
      at('__azurite_db_queue__.json'),
      at('__azurite_db_queue_extent__.json'),
      extents('__queuestorage__'),
      false,
      undefined,
      false,
      undefined,
      true,
      true,
      '',
      '',
      '',
      undefined,
      false,
      options.inMemory,
    ),
  );
  const table = new TableServer(
    new TableConfiguration(
      host,
      options.ports?.table ?? 0,
      0,
      at('__azurite_db_table__.json'),
      false,
      false,
      undefined,
      undefined,
      true,
      true,
      '',
      '',
      '',
      undefined,
      false,
      options.inMemory,
    ),
  );
  await blob.start();
  await queue.start();
  await table.start();
  const portOf = (server: AzuriteServer) => Number(new URL(server.getHttpServerAddress()).port);
  const ports = { blob: portOf(blob), queue: portOf(queue), table: portOf(table) };
  return {
    connectionString: connectionStringFor(host, ports),
    ports,
    location,
    stop: async () => {
      await Promise.allSettled([blob.close(), queue.close(), table.close()]);
    },
  };
}
