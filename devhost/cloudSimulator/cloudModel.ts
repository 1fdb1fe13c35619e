import type { Clock } from '../clock';

/** The state of the simulated clouds: sites with quota and capacity, VMs with power-state machines, and faults. */

export type SimCloud = 'azure' | 'oci';
export type SimPowerState = 'starting' | 'running' | 'stopping' | 'stopped' | 'deallocating' | 'deallocated';

export interface SimSize {
  name: string;
  /** Quota family: Azure family name (standardNCADSA100v4Family) or OCI limit name (gpu-a100-v2-count). */
  family: string;
  /** Cores counted against regional quota (Azure) or units per node against the limit (OCI). */
  cores: number;
}

export interface SimSite {
  cloud: SimCloud;
  region: string;
  /** Quota per family name plus `cores` (regional), as { limit, used } (used derived from VMs plus `extraUsed`). */
  quotas: Record<string, { limit: number; extraUsed?: number }>;
  /** How many more nodes of each size the site can place now (capacity, not quota). */
  capacity: Record<string, number>;
  /** Zones (Azure) or availability domains (OCI) where each size is restricted, e.g. { Standard_X: ['2'] } or 'all'. */
  restrictions?: Record<string, string[] | 'all'>;
  /** Region down: connections are refused (or hang) for this site's requests. */
  down?: 'refuse' | 'hang';
}

export interface SimVm {
  id: string;
  name: string;
  cloud: SimCloud;
  region: string;
  zone?: string;
  size: string;
  powerState: SimPowerState;
  /** The state being transitioned to, and when the transition completes. */
  target?: SimPowerState;
  until?: number;
  /** Scale set / instance pool this VM belongs to. */
  group?: string;
  createdAt: number;
}

export type FaultKind =
  | 'AllocationFailed'
  | 'ZonalAllocationFailed'
  | 'QuotaExceeded'
  | 'Throttled'
  | 'OutOfHostCapacity'
  | 'LimitExceeded'
  | 'SkuNotAvailable'
  | 'ServerError'
  | 'Slow';

export interface Fault {
  id: number;
  cloud: SimCloud;
  region: string;
  /** The operation it applies to: start, create (incl. scale out and launch), stop, any. */
  operation: 'start' | 'create' | 'stop' | 'any';
  kind: FaultKind;
  /** How many times it fires before it is used up (default: until removed). */
  remaining?: number;
  /** Throttled: Retry-After seconds. Slow: extra transition time in ms. */
  retryAfterSeconds?: number;
  delayMs?: number;
  /** AllocationFailed on an async operation: reported when the operation is polled (as Azure does). */
  async?: boolean;
}

export interface SimRequestLogEntry {
  at: number;
  cloud: SimCloud;
  method: string;
  path: string;
  status: number;
  /** The request's idempotency key (OCI `opc-retry-token`), when it had one. */
  idempotencyKey?: string;
  /** Answered from that key's first result: nothing changed. */
  replayed?: boolean;
}

export interface OperationRecord {
  id: string;
  status: 'InProgress' | 'Succeeded' | 'Failed';
  error?: { code: string; message: string };
  /** When the operation finishes (for InProgress), and what it was. */
  until: number;
  resourceId?: string;
}

export class CloudModel {
  readonly sizes = new Map<string, SimSize>();
  readonly sites = new Map<string, SimSite>();
  readonly vms = new Map<string, SimVm>();
  readonly faults: Fault[] = [];
  readonly operations = new Map<string, OperationRecord>();
  /** Idempotency: the result of a mutating call per key, so a repeated call changes nothing. */
  readonly idempotency = new Map<string, unknown>();
  /** Requests received per cloud (for the providers benchmark: requests per operation). */
  readonly requestCounts: Record<SimCloud | 'admin', number> = { azure: 0, oci: 0, admin: 0 };
  /** The cloud requests received, newest last (the latest 20,000): what tests and benchmarks count per operation. */
  readonly requestLog: SimRequestLogEntry[] = [];
  transitionMs: number;
  #nextFault = 1;
  #nextId = 1;

  constructor(
    readonly clock: Clock,
    options: { transitionMs?: number } = {},
  ) {
    this.transitionMs = options.transitionMs ?? 200;
  }

  static siteKey(cloud: SimCloud, region: string): string {
    return `${cloud}/${region.toLowerCase()}`;
  }

  site(cloud: SimCloud, region: string): SimSite | undefined {
    return this.sites.get(CloudModel.siteKey(cloud, region));
  }

  putSite(site: SimSite): void {
    this.sites.set(CloudModel.siteKey(site.cloud, site.region), site);
  }

  newId(prefix: string): string {
    return `${prefix}${String(this.#nextId++).padStart(6, '0')}`;
  }

  addFault(fault: Omit<Fault, 'id'>): Fault {
    const added = { ...fault, id: this.#nextFault++ };
    this.faults.push(added);
    return added;
  }

  /**
   * The first fault for an operation in a site (of one of `kinds`, when given), used up once if it has a count.
   */
  takeFault(
    cloud: SimCloud,
    region: string,
    operation: Fault['operation'],
    kinds?: readonly FaultKind[],
  ): Fault | undefined {
    const index = this.faults.findIndex(
      (f) =>
        f.cloud === cloud &&
        f.region.toLowerCase() === region.toLowerCase() &&
        (f.operation === operation || f.operation === 'any') &&
        (!kinds || kinds.includes(f.kind)),
    );
    if (index < 0) return undefined;
    const fault = this.faults[index] as Fault;
    if (fault.remaining !== undefined) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.faults.splice(index, 1);
    }
    return fault;
  }

  /** Advances every VM whose transition is due. Called before every read. */
  settle(): void {
    const now = this.clock.now();
    for (const vm of this.vms.values()) {
      if (vm.target && vm.until !== undefined && vm.until <= now) {
        vm.powerState = vm.target;
        delete vm.target;
        delete vm.until;
      }
    }
    for (const op of this.operations.values()) {
      if (op.status === 'InProgress' && op.until <= now) op.status = op.error ? 'Failed' : 'Succeeded';
    }
  }

  /** Starts a power transition: `via` now, `target` after transitionMs (+ extra). */
  transition(vm: SimVm, via: SimPowerState, target: SimPowerState, extraMs = 0): number {
    const until = this.clock.now() + this.transitionMs + extraMs;
    vm.powerState = via;
    vm.target = target;
    vm.until = until;
    return until;
  }

  /** Quota use of a site per family and `cores`, from its VMs that hold compute (not deallocated/stopped on OCI). */
  quotaUse(site: SimSite): Record<string, { limit: number; used: number }> {
    const use: Record<string, { limit: number; used: number }> = {};
    for (const [name, q] of Object.entries(site.quotas))
      use[name] = { limit: q.limit, used: q.extraUsed ?? 0 };
    for (const vm of this.vms.values()) {
      if (vm.cloud !== site.cloud || vm.region.toLowerCase() !== site.region.toLowerCase()) continue;
      if (vm.powerState === 'deallocated' || vm.target === 'deallocated') continue;
      const size = this.sizes.get(vm.size);
      if (!size) continue;
      const family = use[size.family];
      if (family) family.used += size.cores;
      const cores = use.cores;
      if (cores) cores.used += size.cores;
    }
    return use;
  }

  /** The quota that `count` more nodes of `size` would exceed, with the numbers, or undefined. */
  quotaShortfall(
    site: SimSite,
    size: SimSize,
    count: number,
  ): { scope: string; limit: number; usage: number; required: number } | undefined {
    const use = this.quotaUse(site);
    for (const scope of [size.family, 'cores']) {
      const q = use[scope];
      if (!q) continue;
      const required = size.cores * count;
      if (q.used + required > q.limit) return { scope, limit: q.limit, usage: q.used, required };
    }
    return undefined;
  }

  snapshot(): unknown {
    this.settle();
    return {
      now: new Date(this.clock.now()).toISOString(),
      transitionMs: this.transitionMs,
      sizes: [...this.sizes.values()],
      sites: [...this.sites.values()].map((s) => ({ ...s, quotaUse: this.quotaUse(s) })),
      vms: [...this.vms.values()],
      faults: this.faults,
      requestCounts: this.requestCounts,
    };
  }
}
