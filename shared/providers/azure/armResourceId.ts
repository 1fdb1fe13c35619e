/** ARM resource ids of the compute resources the provider touches. ARM compares ids case-insensitively. */

export interface ArmVmRef {
  type: 'vm';
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export interface ArmScaleSetVmRef {
  type: 'scale-set-vm';
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  scaleSet: string;
  instanceId: string;
}

export interface ArmScaleSetRef {
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

const PREFIX = String.raw`^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.Compute/`;
const VM_ID = new RegExp(`${PREFIX}virtualMachines/([^/]+)/?$`, 'i');
const SCALE_SET_VM_ID = new RegExp(
  `${PREFIX}virtualMachineScaleSets/([^/]+)/virtualMachines/([^/]+)/?$`,
  'i',
);
const SCALE_SET_ID = new RegExp(`${PREFIX}virtualMachineScaleSets/([^/]+)/?$`, 'i');

export const sameArmId = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** A standalone VM or a scale set instance, or undefined when `id` is neither. */
export function parseArmVmId(id: string): ArmVmRef | ArmScaleSetVmRef | undefined {
  const vm = VM_ID.exec(id);
  if (vm) {
    const [, subscriptionId = '', resourceGroup = '', name = ''] = vm;
    return { type: 'vm', id, subscriptionId, resourceGroup, name: decodeURIComponent(name) };
  }
  const instance = SCALE_SET_VM_ID.exec(id);
  if (instance) {
    const [, subscriptionId = '', resourceGroup = '', scaleSet = '', instanceId = ''] = instance;
    return {
      type: 'scale-set-vm',
      id,
      subscriptionId,
      resourceGroup,
      scaleSet: decodeURIComponent(scaleSet),
      instanceId: decodeURIComponent(instanceId),
    };
  }
  return undefined;
}

export function parseArmScaleSetId(id: string): ArmScaleSetRef | undefined {
  const match = SCALE_SET_ID.exec(id);
  if (!match) return undefined;
  const [, subscriptionId = '', resourceGroup = '', name = ''] = match;
  return { id, subscriptionId, resourceGroup, name: decodeURIComponent(name) };
}
