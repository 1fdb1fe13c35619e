import type { StorageConnection } from '../config/storageConnection';
import { createTableServiceClient, type StorageClientOptions } from './storageClients';

export interface StorageProbe {
  reachable: boolean;
  latencyMs: number;
  /** A short reason when unreachable; never the connection string. */
  error?: string;
}

/**
 * Checks that the storage account answers (lists one table: with an identity, that also proves the token and the
 * role assignment), within `timeoutMs`. A bare string is a connection string.
 */
export async function probeStorage(
  connection: StorageConnection | string,
  options: { timeoutMs?: number; abortSignal?: AbortSignal; clients?: StorageClientOptions } = {},
): Promise<StorageProbe> {
  const started = performance.now();
  const signal = AbortSignal.any([
    AbortSignal.timeout(options.timeoutMs ?? 2000),
    ...(options.abortSignal ? [options.abortSignal] : []),
  ]);
  try {
    const client = createTableServiceClient(
      typeof connection === 'string' ? { kind: 'connectionString', value: connection } : connection,
      { retryOptions: { maxRetries: 0 } },
      options.clients,
    );
    const pages = client.listTables().byPage({ maxPageSize: 1 });
    await Promise.race([
      pages.next(),
      new Promise((_, reject) =>
        signal.addEventListener('abort', () => reject(new Error('timed out')), { once: true }),
      ),
    ]);
    return { reachable: true, latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    const code =
      (error as { code?: string; statusCode?: number }).code ?? (error as { statusCode?: number }).statusCode;
    const reason =
      error instanceof Error && error.message === 'timed out'
        ? 'timed out'
        : `unreachable (${String(code ?? 'network error')})`;
    return { reachable: false, latencyMs: Math.round(performance.now() - started), error: reason };
  }
}
