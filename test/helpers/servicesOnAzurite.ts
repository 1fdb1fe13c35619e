import { randomBytes } from 'node:crypto';
import { startAzurite, type RunningAzurite } from '../../devhost';
import { loadConfig } from '../../shared/config/config';
import { createServices, type Services } from '../../shared/services/services';
import { createTableClients, ensureTables, tableNames } from '../../shared/stores/tableClients';

export interface ServicesOnAzurite {
  azurite: RunningAzurite;
  services: Services;
}

/**
 * The control plane's services on an in-memory Azurite of their own, with the tables and the witness and drill reports
 * created, reading time from `now` (a test's clock); `env` adds settings (e.g. the cloud simulator's).
 */
export async function servicesOnAzurite(
  tablePrefix: string,
  now: () => number,
  env: Record<string, string> = {},
): Promise<ServicesOnAzurite> {
  const azurite = await startAzurite({ inMemory: true });
  const config = loadConfig({
    AzureWebJobsStorage: azurite.connectionString,
    NODE_KEY_MASTER: randomBytes(32).toString('base64'),
    TABLE_PREFIX: tablePrefix,
    ...env,
  });
  await ensureTables(createTableClients(config.storage, tableNames(config.tablePrefix)));
  const services = createServices(config, now);
  await Promise.all([services.witness.ensureContainer(), services.drills.ensureContainer()]);
  return { azurite, services };
}
