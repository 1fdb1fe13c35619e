import { z } from 'zod';
import type { CloudModel, Fault, FaultKind, OperationRecord, SimSite, SimSize, SimVm } from './cloudModel';
import {
  addScaleSetInstance,
  armActions,
  armKey,
  armScaleSet,
  armScaleSetId,
  armScaleSets,
  armScaleSetVmId,
  armVmId,
  findArmVm,
  instanceIdOf,
  putArmScaleSet,
  recordArmAction,
  scaleSetInstances,
  type ArmScaleSet,
} from './armResources';
import { downReply, SimBadRequest, type SimReply, type SimRequest, type SimRoute } from './simRoute';

/** Faults an operation that places a VM (start, create, scale out) can meet. */
const ALLOCATING_FAULTS: readonly FaultKind[] = [
  'Throttled',
  'ServerError',
  'QuotaExceeded',
  'SkuNotAvailable',
  'AllocationFailed',
  'ZonalAllocationFailed',
  'Slow',
];

/**
 * The subset of the Azure Resource Manager compute API that `AzureComputeProvider` calls through the real
 * `@azure/arm-compute` client, over a `CloudModel`:
 *
 * - VM and scale-set-instance actions `start`, `powerOff` (`skipShutdown`), `deallocate`: 202 with
 *   `Azure-AsyncOperation` and `Location` pointing at an operation of this simulator; the power state moves through
 *   `CloudModel.transition` and the operation finishes with it;
 * - `instanceView` (PowerState/* and ProvisioningState/* statuses);
 * - scale sets: GET, PATCH (`sku.capacity`, `tags`: 200 + `Azure-AsyncOperation`), POST `delete` (instance ids),
 *   GET `virtualMachines`;
 * - the operation status (`{ status: InProgress|Succeeded|Failed, error? }`) and its `monitor=true` twin (`Location`);
 * - `locations/{location}/usages` and `skus?$filter=location eq '…'` from the site's quotas and restrictions.
 *
 * Every request needs `Authorization: Bearer <any token>` (401 otherwise) and an `api-version` (any). Capacity:
 * `site.capacity[size]` is what the site can still place (absent: unlimited); placing a VM (create, start from
 * deallocated) takes one, deallocating or deleting gives it back. Faults (`/admin/faults`, cloud `azure`):
 * AllocationFailed / ZonalAllocationFailed (asynchronous — the operation fails when polled — unless `async: false`),
 * QuotaExceeded (409 OperationNotAllowed with the real message and numbers), Throttled (429 + Retry-After),
 * SkuNotAvailable (409), ServerError (500), Slow (`delayMs` more per transition); reads only take `any` faults of the
 * kinds Throttled and ServerError. A site that is `down` refuses or hangs every request naming it.
 *
 * Admin: `PUT /admin/arm/scaleSets` adds a scale set (`putArmScaleSet`), `GET /admin/arm/scaleSets` lists them,
 * `GET /admin/arm/actions` shows the actions accepted (start, powerOff with skipShutdown, deallocate, scale,
 * deleteInstances). Standalone Azure VMs are added with `POST /admin/vms` using the full ARM id as `id`.
 */

const PROVIDER = String.raw`^/subscriptions/(?<sub>[^/]+)/resourceGroups/(?<rg>[^/]+)/providers/Microsoft\.Compute/`;
const VM = String.raw`virtualMachines/(?<vm>[^/]+)`;
const SS = String.raw`virtualMachineScaleSets/(?<ss>[^/]+)`;
const SS_VM = String.raw`virtualMachineScaleSets/(?<ss>[^/]+)/virtualMachines/(?<instance>[^/]+)`;
const LOCATION = String.raw`^/subscriptions/(?<sub>[^/]+)/providers/Microsoft\.Compute/locations/(?<loc>[^/]+)/`;

const re = (source: string) => new RegExp(source, 'i');

type Params = Record<string, string>;
type PowerAction = 'start' | 'powerOff' | 'deallocate';

const MESSAGES = {
  allocation:
    'Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance',
  zonalAllocation:
    'Allocation failed. We do not have sufficient capacity for the requested VM size in this zone. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance',
  throttled:
    'The server rejected the request because too many requests have been received for this subscription.',
  serverError: 'An internal execution error occurred. Please retry later.',
};

function armError(
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
  details?: unknown[],
): SimReply {
  return {
    status,
    ...(headers ? { headers } : {}),
    body: { error: { code, message, ...(details ? { details } : {}) } },
  };
}

const notFound = (type: string, name: string, resourceGroup: string) =>
  armError(
    404,
    'ResourceNotFound',
    `The Resource 'Microsoft.Compute/${type}/${name}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );

/** Every ARM route checks the bearer token and the api-version before anything else. */
function guard(request: SimRequest): SimReply | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization !== 'string' || !/^Bearer\s+\S+/i.test(authorization)) {
    return armError(
      401,
      'AuthenticationFailed',
      "Authentication failed. The 'Authorization' header is missing or not a bearer token.",
    );
  }
  if (!request.url.searchParams.get('api-version')) {
    return armError(
      400,
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.',
    );
  }
  return undefined;
}

function route(
  method: string,
  pattern: RegExp,
  handle: (request: SimRequest, params: Params, model: CloudModel) => SimReply,
): SimRoute {
  return {
    cloud: 'azure',
    method,
    pattern,
    handle: (request, params, model) => guard(request) ?? handle(request, params, model),
  };
}

function throttledReply(fault: Fault, kind: 'reads' | 'writes'): SimReply {
  return armError(
    429,
    'OperationNotAllowed',
    MESSAGES.throttled,
    {
      'Retry-After': String(fault.retryAfterSeconds ?? 30),
      [`x-ms-ratelimit-remaining-subscription-${kind}`]: '0',
    },
    [
      {
        code: 'TooManyRequests',
        target: kind === 'writes' ? 'PutVM3Min' : 'GetVM3Min',
        message: JSON.stringify({
          operationGroup: kind === 'writes' ? 'PutVM3Min' : 'GetVM3Min',
          allowedRequestCount: 0,
          measuredRequestCount: 1,
        }),
      },
    ],
  );
}

const serverErrorReply = () => armError(500, 'InternalExecutionError', MESSAGES.serverError);

function quotaReply(
  site: SimSite,
  shortfall: { scope: string; limit: number; usage: number; required: number },
): SimReply {
  const scope = shortfall.scope === 'cores' ? 'Total Regional Cores' : `${shortfall.scope} Cores`;
  return armError(
    409,
    'OperationNotAllowed',
    `Operation could not be completed as it results in exceeding approved ${scope} quota. Additional details - Deployment Model: Resource Manager, Location: ${site.region}, Current Limit: ${shortfall.limit}, Current Usage: ${shortfall.usage}, Additional Required: ${shortfall.required}, (Minimum) New Limit Required: ${shortfall.usage + shortfall.required}. Submit a request for Quota increase at https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView/Parameters/%7B%22subscriptionId%22:%22...%22%7D by specifying parameters listed in the 'Details' section for deployment to succeed. Please read more about quota limits at https://docs.microsoft.com/en-us/azure/azure-supportability/per-vm-quota-requests`,
  );
}

/** The quota numbers a QuotaExceeded fault reports: the real shortfall, or the family as if it were full. */
function faultShortfall(model: CloudModel, site: SimSite, size: SimSize, count: number) {
  const real = model.quotaShortfall(site, size, count);
  if (real) return real;
  const family = model.quotaUse(site)[size.family] ?? { limit: 0, used: 0 };
  return { scope: size.family, limit: family.used, usage: family.used, required: size.cores * count };
}

const skuNotAvailableReply = (site: SimSite, size: string) =>
  armError(
    409,
    'SkuNotAvailable',
    `The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: ${size}' is currently not available in location '${site.region}'. Please try another size or deploy to a different location or zones. See https://aka.ms/azureskunotavailable for details.`,
  );

function restricted(site: SimSite, size: string, zone: string | undefined): boolean {
  const restriction = site.restrictions?.[size];
  if (!restriction) return false;
  if (restriction === 'all') return true;
  return zone !== undefined && restriction.includes(zone);
}

const hasCapacity = (site: SimSite, size: string, count: number) => {
  const left = site.capacity[size];
  return left === undefined || left >= count;
};

function takeCapacity(site: SimSite, size: string, count: number): void {
  const left = site.capacity[size];
  if (left !== undefined) site.capacity[size] = Math.max(0, left - count);
}

function returnCapacity(site: SimSite, size: string, count: number): void {
  const left = site.capacity[size];
  if (left !== undefined) site.capacity[size] = left + count;
}

/** Holds compute (counts against capacity): anything not deallocated or on its way there. */
const holdsCompute = (vm: SimVm) => vm.powerState !== 'deallocated' && vm.target !== 'deallocated';

function newOperation(
  model: CloudModel,
  until: number,
  resourceId: string,
  error?: { code: string; message: string },
): OperationRecord {
  const op: OperationRecord = {
    id: model.newId('op-'),
    status: 'InProgress',
    until,
    resourceId,
    ...(error ? { error } : {}),
  };
  model.operations.set(op.id, op);
  return op;
}

function operationUrls(request: SimRequest, subscriptionId: string, region: string, op: OperationRecord) {
  const host = request.headers.host ?? '127.0.0.1';
  const base = `http://${host}/subscriptions/${subscriptionId}/providers/Microsoft.Compute/locations/${region.toLowerCase()}/operations/${op.id}`;
  const apiVersion = encodeURIComponent(request.url.searchParams.get('api-version') ?? '2024-07-01');
  return {
    'Azure-AsyncOperation': `${base}?p=sim&api-version=${apiVersion}`,
    Location: `${base}?p=sim&monitor=true&api-version=${apiVersion}`,
  };
}

function accepted(
  request: SimRequest,
  subscriptionId: string,
  region: string,
  op: OperationRecord,
): SimReply {
  return { status: 202, headers: { ...operationUrls(request, subscriptionId, region, op) } };
}

// ---------------------------------------------------------------------------------------------------------------
// VM actions and instance views

function resolveVm(
  model: CloudModel,
  params: Params,
): { vm: SimVm; resourceId: string } | { reply: SimReply } {
  const sub = params.sub ?? '';
  const rg = params.rg ?? '';
  if (params.ss !== undefined) {
    const ssId = armScaleSetId(sub, rg, params.ss);
    const scaleSet = armScaleSet(model, ssId);
    if (!scaleSet) return { reply: notFound('virtualMachineScaleSets', params.ss, rg) };
    const id = armScaleSetVmId(scaleSet.id, params.instance ?? '');
    const vm = findArmVm(model, id);
    if (!vm)
      return {
        reply: notFound('virtualMachineScaleSets/virtualMachines', `${params.ss}/${params.instance}`, rg),
      };
    return { vm, resourceId: vm.id };
  }
  const id = armVmId(sub, rg, params.vm ?? '');
  const vm = findArmVm(model, id);
  if (!vm || vm.group !== undefined) return { reply: notFound('virtualMachines', params.vm ?? '', rg) };
  return { vm, resourceId: vm.id };
}

function powerAction(action: PowerAction) {
  return (request: SimRequest, params: Params, model: CloudModel): SimReply => {
    const found = resolveVm(model, params);
    if ('reply' in found) return found.reply;
    const { vm } = found;
    const site = model.site('azure', vm.region);
    const down = downReply(site);
    if (down) return down;
    if (!site)
      return armError(404, 'LocationNotAvailableForResourceType', `No site ${vm.region} in the simulator`);
    const size = model.sizes.get(vm.size);
    if (!size) return serverErrorReply();
    const skipShutdown = request.url.searchParams.get('skipShutdown')?.toLowerCase() === 'true';
    const reply = act(request, params, model, vm, site, size, skipShutdown);
    // The log holds the actions Azure accepted (202), whatever became of them; refusals are not actions.
    if ('status' in reply && reply.status === 202) {
      recordArmAction(model, {
        action,
        resourceId: vm.id,
        ...(action === 'powerOff' ? { detail: { skipShutdown } } : {}),
      });
    }
    return reply;
  };

  function act(
    request: SimRequest,
    params: Params,
    model: CloudModel,
    vm: SimVm,
    site: SimSite,
    size: SimSize,
    skipShutdown: boolean,
  ): SimReply {
    const sub = params.sub ?? '';
    const now = model.clock.now();
    const done = () => accepted(request, sub, vm.region, newOperation(model, now, vm.id));

    const fault = model.takeFault(
      'azure',
      vm.region,
      action === 'start' ? 'start' : 'stop',
      action === 'start' ? ALLOCATING_FAULTS : ['Throttled', 'ServerError', 'Slow'],
    );
    if (fault?.kind === 'Throttled') return throttledReply(fault, 'writes');
    if (fault?.kind === 'ServerError') return serverErrorReply();
    const extraMs = fault?.kind === 'Slow' ? (fault.delayMs ?? model.transitionMs * 5) : 0;

    if (action === 'start') {
      if (vm.powerState === 'running' && !vm.target) return done();
      if (vm.target === 'running')
        return accepted(request, sub, vm.region, newOperation(model, vm.until ?? now, vm.id));
      if (vm.target !== undefined) {
        return armError(
          409,
          'OperationNotAllowed',
          `Operation 'start' is not allowed on VM '${vm.name}' since the VM is ${vm.powerState}.`,
        );
      }
      const allocating = vm.powerState === 'deallocated';
      if (fault?.kind === 'QuotaExceeded') return quotaReply(site, faultShortfall(model, site, size, 1));
      if (fault?.kind === 'SkuNotAvailable' || (allocating && restricted(site, vm.size, vm.zone)))
        return skuNotAvailableReply(site, vm.size);
      if (allocating) {
        const shortfall = model.quotaShortfall(site, size, 1);
        if (shortfall) return quotaReply(site, shortfall);
      }
      const allocationFault =
        fault?.kind === 'AllocationFailed' || fault?.kind === 'ZonalAllocationFailed' ? fault : undefined;
      if (allocationFault || (allocating && !hasCapacity(site, vm.size, 1))) {
        const code = allocationFault?.kind ?? (vm.zone ? 'ZonalAllocationFailed' : 'AllocationFailed');
        const message = code === 'ZonalAllocationFailed' ? MESSAGES.zonalAllocation : MESSAGES.allocation;
        if (allocationFault?.async === false) return armError(409, code, message);
        return accepted(
          request,
          sub,
          vm.region,
          newOperation(model, now + model.transitionMs, vm.id, { code, message }),
        );
      }
      if (allocating) takeCapacity(site, vm.size, 1);
      const until = model.transition(vm, 'starting', 'running', extraMs);
      return accepted(request, sub, vm.region, newOperation(model, until, vm.id));
    }

    if (action === 'powerOff') {
      if (vm.powerState === 'stopped' || vm.powerState === 'deallocated') return done();
      if (vm.target === 'stopped' || vm.target === 'deallocated')
        return accepted(request, sub, vm.region, newOperation(model, vm.until ?? now, vm.id));
      // Without skipShutdown the guest gets a graceful shutdown first: it takes longer.
      const until = model.transition(
        vm,
        'stopping',
        'stopped',
        extraMs + (skipShutdown ? 0 : model.transitionMs),
      );
      return accepted(request, sub, vm.region, newOperation(model, until, vm.id));
    }

    // deallocate
    if (vm.powerState === 'deallocated') return done();
    if (vm.target === 'deallocated')
      return accepted(request, sub, vm.region, newOperation(model, vm.until ?? now, vm.id));
    if (holdsCompute(vm)) returnCapacity(site, vm.size, 1);
    const until = model.transition(vm, 'deallocating', 'deallocated', extraMs);
    return accepted(request, sub, vm.region, newOperation(model, until, vm.id));
  }
}

const DISPLAY: Record<string, string> = {
  starting: 'VM starting',
  running: 'VM running',
  stopping: 'VM stopping',
  stopped: 'VM stopped',
  deallocating: 'VM deallocating',
  deallocated: 'VM deallocated',
};

function instanceView(_request: SimRequest, params: Params, model: CloudModel): SimReply {
  const found = resolveVm(model, params);
  if ('reply' in found) return found.reply;
  const { vm } = found;
  const down = downReply(model.site('azure', vm.region));
  if (down) return down;
  const fault = model.takeFault('azure', vm.region, 'any', ['Throttled', 'ServerError']);
  if (fault?.kind === 'Throttled') return throttledReply(fault, 'reads');
  if (fault) return serverErrorReply();
  const time = new Date(model.clock.now()).toISOString();
  const provisioning = vm.target ? 'updating' : 'succeeded';
  return {
    status: 200,
    body: {
      computerName: vm.name,
      osName: 'ubuntu',
      osVersion: '22.04',
      statuses: [
        {
          code: `ProvisioningState/${provisioning}`,
          level: 'Info',
          displayStatus: vm.target ? 'Updating' : 'Provisioning succeeded',
          time,
        },
        { code: `PowerState/${vm.powerState}`, level: 'Info', displayStatus: DISPLAY[vm.powerState] },
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Scale sets

const isScaleSet = (value: ArmScaleSet | SimReply): value is ArmScaleSet => 'nextInstanceId' in value;

function resolveScaleSet(model: CloudModel, params: Params): ArmScaleSet | SimReply {
  const rg = params.rg ?? '';
  const scaleSet = armScaleSet(model, armScaleSetId(params.sub ?? '', rg, params.ss ?? ''));
  return scaleSet ?? notFound('virtualMachineScaleSets', params.ss ?? '', rg);
}

function provisioningState(model: CloudModel, scaleSet: ArmScaleSet): string {
  const op = scaleSet.lastOperationId ? model.operations.get(scaleSet.lastOperationId) : undefined;
  if (!op || op.status === 'Succeeded') return 'Succeeded';
  return op.status === 'Failed' ? 'Failed' : 'Updating';
}

function scaleSetBody(model: CloudModel, scaleSet: ArmScaleSet) {
  return {
    id: scaleSet.id,
    name: scaleSet.name,
    type: 'Microsoft.Compute/virtualMachineScaleSets',
    location: scaleSet.region.toLowerCase(),
    tags: scaleSet.tags,
    ...(scaleSet.zones ? { zones: scaleSet.zones } : {}),
    sku: { name: scaleSet.size, tier: 'Standard', capacity: scaleSetInstances(model, scaleSet).length },
    properties: {
      provisioningState: provisioningState(model, scaleSet),
      orchestrationMode: 'Uniform',
      overprovision: false,
      singlePlacementGroup: true,
      upgradePolicy: { mode: 'Manual' },
      uniqueId: `sim-${armKey(scaleSet.name)}`,
    },
  };
}

function scaleSetVmBody(vm: SimVm) {
  return {
    id: vm.id,
    name: vm.name,
    type: 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines',
    instanceId: String(instanceIdOf(vm)),
    location: vm.region.toLowerCase(),
    ...(vm.zone !== undefined ? { zones: [vm.zone] } : {}),
    sku: { name: vm.size, tier: 'Standard' },
    properties: {
      provisioningState: vm.target === 'running' && vm.powerState === 'starting' ? 'Creating' : 'Succeeded',
      latestModelApplied: true,
      vmId: `sim-${vm.name}`,
    },
  };
}

const updateSchema = z.object({
  sku: z
    .object({ capacity: z.number().int().min(0).optional() })
    .passthrough()
    .optional(),
  tags: z.record(z.string()).optional(),
});

function updateScaleSet(request: SimRequest, params: Params, model: CloudModel): SimReply {
  const found = resolveScaleSet(model, params);
  if (!isScaleSet(found)) return found;
  const scaleSet = found;
  const site = model.site('azure', scaleSet.region);
  const down = downReply(site);
  if (down) return down;
  const size = model.sizes.get(scaleSet.size);
  if (!site || !size) return serverErrorReply();
  const parsed = updateSchema.safeParse(request.json());
  if (!parsed.success) throw new SimBadRequest(parsed.error.issues.map((i) => i.message).join('; '));
  const instances = scaleSetInstances(model, scaleSet);
  const target = parsed.data.sku?.capacity ?? instances.length;
  const delta = target - instances.length;
  const now = model.clock.now();
  let until = now;
  let error: { code: string; message: string } | undefined;

  if (delta > 0) {
    const fault = model.takeFault('azure', scaleSet.region, 'create', ALLOCATING_FAULTS);
    if (fault?.kind === 'Throttled') return throttledReply(fault, 'writes');
    if (fault?.kind === 'ServerError') return serverErrorReply();
    if (fault?.kind === 'QuotaExceeded') return quotaReply(site, faultShortfall(model, site, size, delta));
    const zonesRestricted = scaleSet.zones?.some((zone) => restricted(site, scaleSet.size, zone)) ?? false;
    if (fault?.kind === 'SkuNotAvailable' || restricted(site, scaleSet.size, undefined) || zonesRestricted)
      return skuNotAvailableReply(site, scaleSet.size);
    const shortfall = model.quotaShortfall(site, size, delta);
    if (shortfall) return quotaReply(site, shortfall);
    const allocationFault =
      fault?.kind === 'AllocationFailed' || fault?.kind === 'ZonalAllocationFailed' ? fault : undefined;
    if (allocationFault || !hasCapacity(site, scaleSet.size, delta)) {
      const code = allocationFault?.kind ?? 'AllocationFailed';
      const message = code === 'ZonalAllocationFailed' ? MESSAGES.zonalAllocation : MESSAGES.allocation;
      if (allocationFault?.async === false) return armError(409, code, message);
      error = { code, message };
      until = now + model.transitionMs;
    } else {
      takeCapacity(site, scaleSet.size, delta);
      const extraMs = fault?.kind === 'Slow' ? (fault.delayMs ?? model.transitionMs * 5) : 0;
      for (let i = 0; i < delta; i++) {
        const vm = addScaleSetInstance(model, scaleSet, 'starting');
        until = Math.max(until, model.transition(vm, 'starting', 'running', extraMs));
      }
    }
  } else if (delta < 0) {
    const fault = model.takeFault('azure', scaleSet.region, 'stop', ['Throttled', 'ServerError']);
    if (fault?.kind === 'Throttled') return throttledReply(fault, 'writes');
    if (fault) return serverErrorReply();
    for (const vm of instances.slice(delta)) {
      if (holdsCompute(vm)) returnCapacity(site, vm.size, 1);
      model.vms.delete(vm.id);
    }
    until = now + model.transitionMs;
  }
  if (parsed.data.tags) scaleSet.tags = { ...parsed.data.tags };
  recordArmAction(model, {
    action: 'scale',
    resourceId: scaleSet.id,
    detail: { from: instances.length, to: target },
  });
  const op = newOperation(model, until, scaleSet.id, error);
  scaleSet.lastOperationId = op.id;
  const body = scaleSetBody(model, scaleSet);
  return {
    status: 200,
    headers: {
      'Azure-AsyncOperation': operationUrls(request, params.sub ?? '', scaleSet.region, op)[
        'Azure-AsyncOperation'
      ],
    },
    body: { ...body, properties: { ...body.properties, provisioningState: 'Updating' } },
  };
}

const deleteSchema = z.object({ instanceIds: z.array(z.string().min(1)).min(1) });

function deleteInstances(request: SimRequest, params: Params, model: CloudModel): SimReply {
  const found = resolveScaleSet(model, params);
  if (!isScaleSet(found)) return found;
  const scaleSet = found;
  const site = model.site('azure', scaleSet.region);
  const down = downReply(site);
  if (down) return down;
  const parsed = deleteSchema.safeParse(request.json());
  if (!parsed.success) throw new SimBadRequest('instanceIds: a non-empty array of instance ids is required');
  const fault = model.takeFault('azure', scaleSet.region, 'stop', ['Throttled', 'ServerError']);
  if (fault?.kind === 'Throttled') return throttledReply(fault, 'writes');
  if (fault) return serverErrorReply();
  const byId = new Map(scaleSetInstances(model, scaleSet).map((vm) => [String(instanceIdOf(vm)), vm]));
  const unknown = parsed.data.instanceIds.filter((id) => !byId.has(id));
  if (unknown.length > 0) {
    return armError(
      400,
      'InvalidParameter',
      `The provided instanceId(s) ${unknown.join(', ')} are not active Virtual Machine Scale Set VM instanceId(s).`,
    );
  }
  recordArmAction(model, {
    action: 'deleteInstances',
    resourceId: scaleSet.id,
    detail: { instanceIds: parsed.data.instanceIds },
  });
  for (const id of parsed.data.instanceIds) {
    const vm = byId.get(id) as SimVm;
    if (site && holdsCompute(vm)) returnCapacity(site, vm.size, 1);
    model.vms.delete(vm.id);
  }
  const op = newOperation(model, model.clock.now() + model.transitionMs, scaleSet.id);
  return accepted(request, params.sub ?? '', scaleSet.region, op);
}

function readScaleSet(model: CloudModel, params: Params): ArmScaleSet | SimReply {
  const found = resolveScaleSet(model, params);
  if (!isScaleSet(found)) return found;
  const down = downReply(model.site('azure', found.region));
  if (down) return down;
  const fault = model.takeFault('azure', found.region, 'any', ['Throttled', 'ServerError']);
  if (fault?.kind === 'Throttled') return throttledReply(fault, 'reads');
  if (fault) return serverErrorReply();
  return found;
}

// ---------------------------------------------------------------------------------------------------------------
// Location-level reads: operations, usages, skus

function operationStatus(request: SimRequest, params: Params, model: CloudModel): SimReply {
  const down = downReply(model.site('azure', params.loc ?? ''));
  if (down) return down;
  const op = model.operations.get(params.op ?? '');
  if (!op) return armError(404, 'NotFound', `The operation ${params.op} was not found.`);
  if (request.url.searchParams.get('monitor')?.toLowerCase() === 'true') {
    // The `Location` twin: 202 while running, then the (empty) result of the action.
    if (op.status === 'InProgress') return { status: 202 };
    if (op.status === 'Failed')
      return armError(409, op.error?.code ?? 'Failed', op.error?.message ?? 'failed');
    return { status: 200 };
  }
  return {
    status: 200,
    body: {
      name: op.id,
      status: op.status,
      startTime: new Date(model.clock.now()).toISOString(),
      ...(op.status !== 'InProgress' ? { endTime: new Date(op.until).toISOString() } : {}),
      ...(op.status === 'Failed' && op.error ? { error: op.error } : {}),
    },
  };
}

function locationSite(model: CloudModel, location: string): SimSite | SimReply {
  const site = model.site('azure', location);
  if (!site) {
    return armError(
      404,
      'NoRegisteredProviderFound',
      `No registered resource provider found for location '${location}' and API version for type 'locations'.`,
    );
  }
  return downReply(site) ?? site;
}

const isSite = (value: SimSite | SimReply): value is SimSite => 'quotas' in value;

function usages(_request: SimRequest, params: Params, model: CloudModel): SimReply {
  const site = locationSite(model, params.loc ?? '');
  if (!isSite(site)) return site;
  const fault = model.takeFault('azure', site.region, 'any', ['Throttled', 'ServerError']);
  if (fault?.kind === 'Throttled') return throttledReply(fault, 'reads');
  if (fault) return serverErrorReply();
  const value = Object.entries(model.quotaUse(site)).map(([name, q]) => ({
    unit: 'Count',
    currentValue: q.used,
    limit: q.limit,
    name: { value: name, localizedValue: name === 'cores' ? 'Total Regional vCPUs' : `${name} vCPUs` },
  }));
  return { status: 200, body: { value } };
}

function skuEntries(model: CloudModel, site: SimSite) {
  const sizes = [...model.sizes.values()].filter(
    (size) => size.name in site.capacity || size.family in site.quotas,
  );
  return sizes.map((size) => {
    const restriction = site.restrictions?.[size.name];
    const region = site.region.toLowerCase();
    const restrictions =
      restriction === undefined
        ? []
        : restriction === 'all'
          ? [
              {
                type: 'Location',
                values: [region],
                restrictionInfo: { locations: [region] },
                reasonCode: 'NotAvailableForSubscription',
              },
            ]
          : [
              {
                type: 'Zone',
                values: [region],
                restrictionInfo: { locations: [region], zones: restriction },
                reasonCode: 'NotAvailableForSubscription',
              },
            ];
    return {
      resourceType: 'virtualMachines',
      name: size.name,
      tier: 'Standard',
      size: size.name.replace(/^Standard_/, ''),
      family: size.family,
      locations: [region],
      locationInfo: [{ location: region, zones: ['1', '2', '3'], zoneDetails: [] }],
      capabilities: [
        { name: 'vCPUs', value: String(size.cores) },
        { name: 'vCPUsAvailable', value: String(size.cores) },
      ],
      restrictions,
    };
  });
}

function skus(request: SimRequest, _params: Params, model: CloudModel): SimReply {
  const filter = request.url.searchParams.get('$filter');
  const location = filter ? /location\s+eq\s+'([^']+)'/i.exec(filter)?.[1] : undefined;
  if (filter && location === undefined)
    return armError(400, 'InvalidFilter', `Only the location filter is supported: ${filter}`);
  let sites: SimSite[];
  if (location !== undefined) {
    const site = model.site('azure', location);
    if (site) {
      const down = downReply(site);
      if (down) return down;
    }
    sites = site ? [site] : [];
  } else {
    sites = [...model.sites.values()].filter((s) => s.cloud === 'azure' && !s.down);
  }
  const fault = sites[0]
    ? model.takeFault('azure', sites[0].region, 'any', ['Throttled', 'ServerError'])
    : undefined;
  if (fault?.kind === 'Throttled') return throttledReply(fault, 'reads');
  if (fault) return serverErrorReply();
  return { status: 200, body: { value: sites.flatMap((site) => skuEntries(model, site)) } };
}

// ---------------------------------------------------------------------------------------------------------------

const scaleSetSeedSchema = z
  .object({
    subscriptionId: z.string().min(1),
    resourceGroup: z.string().min(1),
    name: z.string().min(1),
    region: z.string().min(1),
    size: z.string().min(1),
    zones: z.array(z.string()).optional(),
    tags: z.record(z.string()).optional(),
    instances: z.number().int().min(0).optional(),
  })
  .strict();

export const armRoutes: SimRoute[] = [
  route('POST', re(`${PROVIDER}${VM}/(?<action>start|powerOff|deallocate)$`), (request, params, model) =>
    powerAction(actionOf(params))(request, params, model),
  ),
  route('POST', re(`${PROVIDER}${SS_VM}/(?<action>start|powerOff|deallocate)$`), (request, params, model) =>
    powerAction(actionOf(params))(request, params, model),
  ),
  route('GET', re(`${PROVIDER}${VM}/instanceView$`), instanceView),
  route('GET', re(`${PROVIDER}${SS_VM}/instanceView$`), instanceView),
  route('GET', re(`${PROVIDER}${SS}/virtualMachines$`), (_request, params, model) => {
    const found = readScaleSet(model, params);
    if (!isScaleSet(found)) return found;
    return { status: 200, body: { value: scaleSetInstances(model, found).map(scaleSetVmBody) } };
  }),
  route('GET', re(`${PROVIDER}${SS}$`), (_request, params, model) => {
    const found = readScaleSet(model, params);
    if (!isScaleSet(found)) return found;
    return { status: 200, body: scaleSetBody(model, found) };
  }),
  route('PATCH', re(`${PROVIDER}${SS}$`), updateScaleSet),
  route('POST', re(`${PROVIDER}${SS}/delete$`), deleteInstances),
  route('GET', re(`${LOCATION}operations/(?<op>[^/]+)$`), operationStatus),
  route('GET', re(`${LOCATION}usages$`), usages),
  route('GET', re(String.raw`^/subscriptions/(?<sub>[^/]+)/providers/Microsoft\.Compute/skus$`), skus),
  {
    cloud: 'admin',
    method: 'PUT',
    pattern: /^\/admin\/arm\/scaleSets$/,
    handle: (request, _params, model) => {
      const parsed = scaleSetSeedSchema.safeParse(request.json());
      if (!parsed.success)
        throw new SimBadRequest(
          parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
        );
      if (!model.sizes.has(parsed.data.size))
        throw new SimBadRequest(`unknown size ${parsed.data.size}: POST /admin/sizes first`);
      return { status: 200, body: scaleSetBody(model, putArmScaleSet(model, parsed.data)) };
    },
  },
  {
    cloud: 'admin',
    method: 'GET',
    pattern: /^\/admin\/arm\/scaleSets$/,
    handle: (_request, _params, model) => ({
      status: 200,
      body: { value: [...armScaleSets(model).values()].map((scaleSet) => scaleSetBody(model, scaleSet)) },
    }),
  },
  {
    cloud: 'admin',
    method: 'GET',
    pattern: /^\/admin\/arm\/actions$/,
    handle: (_request, _params, model) => ({ status: 200, body: { actions: armActions(model) } }),
  },
];

function actionOf(params: Params): PowerAction {
  const action = (params.action ?? '').toLowerCase();
  if (action === 'poweroff') return 'powerOff';
  if (action === 'deallocate') return 'deallocate';
  return 'start';
}
