import { generateKeyPairSync } from 'node:crypto';
import { SimpleAuthenticationDetailsProvider } from 'oci-common';
import type { CloudModel, SimVm } from '../../../../devhost/cloudSimulator/cloudModel';
import {
  ociRoutes,
  ociSimulatorEndpoint,
  registerOciApiKey,
} from '../../../../devhost/cloudSimulator/ociRoutes';
import type { SimRoute } from '../../../../devhost/cloudSimulator/simRoute';
import { startCloudSimulator, type CloudSimulator } from '../../../../devhost/cloudSimulator/simulatorServer';
import { ociKeyFingerprint } from '../../../../shared/providers/oci/ociAuth';
import {
  OciComputeProvider,
  type OciComputeProviderDeps,
} from '../../../../shared/providers/oci/ociComputeProvider';

export const REGION = 'eu-frankfurt-1';
export const AD = 'Uocm:EU-FRANKFURT-1-AD-1';
export const TENANCY = 'ocid1.tenancy.oc1..aaaafailoverplane';
export const USER = 'ocid1.user.oc1..aaaacontrolplane';
export const COMPARTMENT = 'ocid1.compartment.oc1..aaaagpu';
export const A100 = 'BM.GPU.A100-v2.8';
export const A10 = 'VM.GPU.A10.1';

export interface ApiKey {
  privateKey: string;
  publicKey: string;
  fingerprint: string;
}

/** A real RSA key pair, as an OCI API signing key. */
export function generateApiKey(): ApiKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKey, publicKey, fingerprint: ociKeyFingerprint(publicKey) };
}

export function authProviderFor(
  key: ApiKey,
  fingerprint = key.fingerprint,
): SimpleAuthenticationDetailsProvider {
  return new SimpleAuthenticationDetailsProvider(TENANCY, USER, fingerprint, key.privateKey, null);
}

/** One request as the simulator saw it (after routing, before the route answered). */
export interface SeenRequest {
  method: string;
  path: string;
  action: string | null;
  retryToken: string | undefined;
}

export interface OciFixture {
  sim: CloudSimulator;
  model: CloudModel;
  key: ApiKey;
  seen: SeenRequest[];
  provider(overrides?: Partial<OciComputeProviderDeps>): OciComputeProvider;
  addVm(id: string, powerState: SimVm['powerState'], size?: string): SimVm;
  /** OCI requests the simulator has received. */
  ociRequests(): number;
  /** Back to the seeded region: no VMs, faults, retry-token records or recorded requests. */
  reset(): void;
  stop(): Promise<void>;
}

/** GPU shapes in one OCI region: A100 limit 32 GPUs (4 nodes), capacity 3 nodes; A10 restricted in AD-2. */
export function seedOciRegion(model: CloudModel): void {
  model.sizes.set(A100, { name: A100, family: 'gpu-a100-v2-count', cores: 8 });
  model.sizes.set(A10, { name: A10, family: 'gpu-a10-count', cores: 1 });
  model.putSite({
    cloud: 'oci',
    region: REGION,
    quotas: { 'gpu-a100-v2-count': { limit: 32 }, 'gpu-a10-count': { limit: 8 } },
    capacity: { [A100]: 3, [A10]: 8 },
    restrictions: { [A10]: ['AD-2'] },
  });
}

/**
 * The OCI simulator on loopback with `ociRoutes` (every request recorded in `seen`), a registered API key, and a
 * provider on the real SDK pointed at it.
 */
export async function startOciFixture(
  options: { transitionMs?: number; seed?: (model: CloudModel) => void } = {},
): Promise<OciFixture> {
  const key = generateApiKey();
  const seen: SeenRequest[] = [];
  const recorded: SimRoute[] = ociRoutes.map((route) => ({
    ...route,
    handle: (request, params, model) => {
      const token = request.headers['opc-retry-token'];
      seen.push({
        method: request.method,
        path: request.url.pathname,
        action: request.url.searchParams.get('action'),
        retryToken: Array.isArray(token) ? token[0] : token,
      });
      return route.handle(request, params, model);
    },
  }));
  const seed = options.seed ?? seedOciRegion;
  const sim = await startCloudSimulator({
    routes: recorded,
    transitionMs: options.transitionMs ?? 40,
    seed: (model) => {
      seed(model);
      registerOciApiKey(model, {
        tenancy: TENANCY,
        user: USER,
        fingerprint: key.fingerprint,
        publicKey: key.publicKey,
      });
    },
  });
  const endpoint = ociSimulatorEndpoint(sim.url, REGION);
  return {
    sim,
    model: sim.model,
    key,
    seen,
    provider: (overrides = {}) =>
      new OciComputeProvider({
        authProvider: authProviderFor(key),
        region: REGION,
        compartmentId: COMPARTMENT,
        endpoints: { compute: endpoint, limits: endpoint },
        pollIntervalMs: 10,
        defaultDeadlineMs: 5000,
        requestTimeoutMs: 5000,
        ...overrides,
      }),
    addVm: (id, powerState, size = A100) => {
      const vm: SimVm = {
        id,
        name: id,
        cloud: 'oci',
        region: REGION,
        zone: AD,
        size,
        powerState,
        group: COMPARTMENT,
        createdAt: sim.model.clock.now(),
      };
      sim.model.vms.set(id, vm);
      return vm;
    },
    ociRequests: () => sim.model.requestCounts.oci,
    reset: () => {
      sim.model.vms.clear();
      sim.model.faults.splice(0);
      sim.model.idempotency.clear();
      seed(sim.model);
      seen.length = 0;
    },
    stop: () => sim.stop(),
  };
}

/**
 * The SDK `console.warn`s every failed call ("All retry attempts have exhausted ..."): keep test output to what the
 * tests say. Returns the restore function.
 */
export function quietSdkWarnings(): () => void {
  const original = console.warn.bind(console);
  const spy = jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    if (typeof args[0] === 'string' && /retry attempts|cannot be retried/i.test(args[0])) return;
    original(...args);
  });
  return () => spy.mockRestore();
}

export const instance = (ocid: string) => ({ kind: 'oci-instance', ocid }) as const;
