import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import {
  CircuitBreaker,
  NoRetryConfigurationDetails,
  type AuthenticationDetailsProvider,
  type ClientConfiguration,
} from 'oci-common';
import { ComputeClient, models } from 'oci-core';
import { LimitsClient } from 'oci-limits';
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
import { classifyOciError, DEFAULT_OCI_RETRY_AFTER_MS } from './ociErrors';
import { OciHttpClient, type OciCallScope } from './ociHttpClient';
import { DEFAULT_OCI_SHAPE_LIMITS, type OciShapeLimit } from './ociShapes';

type LifecycleState = models.Instance.LifecycleState;
const State = models.Instance.LifecycleState;

export interface OciComputeProviderDeps {
  /** Signs every request: `createOciAuthProvider(...)` in production, a generated key pair in tests. */
  authProvider: AuthenticationDetailsProvider;
  /** The region this provider manages (e.g. eu-frankfurt-1); requests for other regions are refused. */
  region: string;
  /** Compartment for launches (unless the scale-out group names one) and for limits and capacity reports. */
  compartmentId: string;
  /**
   * Base URLs replacing the regional endpoints (iaas.<region>.oraclecloud.com, limits.<region>.oci.
   * oraclecloud.com); locally the simulator's `ociSimulatorEndpoint(url, region)`. http:// works.
   */
  endpoints?: { compute?: string; limits?: string };
  /** Clock for deadlines and Retry-After dates. Default Date.now. */
  now?: () => number;
  /** Shape → service limit, merged over `DEFAULT_OCI_SHAPE_LIMITS`. */
  shapeLimits?: Record<string, OciShapeLimit>;
  /** What a launch needs besides shape, AD and compartment. */
  launch?: { imageId?: string; subnetId?: string; displayNamePrefix?: string };
  /** Pause between lifecycle polls. Default 2000 ms. */
  pollIntervalMs?: number;
  /** How long a long-running call is followed when the caller gives no `deadlineMs`. Default 15 min. */
  defaultDeadlineMs?: number;
  /** Bound of one HTTP request (a region that accepts connections but never answers). Default 30 s. */
  requestTimeoutMs?: number;
  /** Wait reported for a 429 without Retry-After. Default 1 s. */
  defaultRetryAfterMs?: number;
}

interface CallBounds {
  what: string;
  abortSignal?: AbortSignal | undefined;
  /** Absolute, on `now()`. */
  deadlineAt?: number | undefined;
}

const INSTANCE_POOL_PREFIX = 'ocid1.instancepool.';

/**
 * `ComputeProvider` for Oracle Cloud on the real OCI SDK (`oci-core` ComputeClient, `oci-limits` LimitsClient,
 * `oci-common` signing) — the modular packages of `oci-sdk`.
 *
 * - The SDK's retries are off (`NoRetryConfigurationDetails`) and so is its circuit breaker: one provider call is
 *   one HTTP request per step, a capacity error is not retried 8 times, a 429 surfaces with its Retry-After, and the
 *   caller (an activity with durable timers) decides about retrying.
 * - Every mutating call sends an `opc-retry-token` derived from the idempotency key (and the operation and target),
 *   so a repeated call returns the first call's result and changes nothing. TerminateInstance takes no token in
 *   the API; it is idempotent by nature (a terminated or gone instance counts as done).
 * - Scale out launches instances one by one with LaunchInstance (token: key + index), not by resizing an instance
 *   pool: each node gets its own retry token and its own capacity/limit answer, and scale in terminates exactly the
 *   nodes named. The `group` is the compartment to launch into (default `compartmentId`); an instance pool OCID is
 *   refused.
 * - Long-running changes are followed by polling GetInstance until the target lifecycle state, up to the caller's
 *   deadline (`timeout`); every request is also bounded by the caller's abort signal and `requestTimeoutMs`.
 */
export class OciComputeProvider implements ComputeProvider {
  readonly cloud = 'oci' as const;
  readonly #compute: ComputeClient;
  readonly #limits: LimitsClient;
  readonly #scope = new AsyncLocalStorage<OciCallScope>();
  readonly #deps: OciComputeProviderDeps;
  readonly #now: () => number;
  readonly #shapes: Record<string, OciShapeLimit>;
  readonly #pollIntervalMs: number;
  readonly #defaultDeadlineMs: number;
  readonly #requestTimeoutMs: number;

  constructor(deps: OciComputeProviderDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => Date.now());
    this.#shapes = { ...DEFAULT_OCI_SHAPE_LIMITS, ...deps.shapeLimits };
    this.#pollIntervalMs = deps.pollIntervalMs ?? 2000;
    this.#defaultDeadlineMs = deps.defaultDeadlineMs ?? 15 * 60_000;
    this.#requestTimeoutMs = deps.requestTimeoutMs ?? 30_000;
    const configuration: ClientConfiguration = {
      retryConfiguration: NoRetryConfigurationDetails,
      circuitBreaker: new CircuitBreaker({ disableClientCircuitBreaker: true }),
    };
    // The SDK takes either an auth provider or an HTTP client; ours signs with the auth provider itself.
    const params = { httpClient: new OciHttpClient(deps.authProvider, this.#scope) };
    this.#compute = new ComputeClient(params, configuration);
    this.#limits = new LimitsClient(params, configuration);
    if (deps.endpoints?.compute) this.#compute.endpoint = deps.endpoints.compute;
    else this.#compute.regionId = deps.region;
    if (deps.endpoints?.limits) this.#limits.endpoint = deps.endpoints.limits;
    else this.#limits.regionId = deps.region;
  }

  async getPowerState(node: NodeRef, options: { abortSignal?: AbortSignal } = {}): Promise<PowerState> {
    const ocid = instanceOcid(node);
    const instance = await this.#call({ what: `GetInstance ${ocid}`, abortSignal: options.abortSignal }, () =>
      this.#compute.getInstance({ instanceId: ocid }),
    );
    const state = instance.instance.lifecycleState;
    if (state === State.Terminated)
      throw new ProviderError('not-found', `GetInstance ${ocid}: the instance is terminated`);
    return toPowerState(state);
  }

  start(node: NodeRef, options: ProviderCallOptions): Promise<void> {
    return this.#powerAction(node, 'START', State.Running, options);
  }

  /** STOP: immediate power off (RESET would power the node straight back on, so it is no fence). */
  powerOff(node: NodeRef, options: ProviderCallOptions): Promise<void> {
    return this.#powerAction(node, 'STOP', State.Stopped, options);
  }

  /** SOFTSTOP: ACPI shutdown, then stopped (OCI forces it after 15 minutes). */
  deallocate(node: NodeRef, options: ProviderCallOptions): Promise<void> {
    return this.#powerAction(node, 'SOFTSTOP', State.Stopped, options);
  }

  async scaleOut(request: ScaleOutRequest, options: ProviderCallOptions): Promise<{ nodes: NodeRef[] }> {
    const availabilityDomain = this.#availabilityDomain(request.site, 'LaunchInstance');
    if (request.group.startsWith(INSTANCE_POOL_PREFIX)) {
      throw new ProviderError(
        'fatal',
        `LaunchInstance: scale out launches instances into a compartment; instance pool ${request.group} is not supported`,
      );
    }
    if (!Number.isInteger(request.count) || request.count < 1)
      throw new ProviderError(
        'fatal',
        `LaunchInstance: count must be a positive integer, not ${request.count}`,
      );
    const compartmentId = request.group || this.#deps.compartmentId;
    const deadlineAt = this.#deadlineAt(options);
    const launched: string[] = [];
    for (let index = 0; index < request.count; index++) {
      const what = `LaunchInstance ${request.size} in ${availabilityDomain} (${index + 1} of ${request.count})`;
      const shapeLimit = this.#shapes[request.size];
      const details: models.LaunchInstanceDetails = {
        availabilityDomain,
        compartmentId,
        shape: request.size,
        displayName: `${this.#deps.launch?.displayNamePrefix ?? 'failover-plane'}-${index + 1}`,
        ...(request.size.endsWith('.Flex') && shapeLimit
          ? { shapeConfig: { ocpus: shapeLimit.unitsPerNode } }
          : {}),
        ...(this.#deps.launch?.subnetId
          ? { createVnicDetails: { subnetId: this.#deps.launch.subnetId } }
          : {}),
        ...(this.#deps.launch?.imageId
          ? { sourceDetails: { sourceType: 'image', imageId: this.#deps.launch.imageId } }
          : {}),
      };
      try {
        const response = await this.#call({ what, abortSignal: options.abortSignal, deadlineAt }, () =>
          this.#compute.launchInstance({
            launchInstanceDetails: details,
            opcRetryToken: ociRetryToken('launch', options.idempotencyKey, [
              compartmentId,
              availabilityDomain,
              request.size,
              index,
            ]),
          }),
        );
        launched.push(response.instance.id);
      } catch (error) {
        throw await this.#withPartialLaunch(error as ProviderError, launched, request, availabilityDomain);
      }
    }
    await this.#follow(launched, [State.Running], { what: 'LaunchInstance', ...options, deadlineAt });
    return { nodes: launched.map((ocid) => ({ kind: 'oci-instance', ocid })) };
  }

  /** Terminates the instances (boot volumes too) and follows them until TERMINATED or gone. `group` is unused. */
  async scaleIn(_group: string, nodes: NodeRef[], options: ProviderCallOptions): Promise<void> {
    const deadlineAt = this.#deadlineAt(options);
    const ocids = nodes.map(instanceOcid);
    const pending: string[] = [];
    for (const ocid of ocids) {
      try {
        await this.#call(
          { what: `TerminateInstance ${ocid}`, abortSignal: options.abortSignal, deadlineAt },
          () => this.#compute.terminateInstance({ instanceId: ocid, preserveBootVolume: false }),
        );
        pending.push(ocid);
      } catch (error) {
        if ((error as ProviderError).kind !== 'not-found') throw error;
      }
    }
    await this.#follow(pending, [State.Terminated], { what: 'TerminateInstance', ...options, deadlineAt });
  }

  /**
   * Quota from GetResourceAvailability of the shape's limit in the AD (site.zone), capacity from
   * CreateComputeCapacityReport for the shape in that AD; both requests run in parallel. Without an AD the regional
   * availability is used and capacity is `unknown`.
   */
  async headroom(
    site: SiteRef,
    size: string,
    options: { abortSignal?: AbortSignal } = {},
  ): Promise<Headroom> {
    this.#checkSite(site, 'headroom');
    const limit = this.#shapeLimit(size, 'headroom');
    const availabilityDomain = site.zone;
    const [availability, report] = await Promise.all([
      this.#call(
        { what: `GetResourceAvailability ${limit.limitName}`, abortSignal: options.abortSignal },
        () =>
          this.#limits.getResourceAvailability({
            serviceName: limit.serviceName,
            limitName: limit.limitName,
            compartmentId: this.#deps.compartmentId,
            ...(availabilityDomain ? { availabilityDomain } : {}),
          }),
      ),
      availabilityDomain
        ? this.#call(
            {
              what: `CreateComputeCapacityReport ${size} in ${availabilityDomain}`,
              abortSignal: options.abortSignal,
            },
            () =>
              this.#compute.createComputeCapacityReport({
                createComputeCapacityReportDetails: {
                  compartmentId: this.#deps.compartmentId,
                  availabilityDomain,
                  shapeAvailabilities: [{ instanceShape: size }],
                },
              }),
          )
        : Promise.resolve(undefined),
    ]);
    const used = availability.resourceAvailability.used ?? 0;
    const available = availability.resourceAvailability.available ?? 0;
    const quotaLimit = availability.resourceAvailability.effectiveQuotaValue ?? used + available;
    const headroom: Headroom = {
      site,
      size,
      quotaNodes: Math.max(0, Math.floor(available / limit.unitsPerNode)),
      quota: [{ scope: limit.limitName, limit: quotaLimit, used }],
      capacityNodes: 'unknown',
    };
    const shape = report?.computeCapacityReport.shapeAvailabilities.find((s) => s.instanceShape === size);
    const Status = models.CapacityReportShapeAvailability.AvailabilityStatus;
    if (shape?.availabilityStatus === Status.Available)
      headroom.capacityNodes = shape.availableCount ?? 'unknown';
    else if (shape?.availabilityStatus === Status.OutOfHostCapacity) headroom.capacityNodes = 0;
    else if (shape?.availabilityStatus === Status.HardwareNotSupported) {
      headroom.capacityNodes = 0;
      headroom.restricted = `${size} is not supported in ${availabilityDomain ?? site.region}`;
    }
    return headroom;
  }

  async #powerAction(
    node: NodeRef,
    action: 'START' | 'STOP' | 'SOFTSTOP',
    target: LifecycleState,
    options: ProviderCallOptions,
  ): Promise<void> {
    const ocid = instanceOcid(node);
    const deadlineAt = this.#deadlineAt(options);
    const response = await this.#call(
      { what: `${action} ${ocid}`, abortSignal: options.abortSignal, deadlineAt },
      () =>
        this.#compute.instanceAction({
          instanceId: ocid,
          action,
          opcRetryToken: ociRetryToken(action.toLowerCase(), options.idempotencyKey, [ocid]),
        }),
    );
    if (response.instance.lifecycleState === target) return;
    await this.#follow([ocid], [target], {
      what: action,
      ...options,
      deadlineAt,
      lastKnown: response.instance.lifecycleState,
    });
  }

  /** Polls GetInstance until every instance is in a target state (a gone instance counts as TERMINATED). */
  async #follow(
    ocids: string[],
    targets: LifecycleState[],
    bounds: { what: string; abortSignal?: AbortSignal | undefined; deadlineAt: number; lastKnown?: string },
  ): Promise<void> {
    const waiting = new Map(ocids.map((ocid) => [ocid, bounds.lastKnown ?? 'UNKNOWN']));
    const timedOut = (cause?: unknown) =>
      new ProviderError(
        'timeout',
        `${bounds.what}: not ${targets.join('/')} before the deadline (still ${[...waiting]
          .map(([ocid, state]) => `${ocid} ${state}`)
          .join(', ')})`,
        { cause },
      );
    for (;;) {
      for (const ocid of [...waiting.keys()]) {
        let state: LifecycleState;
        try {
          const response = await this.#call(
            { what: `GetInstance ${ocid}`, abortSignal: bounds.abortSignal, deadlineAt: bounds.deadlineAt },
            () => this.#compute.getInstance({ instanceId: ocid }),
          );
          state = response.instance.lifecycleState;
        } catch (error) {
          const kind = (error as ProviderError).kind;
          if (kind === 'timeout' && !bounds.abortSignal?.aborted) throw timedOut(error);
          if (kind === 'not-found' && targets.includes(State.Terminated)) {
            waiting.delete(ocid);
            continue;
          }
          // The change was accepted; a blip while watching it is not its failure.
          if (kind === 'transient' || kind === 'throttled') continue;
          throw error;
        }
        const gone = state === State.Terminated || state === State.Terminating;
        if (targets.includes(state)) waiting.delete(ocid);
        else if (gone && !targets.includes(State.Terminated))
          throw new ProviderError(
            'not-found',
            `${bounds.what} ${ocid}: the instance is ${state.toLowerCase()}`,
          );
        else waiting.set(ocid, state);
      }
      if (waiting.size === 0) return;
      const remaining = bounds.deadlineAt - this.#now();
      if (remaining <= 0) throw timedOut();
      await sleep(Math.min(this.#pollIntervalMs, remaining), bounds.abortSignal);
    }
  }

  /**
   * Runs one SDK call in a scope that carries its abort signal (caller, deadline, per-request timeout) to the HTTP
   * client and brings back the Retry-After header; classifies what it throws.
   */
  async #call<T>(bounds: CallBounds, fn: () => Promise<T>): Promise<T> {
    const signals = [AbortSignal.timeout(this.#requestTimeoutMs)];
    if (bounds.abortSignal) signals.push(bounds.abortSignal);
    let deadline: AbortSignal | undefined;
    if (bounds.deadlineAt !== undefined) {
      const remaining = bounds.deadlineAt - this.#now();
      if (remaining <= 0) throw new ProviderError('timeout', `${bounds.what}: the deadline has passed`);
      deadline = AbortSignal.timeout(remaining);
      signals.push(deadline);
    }
    if (bounds.abortSignal?.aborted) throw aborted(bounds.what, bounds.abortSignal);
    const scope: OciCallScope = { signal: AbortSignal.any(signals) };
    try {
      return await this.#scope.run(scope, fn);
    } catch (error) {
      if (bounds.abortSignal?.aborted) throw aborted(bounds.what, bounds.abortSignal);
      if (deadline?.aborted)
        throw new ProviderError('timeout', `${bounds.what}: no answer before the deadline`, { cause: error });
      if (scope.signal.aborted) {
        throw new ProviderError(
          'transient',
          `${bounds.what}: no answer within ${this.#requestTimeoutMs} ms`,
          {
            cause: error,
          },
        );
      }
      throw classifyOciError(error, {
        what: bounds.what,
        retryAfter: scope.retryAfter ?? null,
        now: this.#now(),
        defaultRetryAfterMs: this.#deps.defaultRetryAfterMs ?? DEFAULT_OCI_RETRY_AFTER_MS,
      });
    }
  }

  /**
   * A launch failed after `launched` succeeded: name them in the message (a repeat with the same key returns them
   * and retries only the rest), and give a limit error without numbers (Oracle's messages have none) the numbers
   * of GetResourceAvailability — one cheap GET; skipped when it fails.
   */
  async #withPartialLaunch(
    error: ProviderError,
    launched: string[],
    request: ScaleOutRequest,
    availabilityDomain: string,
  ): Promise<ProviderError> {
    let quota = error.quota;
    const limit = this.#shapes[request.size];
    if (error.kind === 'quota' && !quota && limit) {
      try {
        const { resourceAvailability: ra } = await this.#call(
          { what: `GetResourceAvailability ${limit.limitName}` },
          () =>
            this.#limits.getResourceAvailability({
              serviceName: limit.serviceName,
              limitName: limit.limitName,
              compartmentId: this.#deps.compartmentId,
              availabilityDomain,
            }),
        );
        const usage = ra.used ?? 0;
        quota = {
          scope: limit.limitName,
          limit: ra.effectiveQuotaValue ?? usage + (ra.available ?? 0),
          usage,
          required: (request.count - launched.length) * limit.unitsPerNode,
        };
      } catch {
        // The numbers are a courtesy: the quota error stands without them.
      }
    }
    if (launched.length === 0 && quota === error.quota) return error;
    const message =
      launched.length === 0
        ? error.message
        : `${error.message} (${launched.length} of ${request.count} launched: ${launched.join(', ')})`;
    return new ProviderError(error.kind, message, {
      cause: error.cause,
      ...(error.cloudCode !== undefined ? { cloudCode: error.cloudCode } : {}),
      ...(error.statusCode !== undefined ? { statusCode: error.statusCode } : {}),
      ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
      ...(quota ? { quota } : {}),
    });
  }

  #deadlineAt(options: ProviderCallOptions): number {
    return this.#now() + (options.deadlineMs ?? this.#defaultDeadlineMs);
  }

  #checkSite(site: SiteRef, what: string): void {
    if (site.cloud !== 'oci' || site.region.toLowerCase() !== this.#deps.region.toLowerCase()) {
      throw new ProviderError(
        'fatal',
        `${what}: this provider manages OCI ${this.#deps.region}, not ${site.cloud} ${site.region}`,
      );
    }
  }

  #availabilityDomain(site: SiteRef, what: string): string {
    this.#checkSite(site, what);
    if (!site.zone)
      throw new ProviderError('fatal', `${what}: an availability domain (site.zone) is required`);
    return site.zone;
  }

  #shapeLimit(size: string, what: string): OciShapeLimit {
    const limit = this.#shapes[size];
    if (!limit) throw new ProviderError('fatal', `${what}: no service limit is known for shape ${size}`);
    return limit;
  }
}

/** An `opc-retry-token` (at most 64 characters) for one operation of one idempotency key on one target. */
export function ociRetryToken(operation: string, idempotencyKey: string, parts: (string | number)[]): string {
  const digest = createHash('sha256')
    .update([operation, idempotencyKey, ...parts].join('\n'))
    .digest('base64url');
  return `${operation}-${digest}`.slice(0, 64);
}

function instanceOcid(node: NodeRef): string {
  if (node.kind !== 'oci-instance')
    throw new ProviderError('fatal', `the OCI provider manages OCI instances, not ${node.kind}`);
  return node.ocid;
}

function toPowerState(state: LifecycleState): PowerState {
  switch (state) {
    case State.Running:
      return 'running';
    case State.Provisioning:
    case State.Starting:
      return 'starting';
    case State.Stopping:
    case State.Terminating:
      return 'stopping';
    case State.Stopped:
      return 'stopped';
    default:
      return 'unknown';
  }
}

function aborted(what: string, signal: AbortSignal): ProviderError {
  return new ProviderError('timeout', `${what}: abandoned (the caller aborted)`, { cause: signal.reason });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
