import { getConfig, type Config } from '../config/config';
import { AgentDirectory } from '../control/agents/agentRequests';
import { HeartbeatService } from '../control/agents/heartbeatService';
import { AuditLog } from '../stores/auditLog';
import { ClusterStore } from '../stores/clusterStore';
import { CommandAckStore } from '../stores/commandAckStore';
import { DrillSlotStore } from '../stores/drillSlotStore';
import { DrillStore } from '../stores/drillStore';
import { HeartbeatStore } from '../stores/heartbeatStore';
import { NodeCredentialStore } from '../stores/nodeCredentialStore';
import { OperationStore } from '../stores/operationStore';
import { PlacementStore } from '../stores/placementStore';
import { PoolStore } from '../stores/poolStore';
import { storageCall } from '../stores/storageCall';
import { WebhookReplayStore } from '../stores/webhookReplayStore';
import { createTableClients, ensureTables, tableNames, type TableClients } from '../stores/tableClients';
import { createBlobServiceClient, type StorageClientOptions } from '../stores/storageClients';
import { BlobWitness } from '../witness/blobWitness';
import { ProviderRegistry } from '../providers/providerRegistry';
import { hostClock, type Clock } from '../time/hostClock';

/** Everything the functions call, built once per process from the configuration: the composition root. */
export interface Services {
  config: Config;
  /** The one clock of the app: the host's (the devhost's manual clock in tests), else the system clock. */
  clock: Clock;
  clusters: ClusterStore;
  heartbeats: HeartbeatStore;
  operations: OperationStore;
  audit: AuditLog;
  /** Command acknowledgements of the agents, one row per (cluster, node, command). */
  commandAcks: CommandAckStore;
  credentials: NodeCredentialStore;
  /** Signed failover webhooks already acted on, by `webhook-id` (replay protection). */
  webhookReplay: WebhookReplayStore;
  /** Scheduled drill slots claimed, one row per (cluster, slot): a slot starts one drill across hosts. */
  drillSlots: DrillSlotStore;
  witness: BlobWitness;
  /** Capacity pools' live state (demand, headroom as last read, cool-downs). */
  pools: PoolStore;
  /** Where every pool node went and why (one record per node). */
  placements: PlacementStore;
  /** Drill reports (JSON + HTML blobs in the state account) and their index in the `drills` table. */
  drills: DrillStore;
  /** Compute providers per site (Azure, OCI), built on first use. */
  providers: ProviderRegistry;
  /** The agent-facing services; their caches live as long as the process. */
  agents: { directory: AgentDirectory; heartbeats: HeartbeatService };
  /** The table clients, built once (stores share them). */
  tables: TableClients;
  /** `clock.now()`. */
  now(): number;
  /**
   * When these services were created (the clock's time): when this host process started serving. The failure
   * detector measures an active's silence from no earlier than this, so the control plane's own outage is not
   * counted as the node's silence.
   */
  startedAt: number;
}

export interface CreateServicesOptions {
  /** What the storage clients use besides the configuration (tests: a credential, fake HTTP transports). */
  storage?: StorageClientOptions;
}

const BLOB_RETRIES = { retryOptions: { maxTries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 2000 } };

/**
 * Builds the services without touching storage (see `getServices` for the process's initialised instance). Storage
 * is reached with the configured connection strings or identities (`config.storage`, `config.witnessStorage`).
 */
export function createServices(
  config: Config,
  time: Clock | (() => number) = hostClock,
  options: CreateServicesOptions = {},
): Services {
  const clock: Clock = typeof time === 'function' ? { now: time } : time;
  const now = () => clock.now();
  const tables = createTableClients(config.storage, tableNames(config.tablePrefix), options.storage);
  const containerPrefix = `${config.tablePrefix.toLowerCase()}${config.tablePrefix ? '-' : ''}`;
  const witnessContainer = createBlobServiceClient(
    config.witnessStorage,
    BLOB_RETRIES,
    options.storage,
  ).getContainerClient(`${containerPrefix}failover-witness`);
  const drillReports = createBlobServiceClient(
    config.storage,
    BLOB_RETRIES,
    options.storage,
  ).getContainerClient(`${containerPrefix}drill-reports`);
  const base = {
    config,
    clock,
    tables,
    clusters: new ClusterStore(tables.clusters, tables.clusterState),
    heartbeats: new HeartbeatStore(tables.heartbeats),
    operations: new OperationStore(tables.operations),
    audit: new AuditLog(tables.audit),
    commandAcks: new CommandAckStore(tables.commandAcks),
    credentials: new NodeCredentialStore(tables.clusters),
    webhookReplay: new WebhookReplayStore(tables.webhookReplay),
    drillSlots: new DrillSlotStore(tables.drillSlots),
    witness: new BlobWitness(witnessContainer, { now }),
    pools: new PoolStore(tables.pools),
    placements: new PlacementStore(tables.placements),
    drills: new DrillStore(tables.drills, drillReports),
    providers: new ProviderRegistry(config.cloud, now),
    now,
    startedAt: now(),
  };
  const services = base as Services;
  const directory = new AgentDirectory(services);
  services.agents = { directory, heartbeats: new HeartbeatService(services, directory) };
  return services;
}

let services: Promise<Services> | undefined;

/**
 * The process's services, with tables and the witness container created on first use. A failed initialisation
 * (storage unreachable) is not cached — the next call tries again — and surfaces as `StorageUnavailableError`
 * (HTTP 503 with Retry-After), never as a bare 500.
 */
export function getServices(): Promise<Services> {
  services ??= (async () => {
    const created = createServices(getConfig());
    await storageCall('the control plane tables and the witness and drill reports containers', () =>
      Promise.all([
        ensureTables(created.tables),
        created.witness.ensureContainer(),
        created.drills.ensureContainer(),
      ]),
    );
    return created;
  })().catch((error: unknown) => {
    services = undefined;
    throw error;
  });
  return services;
}
