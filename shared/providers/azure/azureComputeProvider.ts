import { createHash } from 'node:crypto';
import {
  ComputeManagementClient,
  type ComputeManagementClientOptionalParams,
  type InstanceViewStatus,
  type ResourceSku,
  type Usage,
  type VirtualMachineScaleSet,
  type VirtualMachineScaleSetVM,
} from '@azure/arm-compute';
import type { TokenCredential } from '@azure/identity';
import type {
  ComputeProvider,
  Headroom,
  NodeRef,
  PowerState,
  ProviderCallOptions,
  ScaleOutRequest,
  SiteRef,
} from '../computeProvider';
import { ProviderError } from '../providerError';
import { classifyAzureError } from './armErrors';
import {
  parseArmScaleSetId,
  parseArmVmId,
  sameArmId,
  type ArmScaleSetRef,
  type ArmScaleSetVmRef,
  type ArmVmRef,
} from './armResourceId';
import { ArmThrottle, armRequestKind, type BucketLimits } from './armThrottle';

/**
 * `ComputeProvider` for Azure on the real `@azure/arm-compute` client (`ComputeManagementClient`), against Azure
 * Resource Manager or, locally, the cloud simulator (`endpoint`).
 *
 * Long-running operations (start, powerOff, deallocate, scale set update and deleteInstances) are followed through
 * the SDK's poller (`pollUntilDone`) — the 202 + `Azure-AsyncOperation` protocol, so an AllocationFailed that
 * arrives only in the operation status is seen — under one AbortSignal per call that fires at `deadlineMs` (→
 * `ProviderError` `timeout`; the operation may still finish in Azure) or when the caller aborts. The SDK's own
 * retries are off (`maxRetries: 0`): a 429 surfaces at once as `throttled` with the Retry-After, for a durable
 * timer to wait out; reads retry transient failures a bounded number of times.
 *
 * Idempotency (Azure has no idempotency header for these calls):
 * - start / powerOff / deallocate act by desired state: the instance view is read first and the action is called
 *   only when the VM is neither in nor moving to the target state (a VM moving there is waited for). powerOff counts
 *   a deallocated VM as off. Within the process a key that already completed returns at once, so a replayed
 *   start cannot undo a later fence.
 * - scaleOut makes the target absolute once: the first call with a key reads the capacity C and sets C + count;
 *   every repetition re-applies that target, never adds again. The key (hashed), the target and the highest
 *   instance id before the change are also written as a tag on the scale set in the same PATCH, so a repetition
 *   after a process restart recognises its own change (waits for it, or retries it if it failed) instead of growing
 *   the set twice. Limit: the tag holds the latest scale-out of that scale set only; a repetition of an older key
 *   after a restart would add again — activities should repeat promptly, or pass an absolute target.
 *   The returned nodes are the instances whose instance id is above the highest one before the change (VMSS
 *   instance ids are never reused).
 * - scaleIn deletes only the listed instances still present.
 * - The same key used for a different operation or resource is refused (`fatal`). Keys are remembered for the
 *   last 10,000 calls of the process; concurrent calls with one key share one execution.
 * - Changes of one scale set run one at a time in the process (a read-modify-write of the capacity).
 *
 * Client-side budget: every request passes a token bucket (`ArmThrottle`, per subscription and ARM region; reads
 * 250 + 25/s, writes 200 + 10/s). A request over the budget is not sent: the call fails with `throttled` and the
 * wait in `retryAfterMs`. Nothing here sleeps on a throttle.
 *
 * SDK calls (arm-compute 25): `virtualMachines.start | powerOff({ skipShutdown: true }) | deallocate | instanceView`,
 * the same on `virtualMachineScaleSetVMs` (`getInstanceView`) for scale set instances,
 * `virtualMachineScaleSets.get | update | deleteInstances`, `virtualMachineScaleSetVMs.list`, `usage.list`
 * (the `usageOperations` of older versions) and `resourceSkus.list({ filter })`. The LRO methods return a
 * `PollerLike` (the `beginX` forms are deprecated in this version).
 */

export interface AzureComputeProviderDeps {
  credential: TokenCredential;
  subscriptionId: string;
  /** ARM base URL: the simulator's locally; Azure public cloud by default. Plain http only for loopback. */
  endpoint?: string;
  now?: () => number;
  /** A budget shared by every provider of the process (one per subscription and region inside). */
  throttle?: ArmThrottle;
  /** Limits for the budget this provider creates when `throttle` is not given. */
  writeBudget?: BucketLimits;
  readBudget?: BucketLimits;
  /** The ARM region the requests are metered in (the control plane's own region). Default `global`. */
  armRegion?: string;
  /** Delay between LRO status polls when the service gives no Retry-After. Default 2 s (the SDK's). */
  pollIntervalMs?: number;
  /** Deadline of a long-running call when the caller gives none. Default 15 min. */
  defaultDeadlineMs?: number;
  /** Bound of a read (getPowerState, headroom). Default 60 s; then `transient`. */
  requestTimeoutMs?: number;
  /** Retries of a read that failed transiently (5xx, connection). Default 2. */
  readRetries?: number;
  /** First backoff of those retries, doubled each time. Default 500 ms. */
  retryDelayMs?: number;
}

type Policy = NonNullable<ComputeManagementClientOptionalParams['additionalPolicies']>[number]['policy'];

/** The tag that records the latest scale-out on the scale set itself (see the class comment). */
export const SCALE_OUT_TAG = 'failover-plane-scale-out';

interface ScalePlan {
  target: number;
  maxIdBefore: number;
}

interface KeyRecord {
  operation: string;
  resource: string;
  inFlight?: Promise<unknown>;
  result?: { value: unknown };
  plan?: ScalePlan;
}

type PowerAction = 'start' | 'powerOff' | 'deallocate';
type Step = 'done' | 'wait' | 'call';

const MAX_KEYS = 10_000;

const POWER_STATES: Record<string, PowerState> = {
  starting: 'starting',
  running: 'running',
  stopping: 'stopping',
  stopped: 'stopped',
  deallocating: 'deallocating',
  deallocated: 'deallocated',
};

/** The power state in an instance view's statuses (`PowerState/running` …). */
export function powerStateOf(statuses: InstanceViewStatus[] | undefined): PowerState {
  const code = statuses?.find((s) => s.code?.toLowerCase().startsWith('powerstate/'))?.code;
  return (code && POWER_STATES[code.slice('PowerState/'.length).toLowerCase()]) || 'unknown';
}

/** What a power action does in a given state: nothing, wait for a transition already under way, or call Azure. */
export function planPowerAction(action: PowerAction, state: PowerState): Step {
  switch (action) {
    case 'start':
      return state === 'running' ? 'done' : state === 'starting' ? 'wait' : 'call';
    case 'powerOff':
      return state === 'stopped' || state === 'deallocated'
        ? 'done'
        : state === 'stopping' || state === 'deallocating'
          ? 'wait'
          : 'call';
    case 'deallocate':
      return state === 'deallocated' ? 'done' : state === 'deallocating' ? 'wait' : 'call';
  }
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function endpointOptions(endpoint: string | undefined): Partial<ComputeManagementClientOptionalParams> {
  if (endpoint === undefined) return {};
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new ProviderError('fatal', `the ARM endpoint is not a URL: ${endpoint}`);
  }
  const base = endpoint.replace(/\/+$/, '');
  if (url.protocol === 'https:') return { endpoint: base };
  if (url.protocol === 'http:' && isLoopback(url.hostname))
    return { endpoint: base, allowInsecureConnection: true };
  throw new ProviderError(
    'fatal',
    `refusing to send bearer tokens over ${url.protocol} to ${url.hostname}: use https (plain http only for loopback)`,
  );
}

type PipelinePolicy = Parameters<ComputeManagementClient['pipeline']['addPolicy']>[0];

/**
 * The SDK's bearer token policy refuses plain http outright (even with allowInsecureConnection). For a loopback
 * endpoint only — the local simulator, where the request never leaves the host — it is replaced by one that sets
 * the same `Authorization: Bearer` header from the same credential.
 */
function useLoopbackBearer(client: ComputeManagementClient, credential: TokenCredential): void {
  const scopes = ['https://management.azure.com/.default'];
  const policy: PipelinePolicy = {
    name: 'failoverPlaneLoopbackBearer',
    sendRequest: async (request, next) => {
      if (!isLoopback(new URL(request.url).hostname))
        throw new ProviderError(
          'fatal',
          `refusing to send a bearer token over http to ${new URL(request.url).host}`,
        );
      const token = await credential.getToken(scopes, { abortSignal: request.abortSignal });
      if (!token) throw new ProviderError('fatal', 'the credential returned no token');
      request.headers.set('Authorization', `Bearer ${token.token}`);
      return next(request);
    },
  };
  client.pipeline.removePolicy({ name: 'bearerTokenAuthenticationPolicy' });
  client.pipeline.addPolicy(policy, { phase: 'Sign' });
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** `promise`, or a rejection as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted)
    return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const instanceNumber = (vm: VirtualMachineScaleSetVM): number => {
  const n = Number(vm.instanceId ?? /\/virtualMachines\/([^/]+)$/i.exec(vm.id ?? '')?.[1]);
  return Number.isFinite(n) ? n : -1;
};

const keyHash = (key: string) => createHash('sha256').update(key).digest('base64url').slice(0, 22);

function encodeScaleTag(hash: string, plan: ScalePlan): string {
  return `${hash}|${plan.target}|${plan.maxIdBefore}`;
}

function decodeScaleTag(value: string | undefined): (ScalePlan & { hash: string }) | undefined {
  const match = value === undefined ? null : /^([\w-]+)\|(\d+)\|(-?\d+)$/.exec(value);
  if (!match) return undefined;
  return { hash: match[1] ?? '', target: Number(match[2]), maxIdBefore: Number(match[3]) };
}

const TERMINAL_PROVISIONING = new Set(['succeeded', 'failed', 'canceled']);

export class AzureComputeProvider implements ComputeProvider {
  readonly cloud = 'azure' as const;
  readonly #client: ComputeManagementClient;
  readonly #subscriptionId: string;
  readonly #now: () => number;
  readonly #pollIntervalMs: number;
  readonly #defaultDeadlineMs: number;
  readonly #requestTimeoutMs: number;
  readonly #readRetries: number;
  readonly #retryDelayMs: number;
  readonly #keys = new Map<string, KeyRecord>();
  /** Tail of the queue of changes per scale set (lower-cased id): one read-modify-write at a time. */
  readonly #scaleSetQueues = new Map<string, Promise<void>>();

  constructor(deps: AzureComputeProviderDeps) {
    if (!deps.subscriptionId.trim())
      throw new ProviderError('fatal', 'AzureComputeProvider needs a subscription id');
    this.#subscriptionId = deps.subscriptionId;
    this.#now = deps.now ?? Date.now;
    this.#pollIntervalMs = deps.pollIntervalMs ?? 2000;
    this.#defaultDeadlineMs = deps.defaultDeadlineMs ?? 15 * 60_000;
    this.#requestTimeoutMs = deps.requestTimeoutMs ?? 60_000;
    this.#readRetries = deps.readRetries ?? 2;
    this.#retryDelayMs = deps.retryDelayMs ?? 500;
    const throttle =
      deps.throttle ??
      new ArmThrottle({
        now: this.#now,
        ...(deps.readBudget ? { reads: deps.readBudget } : {}),
        ...(deps.writeBudget ? { writes: deps.writeBudget } : {}),
      });
    const scope = { subscriptionId: deps.subscriptionId, region: deps.armRegion ?? 'global' };
    const budgetPolicy: Policy = {
      name: 'failoverPlaneArmBudget',
      sendRequest: (request, next) => {
        const kind = armRequestKind(request.method);
        const decision = throttle.tryAcquire(scope, kind);
        if (!decision.admitted) {
          return Promise.reject(
            new ProviderError(
              'throttled',
              `Azure request budget for ${kind}s of subscription ${scope.subscriptionId} in ${scope.region} is spent: ` +
                `the ${request.method} was not sent; retry in ${decision.retryAfterMs} ms`,
              { retryAfterMs: decision.retryAfterMs, cloudCode: 'ClientSideThrottle' },
            ),
          );
        }
        return next(request);
      },
    };
    const endpoint = endpointOptions(deps.endpoint);
    this.#client = new ComputeManagementClient(deps.credential, deps.subscriptionId, {
      ...endpoint,
      retryOptions: { maxRetries: 0 },
      additionalPolicies: [{ policy: budgetPolicy, position: 'perCall' }],
      userAgentOptions: { userAgentPrefix: 'failover-plane' },
    });
    if (endpoint.allowInsecureConnection) useLoopbackBearer(this.#client, deps.credential);
  }

  // ------------------------------------------------------------------------------------------------------------
  // ComputeProvider

  async getPowerState(node: NodeRef, options: { abortSignal?: AbortSignal } = {}): Promise<PowerState> {
    const ref = this.#vmRef(node);
    return this.#bounded('read', 'get power state', ref.id, options, (signal) =>
      this.#powerState(ref, signal),
    );
  }

  start(node: NodeRef, options: ProviderCallOptions): Promise<void> {
    return this.#power('start', node, options);
  }

  powerOff(node: NodeRef, options: ProviderCallOptions): Promise<void> {
    return this.#power('powerOff', node, options);
  }

  deallocate(node: NodeRef, options: ProviderCallOptions): Promise<void> {
    return this.#power('deallocate', node, options);
  }

  async scaleOut(request: ScaleOutRequest, options: ProviderCallOptions): Promise<{ nodes: NodeRef[] }> {
    const key = this.#key(options);
    if (request.site.cloud !== 'azure')
      throw new ProviderError('fatal', `scale out: site ${request.site.region} is not an Azure site`);
    if (!Number.isInteger(request.count) || request.count < 1)
      throw new ProviderError('fatal', `scale out: count must be a positive integer, got ${request.count}`);
    const scaleSet = this.#scaleSetRef(request.group);
    return this.#once(key, 'scaleOut', scaleSet.id, (record) =>
      this.#bounded('lro', 'scale out', scaleSet.id, options, (signal) =>
        this.#exclusive(scaleSet, signal, () => this.#scaleOut(scaleSet, request, key, record, signal)),
      ),
    );
  }

  async scaleIn(group: string, nodes: NodeRef[], options: ProviderCallOptions): Promise<void> {
    const key = this.#key(options);
    const scaleSet = this.#scaleSetRef(group);
    const instanceIds = nodes.map((node) => {
      const ref = this.#vmRef(node);
      if (
        ref.type !== 'scale-set-vm' ||
        ref.resourceGroup.toLowerCase() !== scaleSet.resourceGroup.toLowerCase() ||
        ref.scaleSet.toLowerCase() !== scaleSet.name.toLowerCase()
      )
        throw new ProviderError('fatal', `scale in: ${ref.id} is not an instance of ${scaleSet.id}`);
      return ref.instanceId;
    });
    const resource = `${scaleSet.id}#${[...instanceIds].sort().join(',')}`;
    await this.#once(key, 'scaleIn', resource, () =>
      this.#bounded('lro', 'scale in', scaleSet.id, options, (signal) =>
        this.#exclusive(scaleSet, signal, () => this.#scaleIn(scaleSet, instanceIds, signal)),
      ),
    );
  }

  async headroom(
    site: SiteRef,
    size: string,
    options: { abortSignal?: AbortSignal } = {},
  ): Promise<Headroom> {
    if (site.cloud !== 'azure')
      throw new ProviderError('fatal', `headroom: ${site.region} is not an Azure site`);
    return this.#bounded('read', 'headroom', site.region, options, async (signal) => {
      const [skus, usages] = await Promise.all([
        this.#read('list resource SKUs', site.region, signal, () =>
          collect(
            this.#client.resourceSkus.list({ filter: `location eq '${site.region}'`, abortSignal: signal }),
          ),
        ),
        this.#read('list usages', site.region, signal, () =>
          collect(this.#client.usage.list(site.region, { abortSignal: signal })),
        ),
      ]);
      return headroomOf(site, size, skus, usages);
    });
  }

  // ------------------------------------------------------------------------------------------------------------
  // Power actions

  async #power(action: PowerAction, node: NodeRef, options: ProviderCallOptions): Promise<void> {
    const key = this.#key(options);
    const ref = this.#vmRef(node);
    await this.#once(key, action, ref.id, () =>
      this.#bounded('lro', action, ref.id, options, async (signal) => {
        for (;;) {
          const step = planPowerAction(action, await this.#powerState(ref, signal));
          if (step === 'done') return;
          if (step === 'call') {
            await this.#callPowerAction(action, ref, signal);
            return;
          }
          await delay(this.#pollIntervalMs, signal);
        }
      }),
    );
  }

  async #callPowerAction(action: PowerAction, ref: ArmVmRef | ArmScaleSetVmRef, signal: AbortSignal) {
    const lro = { abortSignal: signal, updateIntervalInMs: this.#pollIntervalMs };
    const poller =
      ref.type === 'vm'
        ? action === 'start'
          ? this.#client.virtualMachines.start(ref.resourceGroup, ref.name, lro)
          : action === 'powerOff'
            ? this.#client.virtualMachines.powerOff(ref.resourceGroup, ref.name, {
                ...lro,
                skipShutdown: true,
              })
            : this.#client.virtualMachines.deallocate(ref.resourceGroup, ref.name, lro)
        : action === 'start'
          ? this.#client.virtualMachineScaleSetVMs.start(ref.resourceGroup, ref.scaleSet, ref.instanceId, lro)
          : action === 'powerOff'
            ? this.#client.virtualMachineScaleSetVMs.powerOff(
                ref.resourceGroup,
                ref.scaleSet,
                ref.instanceId,
                {
                  ...lro,
                  skipShutdown: true,
                },
              )
            : this.#client.virtualMachineScaleSetVMs.deallocate(
                ref.resourceGroup,
                ref.scaleSet,
                ref.instanceId,
                lro,
              );
    await poller.pollUntilDone({ abortSignal: signal });
  }

  async #powerState(ref: ArmVmRef | ArmScaleSetVmRef, signal: AbortSignal): Promise<PowerState> {
    const view = await this.#read('get instance view', ref.id, signal, () =>
      ref.type === 'vm'
        ? this.#client.virtualMachines.instanceView(ref.resourceGroup, ref.name, { abortSignal: signal })
        : this.#client.virtualMachineScaleSetVMs.getInstanceView(
            ref.resourceGroup,
            ref.scaleSet,
            ref.instanceId,
            {
              abortSignal: signal,
            },
          ),
    );
    return powerStateOf(view.statuses);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Scale out / in

  async #scaleOut(
    scaleSet: ArmScaleSetRef,
    request: ScaleOutRequest,
    key: string,
    record: KeyRecord,
    signal: AbortSignal,
  ): Promise<{ nodes: NodeRef[] }> {
    let vmss = await this.#getScaleSet(scaleSet, signal);
    if (
      vmss.location &&
      vmss.location.replace(/\s/g, '').toLowerCase() !== request.site.region.replace(/\s/g, '').toLowerCase()
    )
      throw new ProviderError(
        'fatal',
        `scale out: ${scaleSet.id} is in ${vmss.location}, not ${request.site.region}`,
      );
    if (vmss.sku?.name && vmss.sku.name.toLowerCase() !== request.size.toLowerCase())
      throw new ProviderError(
        'fatal',
        `scale out: ${scaleSet.id} runs ${vmss.sku.name}, not ${request.size}`,
      );

    const hash = keyHash(key);
    const tagged = decodeScaleTag(vmss.tags?.[SCALE_OUT_TAG]);
    const ours = tagged?.hash === hash;
    let plan: ScalePlan;
    if (ours) plan = { target: tagged.target, maxIdBefore: tagged.maxIdBefore };
    else if (record.plan) plan = record.plan;
    else {
      const instances = await this.#instances(scaleSet, signal);
      const current = vmss.sku?.capacity ?? instances.length;
      plan = { target: current + request.count, maxIdBefore: Math.max(-1, ...instances.map(instanceNumber)) };
    }
    record.plan = plan;

    let patch = !ours;
    if (ours) {
      // Our change was accepted earlier (this is a repetition): let it finish, and retry it only if it failed.
      while (!TERMINAL_PROVISIONING.has((vmss.provisioningState ?? 'succeeded').toLowerCase())) {
        await delay(this.#pollIntervalMs, signal);
        vmss = await this.#getScaleSet(scaleSet, signal);
      }
      patch = (vmss.provisioningState ?? '').toLowerCase() !== 'succeeded';
    }
    if (patch) {
      await this.#client.virtualMachineScaleSets
        .update(
          scaleSet.resourceGroup,
          scaleSet.name,
          {
            sku: { capacity: plan.target },
            tags: { ...vmss.tags, [SCALE_OUT_TAG]: encodeScaleTag(hash, plan) },
          },
          { abortSignal: signal, updateIntervalInMs: this.#pollIntervalMs },
        )
        .pollUntilDone({ abortSignal: signal });
    }
    const instances = await this.#instances(scaleSet, signal);
    const nodes: NodeRef[] = instances
      .filter((vm) => instanceNumber(vm) > plan.maxIdBefore && vm.id)
      .sort((a, b) => instanceNumber(a) - instanceNumber(b))
      .map((vm) => ({ kind: 'azure-vm', resourceId: vm.id ?? '' }));
    return { nodes };
  }

  async #scaleIn(scaleSet: ArmScaleSetRef, instanceIds: string[], signal: AbortSignal): Promise<void> {
    if (instanceIds.length === 0) return;
    const present = new Set((await this.#instances(scaleSet, signal)).map((vm) => vm.instanceId));
    const remaining = instanceIds.filter((id) => present.has(id));
    if (remaining.length === 0) return;
    await this.#client.virtualMachineScaleSets
      .deleteInstances(
        scaleSet.resourceGroup,
        scaleSet.name,
        { instanceIds: remaining },
        { abortSignal: signal, updateIntervalInMs: this.#pollIntervalMs },
      )
      .pollUntilDone({ abortSignal: signal });
  }

  #getScaleSet(scaleSet: ArmScaleSetRef, signal: AbortSignal): Promise<VirtualMachineScaleSet> {
    return this.#read('get scale set', scaleSet.id, signal, () =>
      this.#client.virtualMachineScaleSets.get(scaleSet.resourceGroup, scaleSet.name, {
        abortSignal: signal,
      }),
    );
  }

  #instances(scaleSet: ArmScaleSetRef, signal: AbortSignal): Promise<VirtualMachineScaleSetVM[]> {
    return this.#read('list scale set instances', scaleSet.id, signal, () =>
      collect(
        this.#client.virtualMachineScaleSetVMs.list(scaleSet.resourceGroup, scaleSet.name, {
          abortSignal: signal,
        }),
      ),
    );
  }

  // ------------------------------------------------------------------------------------------------------------
  // Plumbing: keys, queues, deadlines, reads, ids

  /**
   * Runs one change of a scale set at a time in this process, so two scale-outs with different keys cannot both
   * read capacity C and both set C + n. (Across processes the orchestration serializes spillover per cluster.)
   * Waiting in the queue counts against the caller's deadline.
   */
  async #exclusive<T>(scaleSet: ArmScaleSetRef, signal: AbortSignal, change: () => Promise<T>): Promise<T> {
    const id = scaleSet.id.toLowerCase();
    const previous = this.#scaleSetQueues.get(id) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#scaleSetQueues.set(id, tail);
    try {
      await untilAborted(previous, signal);
      return await change();
    } finally {
      release();
      if (this.#scaleSetQueues.get(id) === tail) this.#scaleSetQueues.delete(id);
    }
  }

  #key(options: ProviderCallOptions): string {
    const key = (options as Partial<ProviderCallOptions> | undefined)?.idempotencyKey;
    if (typeof key !== 'string' || !key.trim())
      throw new ProviderError('fatal', 'every mutating Azure call needs an idempotencyKey');
    return key;
  }

  /** Runs `run` once per key: a repetition joins the call in flight or returns the completed result. */
  async #once<T>(
    key: string,
    operation: string,
    resource: string,
    run: (record: KeyRecord) => Promise<T>,
  ): Promise<T> {
    const normalized = resource.toLowerCase();
    let record = this.#keys.get(key);
    if (record && (record.operation !== operation || record.resource !== normalized)) {
      throw new ProviderError(
        'fatal',
        `idempotency key reused: it was used for ${record.operation} of ${record.resource}, now for ${operation} of ${resource}`,
      );
    }
    if (record?.result) return record.result.value as T;
    if (record?.inFlight) return (await record.inFlight) as T;
    if (!record) {
      record = { operation, resource: normalized };
      this.#keys.set(key, record);
      if (this.#keys.size > MAX_KEYS) {
        const oldest = this.#keys.keys().next();
        if (!oldest.done) this.#keys.delete(oldest.value);
      }
    }
    const current = record;
    const inFlight = run(current).then((value) => {
      current.result = { value };
      return value;
    });
    current.inFlight = inFlight;
    try {
      return await inFlight;
    } finally {
      delete current.inFlight;
    }
  }

  /**
   * Runs `work` under one AbortSignal that fires at the deadline or when the caller aborts, and turns what it
   * throws into a `ProviderError`: past the deadline `timeout` (long-running calls) or `transient` (reads); after a
   * caller's abort `timeout` ("aborted by the caller" — the operation may still complete in Azure).
   */
  async #bounded<T>(
    kind: 'lro' | 'read',
    operation: string,
    resource: string,
    options: { abortSignal?: AbortSignal; deadlineMs?: number },
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const limitMs = options.deadlineMs ?? (kind === 'lro' ? this.#defaultDeadlineMs : this.#requestTimeoutMs);
    const controller = new AbortController();
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      controller.abort(new Error(`deadline of ${limitMs} ms passed`));
    }, limitMs);
    const caller = options.abortSignal;
    const onCallerAbort = () => controller.abort(new Error('aborted by the caller'));
    if (caller?.aborted) onCallerAbort();
    else caller?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      return await work(controller.signal);
    } catch (error) {
      if (controller.signal.aborted) {
        const what = `Azure ${operation} of ${resource}`;
        if (expired) {
          throw new ProviderError(
            kind === 'lro' ? 'timeout' : 'transient',
            `${what} did not finish within ${limitMs} ms${kind === 'lro' ? ' (it may still complete in Azure)' : ''}`,
            { cause: classifyAzureError(error, { operation, resource, now: this.#now() }) },
          );
        }
        throw new ProviderError(
          'timeout',
          `${what} was aborted by the caller (it may still complete in Azure)`,
          {
            cause: classifyAzureError(error, { operation, resource, now: this.#now() }),
          },
        );
      }
      throw classifyAzureError(error, { operation, resource, now: this.#now() });
    } finally {
      clearTimeout(timer);
      caller?.removeEventListener('abort', onCallerAbort);
      controller.abort(); // ends any request still out (e.g. the other half of a parallel read that failed)
    }
  }

  /** A read with a bounded retry of transient failures (5xx, connection errors); anything else is thrown classified. */
  async #read<T>(
    operation: string,
    resource: string,
    signal: AbortSignal,
    call: () => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (signal.aborted) throw error;
        const classified = classifyAzureError(error, { operation, resource, now: this.#now() });
        if (classified.kind !== 'transient' || attempt >= this.#readRetries) throw classified;
        await delay(this.#retryDelayMs * 2 ** attempt, signal);
      }
    }
  }

  #vmRef(node: NodeRef): ArmVmRef | ArmScaleSetVmRef {
    if (node.kind !== 'azure-vm') throw new ProviderError('fatal', `not an Azure VM: ${node.ocid}`);
    const ref = parseArmVmId(node.resourceId);
    if (!ref)
      throw new ProviderError('fatal', `not a VM or scale set instance resource id: ${node.resourceId}`);
    this.#checkSubscription(ref.subscriptionId, ref.id);
    return ref;
  }

  #scaleSetRef(group: string): ArmScaleSetRef {
    const ref = parseArmScaleSetId(group);
    if (!ref) throw new ProviderError('fatal', `not a VM scale set resource id: ${group}`);
    this.#checkSubscription(ref.subscriptionId, ref.id);
    return ref;
  }

  #checkSubscription(subscriptionId: string, id: string): void {
    if (!sameArmId(subscriptionId, this.#subscriptionId))
      throw new ProviderError(
        'fatal',
        `${id} is not in subscription ${this.#subscriptionId} of this provider`,
      );
  }
}

/**
 * Headroom of `size` in `site` from the region's resource SKUs and usages: nodes = the tighter of the family quota
 * and the regional `cores` quota, each (limit − used) ÷ the size's vCPUs; `restricted` when a SKU restriction rules
 * the size out (a Location restriction, or a Zone restriction on the site's zone — or on every zone when the site
 * names none) or the size is not offered there. Azure does not report capacity: `unknown`.
 */
export function headroomOf(site: SiteRef, size: string, skus: ResourceSku[], usages: Usage[]): Headroom {
  const region = site.region.replace(/\s/g, '').toLowerCase();
  const sku = skus.find(
    (s) =>
      (s.resourceType ?? '').toLowerCase() === 'virtualmachines' &&
      (s.name ?? '').toLowerCase() === size.toLowerCase() &&
      (s.locations ?? [region]).some((l) => l.toLowerCase() === region),
  );
  const usage = (name: string) =>
    usages.find((u) => (u.name.value ?? '').toLowerCase() === name.toLowerCase());
  const regional = usage('cores');
  const regionalQuota = regional
    ? [{ scope: 'cores', limit: regional.limit, used: regional.currentValue }]
    : [];
  if (!sku) {
    return {
      site,
      size,
      quotaNodes: 0,
      quota: regionalQuota,
      capacityNodes: 'unknown',
      restricted: `${size} is not offered in ${site.region}`,
    };
  }
  const cores = Number(sku.capabilities?.find((c) => c.name?.toLowerCase() === 'vcpus')?.value);
  const family = sku.family ? usage(sku.family) : undefined;
  const quota = [
    ...(sku.family
      ? [{ scope: sku.family, limit: family?.limit ?? 0, used: family?.currentValue ?? 0 }]
      : []),
    ...regionalQuota,
  ];
  const quotaNodes =
    Number.isFinite(cores) && cores > 0 && quota.length > 0
      ? Math.min(...quota.map((q) => Math.max(0, Math.floor((q.limit - q.used) / cores))))
      : 0;
  const restricted = restrictionOf(sku, site, region);
  return { site, size, quotaNodes, quota, capacityNodes: 'unknown', ...(restricted ? { restricted } : {}) };
}

function restrictionOf(sku: ResourceSku, site: SiteRef, region: string): string | undefined {
  const inRegion = (values: string[] | undefined) => (values ?? []).some((v) => v.toLowerCase() === region);
  const offeredZones =
    sku.locationInfo?.find((info) => (info.location ?? '').toLowerCase() === region)?.zones ?? [];
  for (const restriction of sku.restrictions ?? []) {
    const reason = restriction.reasonCode ?? 'Restricted';
    if (
      restriction.type === 'Location' &&
      inRegion(restriction.values ?? restriction.restrictionInfo?.locations)
    )
      return `${reason}: ${sku.name} is not available in ${site.region}`;
    if (
      restriction.type === 'Zone' &&
      inRegion(restriction.restrictionInfo?.locations ?? restriction.values)
    ) {
      const zones = restriction.restrictionInfo?.zones ?? [];
      if (site.zone !== undefined && zones.includes(site.zone))
        return `${reason}: ${sku.name} is not available in zone ${site.zone} of ${site.region}`;
      if (site.zone === undefined && offeredZones.length > 0 && offeredZones.every((z) => zones.includes(z)))
        return `${reason}: ${sku.name} is not available in any zone of ${site.region}`;
    }
  }
  if (site.zone !== undefined && offeredZones.length > 0 && !offeredZones.includes(site.zone))
    return `${sku.name} is not offered in zone ${site.zone} of ${site.region}`;
  return undefined;
}
