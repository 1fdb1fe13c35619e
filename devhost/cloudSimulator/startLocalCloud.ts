import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Clock } from '../clock';
import { ociKeyFingerprint } from '../../shared/providers/oci/ociAuth';
import { putArmScaleSet, putArmVm } from './armResources';
import { armRoutes } from './armRoutes';
import { seedDemoCloud } from './demoCloud';
import { ociRoutes, registerOciApiKey } from './ociRoutes';
import { startCloudSimulator, type CloudSimulator } from './simulatorServer';

/** The subscription, tenancy and compartment the local cloud pretends to be. */
export const LOCAL_AZURE_SUBSCRIPTION = '00000000-0000-0000-0000-00000000f00d';
export const LOCAL_OCI_TENANCY = 'ocid1.tenancy.oc1..aaaalocalfailoverplane';
export const LOCAL_OCI_USER = 'ocid1.user.oc1..aaaalocalcontrolplane';
export const LOCAL_OCI_COMPARTMENT = 'ocid1.compartment.oc1..aaaalocalgpu';

export interface LocalCloud {
  simulator: CloudSimulator;
  /** The settings that point the control plane's real SDK clients at the simulator (no code change in providers). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Starts the cloud simulator for the local stack: the demo clouds, a token the simulated ARM accepts, and a fresh
 * RSA key pair whose public half the simulated OCI verifies signatures with.
 */
export async function startLocalCloud(
  options: { clock?: Clock; transitionMs?: number } = {},
): Promise<LocalCloud> {
  const token = randomBytes(24).toString('base64url');
  const simulator = await startCloudSimulator({
    routes: [...armRoutes, ...ociRoutes],
    ...(options.clock ? { clock: options.clock } : {}),
    transitionMs: options.transitionMs ?? 1500,
    seed: (model) => {
      seedDemoCloud(model);
      const common = { subscriptionId: LOCAL_AZURE_SUBSCRIPTION, resourceGroup: 'hpc-demo' };
      putArmVm(model, {
        ...common,
        name: 'head-a',
        region: 'westeurope',
        size: 'Standard_D4s_v5',
        powerState: 'running',
      });
      putArmVm(model, {
        ...common,
        name: 'head-b',
        region: 'northeurope',
        size: 'Standard_D4s_v5',
        powerState: 'running',
      });
      putArmScaleSet(model, {
        ...common,
        name: 'gpu-westeurope',
        region: 'westeurope',
        size: 'Standard_NC24ads_A100_v4',
        instances: 2,
      });
      putArmScaleSet(model, {
        ...common,
        name: 'gpu-northeurope',
        region: 'northeurope',
        size: 'Standard_NC24ads_A100_v4',
        instances: 0,
      });
    },
  });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const fingerprint = ociKeyFingerprint(publicKey);
  registerOciApiKey(simulator.model, {
    tenancy: LOCAL_OCI_TENANCY,
    user: LOCAL_OCI_USER,
    fingerprint,
    publicKey,
  });
  return {
    simulator,
    env: {
      AZURE_SUBSCRIPTION_ID: LOCAL_AZURE_SUBSCRIPTION,
      AZURE_ARM_ENDPOINT: simulator.url,
      AZURE_CREDENTIAL: 'static',
      AZURE_STATIC_TOKEN: token,
      OCI_TENANCY_OCID: LOCAL_OCI_TENANCY,
      OCI_USER_OCID: LOCAL_OCI_USER,
      OCI_KEY_FINGERPRINT: fingerprint,
      OCI_PRIVATE_KEY: privateKey,
      OCI_COMPARTMENT_OCID: LOCAL_OCI_COMPARTMENT,
      OCI_ENDPOINT_TEMPLATE: `${simulator.url}/oci/{region}`,
    },
    stop: () => simulator.stop(),
  };
}
