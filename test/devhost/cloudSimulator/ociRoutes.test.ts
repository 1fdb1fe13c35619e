import { generateKeyPairSync } from 'node:crypto';
import { DefaultRequestSigner, SimpleAuthenticationDetailsProvider, type Method } from 'oci-common';
import { ManualClock } from '../../../devhost/clock';
import {
  ociRoutes,
  ociSimulatorEndpoint,
  registerOciApiKey,
} from '../../../devhost/cloudSimulator/ociRoutes';
import { startCloudSimulator, type CloudSimulator } from '../../../devhost/cloudSimulator/simulatorServer';
import { ociKeyFingerprint } from '../../../shared/providers/oci/ociAuth';

const TENANCY = 'ocid1.tenancy.oc1..sim';
const USER = 'ocid1.user.oc1..sim';
const REGION = 'us-ashburn-1';
const AD = 'Uocm:US-ASHBURN-1-AD-1';
const SHAPE = 'BM.GPU.A100-v2.8';
const COMPARTMENT = 'ocid1.compartment.oc1..sim';

function apiKey(user: string) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const fingerprint = ociKeyFingerprint(publicKey);
  const signer = new DefaultRequestSigner(
    new SimpleAuthenticationDetailsProvider(TENANCY, user, fingerprint, privateKey, null),
  );
  return { publicKey, fingerprint, signer, user };
}
const key = apiKey(USER);

let sim: CloudSimulator;
const clock = new ManualClock(Date.UTC(2030, 0, 1));

/** Signs as the SDK does, then sends `sentBody` (default: the signed body). */
async function oci(
  method: Method,
  path: string,
  options: {
    body?: unknown;
    retryToken?: string;
    sentBody?: string;
    unsigned?: boolean;
    signer?: DefaultRequestSigner;
  } = {},
): Promise<{ status: number; headers: Headers; json: any }> {
  const uri = `${sim.url}${path}`;
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers = new Headers({ 'content-type': 'application/json' });
  if (options.retryToken) headers.set('opc-retry-token', options.retryToken);
  if (!options.unsigned) await (options.signer ?? key.signer).signHttpRequest({ method, uri, headers, body });
  const response = await fetch(uri, { method, headers, body: options.sentBody ?? body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : undefined };
}

const prefix = new URL(ociSimulatorEndpoint('http://x', REGION)).pathname;
const launch = (retryToken?: string) =>
  oci('POST', `${prefix}/20160918/instances`, {
    body: { compartmentId: COMPARTMENT, availabilityDomain: AD, shape: SHAPE, displayName: 'gpu-1' },
    ...(retryToken ? { retryToken } : {}),
  });

beforeAll(async () => {
  sim = await startCloudSimulator({ routes: ociRoutes, clock, transitionMs: 1000 });
  registerOciApiKey(sim.model, { tenancy: TENANCY, ...key });
});
afterAll(async () => {
  await sim.stop();
});
beforeEach(() => {
  sim.model.vms.clear();
  sim.model.faults.splice(0);
  sim.model.sizes.set(SHAPE, { name: SHAPE, family: 'gpu-a100-v2-count', cores: 8 });
  sim.model.putSite({
    cloud: 'oci',
    region: REGION,
    quotas: { 'gpu-a100-v2-count': { limit: 16 } },
    capacity: { [SHAPE]: 2 },
  });
});

describe('OCI simulator request signing', () => {
  it('refuses requests until the API public key is registered through the admin API', async () => {
    const operator = apiKey('ocid1.user.oc1..operator');
    const path = `${prefix}/20160918/instances/ocid1.instance.oc1..none`;
    const before = await oci('GET', path, { signer: operator.signer });
    expect(before.status).toBe(401);
    expect(before.json).toMatchObject({ code: 'NotAuthenticated' });

    const registered = await fetch(`${sim.url}/admin/oci/apiKeys`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        tenancy: TENANCY,
        user: operator.user,
        fingerprint: operator.fingerprint,
        publicKey: operator.publicKey,
      }),
    });
    expect(registered.status).toBe(200);

    const after = await oci('GET', path, { signer: operator.signer });
    expect(after.status).toBe(404);
    expect(after.json).toMatchObject({ code: 'NotAuthorizedOrNotFound' });
  });

  it('refuses an unsigned request and a body changed after signing', async () => {
    expect((await oci('GET', `${prefix}/20160918/instances/x`, { unsigned: true })).status).toBe(401);
    const tampered = await oci('POST', `${prefix}/20160918/instances`, {
      body: { compartmentId: COMPARTMENT, availabilityDomain: AD, shape: SHAPE },
      sentBody: JSON.stringify({
        compartmentId: COMPARTMENT,
        availabilityDomain: AD,
        shape: 'BM.GPU.A100-v2.4',
      }),
    });
    expect(tampered.status).toBe(401);
    expect(tampered.json.message).toContain('digest');
    expect(sim.model.vms.size).toBe(0);
  });
});

describe('OCI simulator instances', () => {
  it('launches an instance that is PROVISIONING, then RUNNING, and takes one node of capacity', async () => {
    const launched = await launch();
    expect(launched.status).toBe(200);
    expect(launched.json).toMatchObject({
      lifecycleState: 'PROVISIONING',
      availabilityDomain: AD,
      compartmentId: COMPARTMENT,
      shape: SHAPE,
      region: REGION,
      displayName: 'gpu-1',
    });
    expect(launched.json.id).toMatch(/^ocid1\.instance\.oc1\.us-ashburn-1\./);
    expect(sim.model.site('oci', REGION)!.capacity[SHAPE]).toBe(1);

    clock.advance(1000);
    const read = await oci('GET', `${prefix}/20160918/instances/${launched.json.id}`);
    expect(read.json.lifecycleState).toBe('RUNNING');
  });

  it('finds the region from the availability domain when the path has no region prefix', async () => {
    const launched = await oci('POST', '/20160918/instances', {
      body: { compartmentId: COMPARTMENT, availabilityDomain: AD, shape: SHAPE },
    });
    expect(launched.status).toBe(200);
    expect(sim.model.vms.get(launched.json.id)?.region).toBe(REGION);
  });

  it('answers a repeated retry token with the same instance, and refuses it for another request', async () => {
    const first = await launch('token-1');
    const again = await launch('token-1');
    expect(again.json.id).toBe(first.json.id);
    expect(sim.model.vms.size).toBe(1);

    const other = await oci('POST', `${prefix}/20160918/instances/${first.json.id}?action=STOP`, {
      retryToken: 'token-1',
    });
    expect(other.status).toBe(409);
    expect(other.json.code).toBe('Conflict');
  });

  it('stops and starts through STOPPING and STARTING on the model clock', async () => {
    const { json: created } = await launch();
    clock.advance(1000);
    const path = `${prefix}/20160918/instances/${created.id}`;

    expect((await oci('POST', `${path}?action=STOP`)).json.lifecycleState).toBe('STOPPING');
    expect((await oci('POST', `${path}?action=START`)).json).toMatchObject({ code: 'IncorrectState' });
    clock.advance(1000);
    expect((await oci('GET', path)).json.lifecycleState).toBe('STOPPED');
    expect((await oci('POST', `${path}?action=START`)).json.lifecycleState).toBe('STARTING');
    clock.advance(1000);
    expect((await oci('GET', path)).json.lifecycleState).toBe('RUNNING');
    expect((await oci('POST', `${path}?action=REBOOT`)).status).toBe(400);
  });

  it('terminates through TERMINATING to TERMINATED, and gives the capacity back', async () => {
    const { json: created } = await launch();
    const path = `${prefix}/20160918/instances/${created.id}`;

    expect((await oci('DELETE', path)).status).toBe(204);
    expect((await oci('GET', path)).json.lifecycleState).toBe('TERMINATING');
    clock.advance(1000);
    expect((await oci('GET', path)).json.lifecycleState).toBe('TERMINATED');
    expect(sim.model.vms.has(created.id)).toBe(false);
    expect(sim.model.site('oci', REGION)!.capacity[SHAPE]).toBe(2);
    expect((await oci('DELETE', path)).status).toBe(404);
  });

  it('refuses a launch beyond the limit with its numbers, and beyond capacity with Out of host capacity', async () => {
    sim.model.site('oci', REGION)!.capacity[SHAPE] = 5;
    await launch();
    await launch();

    const overLimit = await launch();
    expect(overLimit.status).toBe(400);
    expect(overLimit.json).toEqual({
      code: 'LimitExceeded',
      message: expect.stringContaining('gpu-a100-v2-count (limit 16, used 16, requested 8)'),
    });

    sim.model.site('oci', REGION)!.quotas['gpu-a100-v2-count'] = { limit: 100 };
    sim.model.site('oci', REGION)!.capacity[SHAPE] = 0;
    const noHosts = await launch();
    expect(noHosts.status).toBe(500);
    expect(noHosts.json).toEqual({ code: 'InternalError', message: 'Out of host capacity.' });
  });

  it('answers for a region that is down by dropping the connection', async () => {
    sim.model.site('oci', REGION)!.down = 'refuse';
    await expect(launch()).rejects.toThrow();
  });
});

describe('OCI simulator limits and capacity reports', () => {
  it('reports resource availability of a limit from the instances that count against it', async () => {
    await launch();
    const availability = await oci(
      'GET',
      `${prefix}/20190729/services/compute/limits/gpu-a100-v2-count/resourceAvailability?compartmentId=${TENANCY}&availabilityDomain=${AD}`,
    );
    expect(availability.json).toEqual({
      used: 8,
      available: 8,
      effectiveQuotaValue: 16,
      fractionalUsage: 8,
      fractionalAvailability: 8,
    });
    const unknown = await oci(
      'GET',
      `${prefix}/20190729/services/compute/limits/nope-count/resourceAvailability?compartmentId=${TENANCY}`,
    );
    expect(unknown.status).toBe(404);
  });

  it('reports per shape whether the AD has hosts and how many', async () => {
    const report = await oci('POST', `${prefix}/20160918/computeCapacityReports`, {
      body: {
        compartmentId: COMPARTMENT,
        availabilityDomain: AD,
        shapeAvailabilities: [{ instanceShape: SHAPE }, { instanceShape: 'BM.Unknown.1' }],
      },
    });
    expect(report.json.shapeAvailabilities).toEqual([
      { instanceShape: SHAPE, availabilityStatus: 'AVAILABLE', availableCount: 2 },
      { instanceShape: 'BM.Unknown.1', availabilityStatus: 'HARDWARE_NOT_SUPPORTED', availableCount: 0 },
    ]);
  });

  it('throttles with 429 TooManyRequests and a Retry-After header', async () => {
    sim.model.addFault({
      cloud: 'oci',
      region: REGION,
      operation: 'any',
      kind: 'Throttled',
      retryAfterSeconds: 9,
    });
    const throttled = await oci('POST', `${prefix}/20160918/computeCapacityReports`, {
      body: {
        compartmentId: COMPARTMENT,
        availabilityDomain: AD,
        shapeAvailabilities: [{ instanceShape: SHAPE }],
      },
    });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('9');
    expect(throttled.json.code).toBe('TooManyRequests');
  });
});
