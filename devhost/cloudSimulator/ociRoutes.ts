import { z } from 'zod';
import type { CloudModel, Fault, FaultKind, SimSite, SimVm } from './cloudModel';
import { registerOciApiKey, verifyOciSignature } from './ociSignature';
import { downReply, SimBadRequest, type SimReply, type SimRequest, type SimRoute } from './simRoute';

export { ociKeyId, registerOciApiKey, type OciApiKey } from './ociSignature';

/**
 * The OCI compute (20160918) and limits (20190729) calls `OciComputeProvider` makes, over `CloudModel`:
 * GetInstance, InstanceAction (START, STOP, SOFTSTOP, RESET, SOFTRESET), LaunchInstance, TerminateInstance,
 * CreateComputeCapacityReport and GetResourceAvailability — with OCI's payloads, error bodies `{ code, message }` and
 * status codes, request-signature verification (401 NotAuthenticated), `opc-retry-token` idempotency, the site's
 * limits (quotas), capacity, restrictions, faults and outages.
 *
 * Real OCI has one endpoint per region; here the region is a path prefix: point the SDK clients at
 * `ociSimulatorEndpoint(simulator.url, region)`. Without the prefix, the region comes from the instance (instance
 * calls) or from the availability domain name (`<prefix>:<REGION>-AD-<n>`, e.g. `Uocm:EU-FRANKFURT-1-AD-1`).
 *
 * Lifecycle: a launch is PROVISIONING then RUNNING; START → STARTING → RUNNING; STOP and SOFTSTOP → STOPPING →
 * STOPPED; terminate → TERMINATING → TERMINATED (the instance leaves the model, gives its capacity back and answers
 * TERMINATED from then on). Each transition takes the model's `transitionMs` (+ a Slow fault's `delayMs`). A launch
 * takes one node of `site.capacity[shape]` (none left: 500 InternalError "Out of host capacity.") and counts
 * `size.cores` units against `site.quotas[size.family]` (exceeded: 400 LimitExceeded with the numbers); a restricted
 * shape is a 400 InvalidParameter. Starting a stopped instance needs no new capacity (it keeps its host).
 *
 * Faults (site region, cloud 'oci'): Throttled (429 TooManyRequests + retry-after) and ServerError (500
 * InternalServerError) on every call of their operation; OutOfHostCapacity, LimitExceeded (Oracle's message, without
 * numbers) and QuotaExceeded on START ('start') and launch ('create'); Slow lengthens the START/STOP/SOFTSTOP
 * ('stop') or launch transition. Reads, terminate, limits and capacity reports match only operation 'any'. The
 * Azure-only kinds (AllocationFailed, ZonalAllocationFailed, SkuNotAvailable) do not apply. A repeated
 * `opc-retry-token` is answered before faults are drawn.
 */

export function ociSimulatorEndpoint(simulatorUrl: string, region: string): string {
  return `${simulatorUrl.replace(/\/$/, '')}/oci/${region}`;
}

interface InstanceView {
  id: string;
  displayName: string;
  compartmentId: string;
  availabilityDomain: string;
  region: string;
  shape: string;
  lifecycleState: string;
  timeCreated: string;
}

interface OciSimState {
  provisioning: Set<string>;
  /** Instance id → when its termination completes. */
  terminating: Map<string, number>;
  terminated: Map<string, InstanceView>;
}

const states = new WeakMap<CloudModel, OciSimState>();

function simState(model: CloudModel): OciSimState {
  let state = states.get(model);
  if (!state) {
    state = { provisioning: new Set(), terminating: new Map(), terminated: new Map() };
    states.set(model, state);
  }
  return state;
}

const COMPUTE = '/20160918';
const LIMITS = '/20190729';
const READ_FAULTS: FaultKind[] = ['Throttled', 'ServerError'];
const START_FAULTS: FaultKind[] = [
  ...READ_FAULTS,
  'OutOfHostCapacity',
  'LimitExceeded',
  'QuotaExceeded',
  'Slow',
];
const STOP_FAULTS: FaultKind[] = [...READ_FAULTS, 'Slow'];

function ociError(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): SimReply {
  return { status, headers, body: { code, message } };
}

const notFound = (what: string) =>
  ociError(404, 'NotAuthorizedOrNotFound', `Authorization failed or requested resource not found: ${what}.`);
const outOfCapacity = () => ociError(500, 'InternalError', 'Out of host capacity.');

function limitExceeded(
  scope: string,
  numbers?: { limit: number; usage: number; required: number },
): SimReply {
  const detail = numbers
    ? ` (limit ${numbers.limit}, used ${numbers.usage}, requested ${numbers.required})`
    : '';
  return ociError(
    400,
    'LimitExceeded',
    `The following service limits were exceeded: ${scope}${detail}. ` +
      'Request a service limit increase from the service limits page in the console.',
  );
}

function regionFromAvailabilityDomain(ad: string | null | undefined): string | undefined {
  return ad ? /^(?:[^:]*:)?([a-z]+-[a-z]+-\d+)-AD-\d+$/i.exec(ad)?.[1]?.toLowerCase() : undefined;
}

function header(request: SimRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Applies the faults of an operation: a reply to send instead, or the extra transition time of a Slow fault. */
function applyFaults(
  model: CloudModel,
  region: string,
  operation: Fault['operation'],
  kinds: FaultKind[],
  scope: string,
): { reply?: SimReply; extraMs: number } {
  const fault = model.takeFault('oci', region, operation, kinds);
  if (!fault) return { extraMs: 0 };
  switch (fault.kind) {
    case 'Throttled':
      return {
        reply: ociError(429, 'TooManyRequests', 'Too many requests for the tenancy.', {
          'retry-after': String(fault.retryAfterSeconds ?? 1),
        }),
        extraMs: 0,
      };
    case 'ServerError':
      return {
        reply: ociError(500, 'InternalServerError', 'An internal server error occurred.'),
        extraMs: 0,
      };
    case 'OutOfHostCapacity':
      return { reply: outOfCapacity(), extraMs: 0 };
    case 'LimitExceeded':
      return { reply: limitExceeded(scope), extraMs: 0 };
    case 'QuotaExceeded':
      return {
        reply: ociError(400, 'QuotaExceeded', `The following compartment quotas were exceeded: ${scope}.`),
        extraMs: 0,
      };
    default:
      return { extraMs: fault.delayMs ?? 0 };
  }
}

function lifecycleState(model: CloudModel, vm: SimVm): string {
  const state = simState(model);
  if (state.terminating.has(vm.id)) return 'TERMINATING';
  if (vm.powerState !== 'starting') state.provisioning.delete(vm.id);
  switch (vm.powerState) {
    case 'starting':
      return state.provisioning.has(vm.id) ? 'PROVISIONING' : 'STARTING';
    case 'running':
      return 'RUNNING';
    case 'stopping':
    case 'deallocating':
      return 'STOPPING';
    default:
      return 'STOPPED';
  }
}

function view(model: CloudModel, vm: SimVm): InstanceView {
  return {
    id: vm.id,
    displayName: vm.name,
    compartmentId: vm.group ?? 'ocid1.compartment.oc1..simulated',
    availabilityDomain: vm.zone ?? `SIM:${vm.region.toUpperCase()}-AD-1`,
    region: vm.region,
    shape: vm.size,
    lifecycleState: lifecycleState(model, vm),
    timeCreated: new Date(vm.createdAt).toISOString(),
  };
}

/** Completes the terminations that are due: the instance leaves the model and gives its capacity back. */
function sweep(model: CloudModel): void {
  const state = simState(model);
  const now = model.clock.now();
  for (const [id, until] of state.terminating) {
    if (until > now) continue;
    state.terminating.delete(id);
    const vm = model.vms.get(id);
    if (!vm) continue;
    state.terminated.set(id, { ...view(model, vm), lifecycleState: 'TERMINATED' });
    model.vms.delete(id);
    const site = model.site('oci', vm.region);
    if (site) site.capacity[vm.size] = (site.capacity[vm.size] ?? 0) + 1;
  }
}

const ok = (body: unknown): SimReply => ({ status: 200, body });

interface Gate {
  reply?: SimReply;
  tenancy: string;
}

/** Region down (drop the request), then the signature (401). */
function gate(model: CloudModel, request: SimRequest, site: SimSite | undefined): Gate {
  const down = downReply(site);
  if (down) return { reply: down, tenancy: '' };
  const check = verifyOciSignature(model, request);
  if (!check.ok) {
    return {
      reply: ociError(
        401,
        'NotAuthenticated',
        `The required information to complete authentication was not provided or was incorrect (${check.reason}).`,
      ),
      tenancy: '',
    };
  }
  return { tenancy: check.keyId.split('/')[0] ?? '' };
}

interface IdempotencyRecord {
  request: string;
  instanceId: string;
}

function idempotencyKey(tenancy: string, request: SimRequest): string | undefined {
  const token = header(request, 'opc-retry-token');
  return token ? `oci:${tenancy}:${token}` : undefined;
}

/** A repeat of a request with the same retry token: the instance as it is now, and no second change. */
function replay(model: CloudModel, key: string | undefined, signature: string): SimReply | undefined {
  if (key === undefined) return undefined;
  const record = model.idempotency.get(key) as IdempotencyRecord | undefined;
  if (!record) return undefined;
  if (record.request !== signature)
    return ociError(409, 'Conflict', 'The retry token was already used for a different request.');
  const vm = model.vms.get(record.instanceId);
  if (vm) return { ...ok(view(model, vm)), replayed: true };
  const gone = simState(model).terminated.get(record.instanceId);
  return gone
    ? { ...ok(gone), replayed: true }
    : ociError(409, 'InvalidatedRetryToken', 'The resource of this retry token no longer exists.');
}

function instanceRoute(
  method: string,
  handle: (request: SimRequest, id: string, model: CloudModel, region: string | undefined) => SimReply,
): SimRoute {
  return {
    cloud: 'oci',
    method,
    pattern: new RegExp(`^(?:/oci/(?<region>[^/]+))?${COMPUTE}/instances/(?<id>[^/]+)$`),
    handle: (request, params, model) => {
      sweep(model);
      const id = decodeURIComponent(params.id ?? '');
      const vm = model.vms.get(id);
      const region =
        params.region ?? (vm?.cloud === 'oci' ? vm.region : simState(model).terminated.get(id)?.region);
      return handle(request, id, model, region);
    },
  };
}

function parseBody(request: SimRequest): { body?: Record<string, unknown>; reply?: SimReply } {
  try {
    const body = request.json();
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return { reply: ociError(400, 'CannotParseRequest', 'The request body must be a JSON object.') };
    return { body: body as Record<string, unknown> };
  } catch {
    return { reply: ociError(400, 'CannotParseRequest', 'The request body is not JSON.') };
  }
}

function requireStrings(
  body: Record<string, unknown>,
  names: string[],
): { values: Record<string, string>; reply?: SimReply } {
  const values: Record<string, string> = {};
  for (const name of names) {
    const value = body[name];
    if (typeof value !== 'string' || value === '')
      return { values, reply: ociError(400, 'MissingParameter', `Missing or invalid parameter ${name}.`) };
    values[name] = value;
  }
  return { values };
}

function restricted(site: SimSite, shape: string, ad: string): boolean {
  const rule = site.restrictions?.[shape];
  if (rule === 'all') return true;
  return (rule ?? []).some((entry) => entry === ad || ad.toUpperCase().endsWith(`-${entry.toUpperCase()}`));
}

const getInstance = instanceRoute('GET', (request, id, model, region) => {
  const site = region ? model.site('oci', region) : undefined;
  const gated = gate(model, request, site);
  if (gated.reply) return gated.reply;
  const faulted = region ? applyFaults(model, region, 'any', READ_FAULTS, '') : { extraMs: 0 };
  if (faulted.reply) return faulted.reply;
  const vm = model.vms.get(id);
  if (vm?.cloud === 'oci') return ok(view(model, vm));
  const gone = simState(model).terminated.get(id);
  return gone ? ok(gone) : notFound(id);
});

const instanceAction = instanceRoute('POST', (request, id, model, region) => {
  const site = region ? model.site('oci', region) : undefined;
  const gated = gate(model, request, site);
  if (gated.reply) return gated.reply;
  const action = request.url.searchParams.get('action') ?? '';
  const vm = model.vms.get(id);
  if (!vm || vm.cloud !== 'oci' || !region) return notFound(id);
  const key = idempotencyKey(gated.tenancy, request);
  const signature = `${action} ${id}`;
  const replayed = replay(model, key, signature);
  if (replayed) return replayed;
  if (!['START', 'STOP', 'SOFTSTOP', 'RESET', 'SOFTRESET'].includes(action))
    return ociError(400, 'InvalidParameter', `Unsupported instance action ${action}.`);
  const operation = action === 'START' ? 'start' : action.endsWith('STOP') ? 'stop' : 'any';
  const kinds = operation === 'start' ? START_FAULTS : operation === 'stop' ? STOP_FAULTS : READ_FAULTS;
  const faulted = applyFaults(model, region, operation, kinds, model.sizes.get(vm.size)?.family ?? vm.size);
  if (faulted.reply) return faulted.reply;
  if (simState(model).terminating.has(id))
    return ociError(409, 'IncorrectState', `Instance ${id} is terminating.`);
  const current = lifecycleState(model, vm);
  if (operation === 'start') {
    if (current === 'STOPPING')
      return ociError(
        409,
        'IncorrectState',
        `Instance ${id} is STOPPING: it cannot be started until it is STOPPED.`,
      );
    if (current === 'STOPPED') model.transition(vm, 'starting', 'running', faulted.extraMs);
  } else if (operation === 'stop') {
    if (current !== 'STOPPED' && current !== 'STOPPING')
      model.transition(vm, 'stopping', 'stopped', faulted.extraMs);
  } else {
    if (current !== 'RUNNING')
      return ociError(
        409,
        'IncorrectState',
        `Instance ${id} is ${current}: only a running instance can be reset.`,
      );
    model.transition(vm, 'starting', 'running');
  }
  if (key !== undefined) model.idempotency.set(key, { request: signature, instanceId: id });
  return ok(view(model, vm));
});

const terminateInstance = instanceRoute('DELETE', (request, id, model, region) => {
  const site = region ? model.site('oci', region) : undefined;
  const gated = gate(model, request, site);
  if (gated.reply) return gated.reply;
  const vm = model.vms.get(id);
  if (!vm || vm.cloud !== 'oci' || !region) return notFound(id);
  const faulted = applyFaults(model, region, 'any', READ_FAULTS, '');
  if (faulted.reply) return faulted.reply;
  const state = simState(model);
  if (!state.terminating.has(id)) state.terminating.set(id, model.clock.now() + model.transitionMs);
  return { status: 204 };
});

const launchInstance: SimRoute = {
  cloud: 'oci',
  method: 'POST',
  pattern: new RegExp(`^(?:/oci/(?<region>[^/]+))?${COMPUTE}/instances/?$`),
  handle: (request, params, model) => {
    sweep(model);
    const parsed = parseBody(request);
    if (!parsed.body) return parsed.reply as SimReply;
    const { values, reply } = requireStrings(parsed.body, ['compartmentId', 'availabilityDomain', 'shape']);
    if (reply) return reply;
    const { compartmentId = '', availabilityDomain: ad = '', shape = '' } = values;
    const region = params.region ?? regionFromAvailabilityDomain(ad);
    const site = region ? model.site('oci', region) : undefined;
    const gated = gate(model, request, site);
    if (gated.reply) return gated.reply;
    if (!site || !region) return ociError(400, 'InvalidParameter', `Unknown availability domain ${ad}.`);
    const key = idempotencyKey(gated.tenancy, request);
    const signature = `launch ${compartmentId} ${ad} ${shape}`;
    const replayed = replay(model, key, signature);
    if (replayed) return replayed;
    const size = model.sizes.get(shape);
    if (!size) return ociError(400, 'InvalidParameter', `Shape ${shape} is not a valid shape.`);
    const faulted = applyFaults(model, region, 'create', START_FAULTS, size.family);
    if (faulted.reply) return faulted.reply;
    if (restricted(site, shape, ad))
      return ociError(
        400,
        'InvalidParameter',
        `Shape ${shape} is not available in availability domain ${ad}.`,
      );
    const shortfall = model.quotaShortfall(site, size, 1);
    if (shortfall) return limitExceeded(shortfall.scope, shortfall);
    if ((site.capacity[shape] ?? 0) < 1) return outOfCapacity();
    site.capacity[shape] = (site.capacity[shape] ?? 0) - 1;
    const id = `ocid1.instance.oc1.${region}.${model.newId('sim')}`;
    const displayName = typeof parsed.body.displayName === 'string' ? parsed.body.displayName : id;
    const vm: SimVm = {
      id,
      name: displayName,
      cloud: 'oci',
      region,
      zone: ad,
      size: shape,
      powerState: 'starting',
      group: compartmentId,
      createdAt: model.clock.now(),
    };
    model.vms.set(id, vm);
    simState(model).provisioning.add(id);
    model.transition(vm, 'starting', 'running', faulted.extraMs);
    if (key !== undefined) model.idempotency.set(key, { request: signature, instanceId: id });
    return ok(view(model, vm));
  },
};

const capacityReport: SimRoute = {
  cloud: 'oci',
  method: 'POST',
  pattern: new RegExp(`^(?:/oci/(?<region>[^/]+))?${COMPUTE}/computeCapacityReports$`),
  handle: (request, params, model) => {
    sweep(model);
    const parsed = parseBody(request);
    if (!parsed.body) return parsed.reply as SimReply;
    const { values, reply } = requireStrings(parsed.body, ['compartmentId', 'availabilityDomain']);
    if (reply) return reply;
    const { compartmentId = '', availabilityDomain: ad = '' } = values;
    const region = params.region ?? regionFromAvailabilityDomain(ad);
    const site = region ? model.site('oci', region) : undefined;
    const gated = gate(model, request, site);
    if (gated.reply) return gated.reply;
    if (!site || !region) return ociError(400, 'InvalidParameter', `Unknown availability domain ${ad}.`);
    const faulted = applyFaults(model, region, 'any', READ_FAULTS, '');
    if (faulted.reply) return faulted.reply;
    const wanted = parsed.body.shapeAvailabilities;
    if (!Array.isArray(wanted) || wanted.length === 0)
      return ociError(400, 'MissingParameter', 'Missing parameter shapeAvailabilities.');
    const shapeAvailabilities = wanted.map((entry: unknown) => {
      const requested = (entry as { instanceShape?: unknown } | null)?.instanceShape;
      const shape = typeof requested === 'string' ? requested : '';
      if (!model.sizes.has(shape) || restricted(site, shape, ad))
        return { instanceShape: shape, availabilityStatus: 'HARDWARE_NOT_SUPPORTED', availableCount: 0 };
      const available = site.capacity[shape] ?? 0;
      return {
        instanceShape: shape,
        availabilityStatus: available > 0 ? 'AVAILABLE' : 'OUT_OF_HOST_CAPACITY',
        availableCount: available,
      };
    });
    return ok({
      compartmentId,
      availabilityDomain: ad,
      shapeAvailabilities,
      timeCreated: new Date(model.clock.now()).toISOString(),
    });
  },
};

const resourceAvailability: SimRoute = {
  cloud: 'oci',
  method: 'GET',
  pattern: new RegExp(
    `^(?:/oci/(?<region>[^/]+))?${LIMITS}/services/(?<service>[^/]+)/limits/(?<limit>[^/]+)/resourceAvailability$`,
  ),
  handle: (request, params, model) => {
    sweep(model);
    const ad = request.url.searchParams.get('availabilityDomain');
    const region = params.region ?? regionFromAvailabilityDomain(ad);
    const site = region ? model.site('oci', region) : undefined;
    const gated = gate(model, request, site);
    if (gated.reply) return gated.reply;
    if (!request.url.searchParams.get('compartmentId'))
      return ociError(400, 'MissingParameter', 'Missing parameter compartmentId.');
    if (!site || !region) return ociError(400, 'InvalidParameter', 'Unknown region or availability domain.');
    const faulted = applyFaults(model, region, 'any', READ_FAULTS, '');
    if (faulted.reply) return faulted.reply;
    const limitName = decodeURIComponent(params.limit ?? '');
    const use = model.quotaUse(site)[limitName];
    if (!use) return notFound(`limit ${limitName} of service ${params.service ?? ''}`);
    const available = Math.max(0, use.limit - use.used);
    return ok({
      used: use.used,
      available,
      effectiveQuotaValue: use.limit,
      fractionalUsage: use.used,
      fractionalAvailability: available,
    });
  },
};

const apiKeySchema = z
  .object({
    tenancy: z.string().min(1),
    user: z.string().min(1),
    fingerprint: z.string().min(1),
    publicKey: z.string().includes('PUBLIC KEY'),
  })
  .strict();

/** `PUT /admin/oci/apiKeys`: register the public key of an API key, so its signed requests are accepted. */
const registerApiKey: SimRoute = {
  cloud: 'admin',
  method: 'PUT',
  pattern: /^\/admin\/oci\/apiKeys$/,
  handle: (request, _params, model) => {
    const parsed = apiKeySchema.safeParse(request.json());
    if (!parsed.success)
      throw new SimBadRequest(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    registerOciApiKey(model, parsed.data);
    const { tenancy, user, fingerprint } = parsed.data;
    return ok({ tenancy, user, fingerprint });
  },
};

export const ociRoutes: SimRoute[] = [
  registerApiKey,
  getInstance,
  instanceAction,
  terminateInstance,
  launchInstance,
  capacityReport,
  resourceAvailability,
];
