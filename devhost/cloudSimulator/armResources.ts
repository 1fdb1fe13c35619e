import type { CloudModel, SimPowerState, SimVm } from './cloudModel';

/**
 * The Azure-only state of the simulator that `CloudModel` does not hold: VM scale sets (their VMs are ordinary
 * model VMs whose `group` is the scale set id) and a log of the ARM actions received. Kept beside the model (one
 * registry per model) so the shared model stays cloud-neutral.
 */

export interface ArmScaleSet {
  /** Full ARM resource id, as Azure spells it. */
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  region: string;
  /** VM size of every instance. */
  size: string;
  zones?: string[];
  tags: Record<string, string>;
  /** Instance ids only grow, as in Azure (a deleted instance's id is never reused). */
  nextInstanceId: number;
  /** The last update operation: the scale set's provisioning state follows it. */
  lastOperationId?: string;
}

/** One ARM action the simulator received (for tests and the demo: which call, on what, with which options). */
export interface ArmAction {
  at: number;
  action: 'start' | 'powerOff' | 'deallocate' | 'scale' | 'deleteInstances';
  resourceId: string;
  detail?: Record<string, unknown>;
}

interface ArmState {
  scaleSets: Map<string, ArmScaleSet>;
  actions: ArmAction[];
}

const states = new WeakMap<CloudModel, ArmState>();

function armState(model: CloudModel): ArmState {
  let state = states.get(model);
  if (!state) {
    state = { scaleSets: new Map(), actions: [] };
    states.set(model, state);
  }
  return state;
}

/** ARM resource ids compare case-insensitively. */
export const armKey = (id: string): string => id.toLowerCase();

export function armVmId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/virtualMachines/${name}`;
}

export function armScaleSetId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets/${name}`;
}

export function armScaleSetVmId(scaleSetId: string, instanceId: string): string {
  return `${scaleSetId}/virtualMachines/${instanceId}`;
}

/** The scale sets of a model, by lower-cased resource id. */
export function armScaleSets(model: CloudModel): Map<string, ArmScaleSet> {
  return armState(model).scaleSets;
}

export function armScaleSet(model: CloudModel, id: string): ArmScaleSet | undefined {
  return armState(model).scaleSets.get(armKey(id));
}

export function armActions(model: CloudModel): ArmAction[] {
  return armState(model).actions;
}

export function recordArmAction(model: CloudModel, action: Omit<ArmAction, 'at'>): void {
  const actions = armState(model).actions;
  actions.push({ at: model.clock.now(), ...action });
  if (actions.length > 10_000) actions.splice(0, actions.length - 10_000);
}

/** The VM with this ARM resource id (case-insensitive), a standalone VM or a scale set instance. */
export function findArmVm(model: CloudModel, id: string): SimVm | undefined {
  const exact = model.vms.get(id);
  if (exact?.cloud === 'azure') return exact;
  const key = armKey(id);
  for (const vm of model.vms.values()) if (vm.cloud === 'azure' && armKey(vm.id) === key) return vm;
  return undefined;
}

/** The instances of a scale set, by instance id. */
export function scaleSetInstances(model: CloudModel, scaleSet: ArmScaleSet): SimVm[] {
  const key = armKey(scaleSet.id);
  return [...model.vms.values()]
    .filter((vm) => vm.cloud === 'azure' && vm.group !== undefined && armKey(vm.group) === key)
    .sort((a, b) => instanceIdOf(a) - instanceIdOf(b));
}

export function instanceIdOf(vm: SimVm): number {
  return Number(/\/virtualMachines\/(\d+)$/i.exec(vm.id)?.[1] ?? -1);
}

export interface ArmVmSeed {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  region: string;
  size: string;
  zone?: string;
  powerState?: Extract<SimPowerState, 'running' | 'stopped' | 'deallocated'>;
}

/** Adds a standalone Azure VM whose model id is its full ARM resource id. Does not touch the site's capacity. */
export function putArmVm(model: CloudModel, seed: ArmVmSeed): SimVm {
  if (!model.sizes.has(seed.size)) throw new Error(`unknown size ${seed.size}: add it to model.sizes first`);
  const vm: SimVm = {
    id: armVmId(seed.subscriptionId, seed.resourceGroup, seed.name),
    name: seed.name,
    cloud: 'azure',
    region: seed.region,
    ...(seed.zone !== undefined ? { zone: seed.zone } : {}),
    size: seed.size,
    powerState: seed.powerState ?? 'running',
    createdAt: model.clock.now(),
  };
  model.vms.set(vm.id, vm);
  return vm;
}

export interface ArmScaleSetSeed {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  region: string;
  size: string;
  zones?: string[];
  tags?: Record<string, string>;
  /** Instances it already has (running). Does not touch the site's capacity. */
  instances?: number;
}

/** Adds (or replaces) a scale set and its initial instances. */
export function putArmScaleSet(model: CloudModel, seed: ArmScaleSetSeed): ArmScaleSet {
  if (!model.sizes.has(seed.size)) throw new Error(`unknown size ${seed.size}: add it to model.sizes first`);
  const scaleSet: ArmScaleSet = {
    id: armScaleSetId(seed.subscriptionId, seed.resourceGroup, seed.name),
    subscriptionId: seed.subscriptionId,
    resourceGroup: seed.resourceGroup,
    name: seed.name,
    region: seed.region,
    size: seed.size,
    ...(seed.zones ? { zones: [...seed.zones] } : {}),
    tags: { ...seed.tags },
    nextInstanceId: 0,
  };
  for (const vm of [...model.vms.values()])
    if (vm.group !== undefined && armKey(vm.group) === armKey(scaleSet.id)) model.vms.delete(vm.id);
  armState(model).scaleSets.set(armKey(scaleSet.id), scaleSet);
  for (let i = 0; i < (seed.instances ?? 0); i++) addScaleSetInstance(model, scaleSet, 'running');
  return scaleSet;
}

/** Adds one instance with the next instance id, in `powerState` (callers start a transition if it is not final). */
export function addScaleSetInstance(
  model: CloudModel,
  scaleSet: ArmScaleSet,
  powerState: SimPowerState,
): SimVm {
  const instanceId = String(scaleSet.nextInstanceId++);
  const zone = scaleSet.zones?.[Number(instanceId) % scaleSet.zones.length];
  const vm: SimVm = {
    id: armScaleSetVmId(scaleSet.id, instanceId),
    name: `${scaleSet.name}_${instanceId}`,
    cloud: 'azure',
    region: scaleSet.region,
    ...(zone !== undefined ? { zone } : {}),
    size: scaleSet.size,
    powerState,
    group: scaleSet.id,
    createdAt: model.clock.now(),
  };
  model.vms.set(vm.id, vm);
  return vm;
}
