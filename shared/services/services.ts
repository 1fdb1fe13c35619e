import { BlobServiceClient } from '@azure/storage-blob';
import { getConfig, type Config } from '../config/config';
import { AuditLog } from '../stores/auditLog';
import { ClusterStore } from '../stores/clusterStore';
import { HeartbeatStore } from '../stores/heartbeatStore';
import { NodeCredentialStore } from '../stores/nodeCredentialStore';
import { OperationStore } from '../stores/operationStore';
import { createTableClients, ensureTables, tableNames } from '../stores/tableClients';
import { BlobWitness } from '../witness/blobWitness';
import { ProviderRegistry } from '../providers/providerRegistry';

/** Everything the functions call, built once per process from the configuration. */
export interface Services {
  config: Config;
  clusters: ClusterStore;
  heartbeats: HeartbeatStore;
  operations: OperationStore;
  audit: AuditLog;
  credentials: NodeCredentialStore;
  witness: BlobWitness;
  /** Compute providers per site (Azure, OCI), built on first use. */
  providers: ProviderRegistry;
  now(): number;
}

export function createServices(config: Config, now: () => number = Date.now): Services {
  const tables = createTableClients(config.storageConnectionString, tableNames(config.tablePrefix));
  const witnessContainer = BlobServiceClient.fromConnectionString(config.witnessConnectionString, {
    retryOptions: { maxTries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 2000 },
  }).getContainerClient(
    `${config.tablePrefix.toLowerCase()}${config.tablePrefix ? '-' : ''}failover-witness`,
  );
  return {
    config,
    clusters: new ClusterStore(tables.clusters, tables.clusterState),
    heartbeats: new HeartbeatStore(tables.heartbeats),
    operations: new OperationStore(tables.operations),
    audit: new AuditLog(tables.audit),
    credentials: new NodeCredentialStore(tables.clusters),
    witness: new BlobWitness(witnessContainer),
    providers: new ProviderRegistry(config.cloud, now),
    now,
  };
}

let services: Promise<Services> | undefined;

/**
 * The process's services, with tables and the witness container created on first use. A failed initialisation
 * (storage unreachable) is not cached: the next call tries again.
 */
export function getServices(): Promise<Services> {
  services ??= (async () => {
    const created = createServices(getConfig());
    const tables = createTableClients(
      created.config.storageConnectionString,
      tableNames(created.config.tablePrefix),
    );
    await Promise.all([ensureTables(tables), created.witness.ensureContainer()]);
    return created;
  })().catch((error: unknown) => {
    services = undefined;
    throw error;
  });
  return services;
}
