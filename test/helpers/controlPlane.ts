import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startDevhost, type Devhost } from '../../devhost';
import type { Clock } from '../../devhost/clock';
import type { HostKeys } from '../../devhost/http/hostKeys';
import { realProcess } from '../../devhost/realRequire';
import { signRequest } from '../../shared/auth/signedRequest';

export const root = path.resolve(__dirname, '../..');

/** The settings `cloudSimulator: true` adds to the process environment (restored by `stop`). */
const CLOUD_SETTINGS = [
  'AZURE_SUBSCRIPTION_ID',
  'AZURE_ARM_ENDPOINT',
  'AZURE_CREDENTIAL',
  'AZURE_STATIC_TOKEN',
  'OCI_TENANCY_OCID',
  'OCI_USER_OCID',
  'OCI_KEY_FINGERPRINT',
  'OCI_PRIVATE_KEY',
  'OCI_COMPARTMENT_OCID',
  'OCI_ENDPOINT_TEMPLATE',
];

export interface ControlPlane {
  host: Devhost;
  adminKey: string;
  functionKey: string;
  logs: string[];
  /** The settings the app runs with (for tests that reach its storage directly through `createServices`). */
  settings: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Starts the control plane (this repository's Functions app, built) in a devhost with in-memory Azurite. The app
 * reads the real process environment, so the settings go there; each start gets its own table prefix. With
 * `cloudSimulator: true` the devhost also starts the cloud simulator (`host.cloud`) and points the app at it.
 */
export async function startControlPlane(
  env: Record<string, string> = {},
  options: { clock?: Clock; cloudSimulator?: boolean; keys?: HostKeys } = {},
): Promise<ControlPlane> {
  if (!existsSync(path.join(root, 'dist/functions/http/clusters.js')))
    throw new Error('build first: npm run build');
  const settings: Record<string, string> = {
    NODE_KEY_MASTER: randomBytes(32).toString('base64'),
    TABLE_PREFIX: `T${randomBytes(4).toString('hex')}`,
    ...env,
  };
  const previous = Object.fromEntries(
    [...Object.keys(settings), ...(options.cloudSimulator ? CLOUD_SETTINGS : [])].map((k) => [
      k,
      realProcess.env[k],
    ]),
  );
  Object.assign(realProcess.env, settings);
  const logs: string[] = [];
  const host = await startDevhost({
    appDir: root,
    port: 0,
    storage: 'memory',
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.keys ? { keys: options.keys } : {}),
    // The simulated ARM and OCI; the devhost points the app's AZURE_* / OCI_* settings at it.
    ...(options.cloudSimulator ? { cloudSimulator: true } : {}),
    log: (level, message, fields) => logs.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`),
  });
  return {
    host,
    adminKey: host.keys.masterKey,
    functionKey: host.keys.functionKeys.default as string,
    logs,
    settings: { ...settings, AzureWebJobsStorage: host.connectionString },
    async stop() {
      await host.stop();
      for (const [k, v] of Object.entries(previous)) {
        if (v === undefined) delete realProcess.env[k];
        else realProcess.env[k] = v;
      }
    },
  };
}

export function twoNodeCluster(id: string, detection: Record<string, number> = {}) {
  return {
    id,
    kind: 'active-passive',
    nodes: [
      { id: 'head-a', role: 'active', site: { cloud: 'azure', region: 'westeurope' } },
      { id: 'head-b', role: 'standby', site: { cloud: 'azure', region: 'northeurope' }, priority: 10 },
    ],
    detection,
  };
}

/** An agent's signed request, as the node agent sends it. */
export async function agentRequest(
  url: string,
  input: {
    clusterId: string;
    nodeId: string;
    key: Buffer;
    keyVersion?: number;
    seq: number;
    body: unknown;
    timestamp?: number;
    headers?: Record<string, string>;
  },
): Promise<{ status: number; json: any }> {
  const target = new URL(url);
  const body = typeof input.body === 'string' ? input.body : JSON.stringify(input.body);
  const headers = signRequest({
    method: 'POST',
    path: target.pathname,
    body,
    clusterId: input.clusterId,
    nodeId: input.nodeId,
    keyVersion: input.keyVersion ?? 1,
    timestamp: input.timestamp ?? Date.now(),
    seq: input.seq,
    key: input.key,
  });
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers, ...input.headers },
    body,
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

/** A multi-region cluster of `count` Azure VMs (about 200 bytes a node): documents larger than a table property. */
export function manyNodeCluster(id: string, count: number, resourceGroup = 'rg-hpc') {
  return {
    id,
    kind: 'multi-region',
    nodes: Array.from({ length: count }, (_, i) => ({
      id: `node-${i}`,
      role: i === 0 ? 'active' : 'standby',
      site: { cloud: 'azure', region: 'westeurope', zone: '1' },
      compute: {
        kind: 'azure-vm',
        resourceId: `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/virtualMachines/node-${i}`,
      },
    })),
  };
}
