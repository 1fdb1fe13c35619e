/**
 * The one port through which the control plane touches cloud compute: fencing (power off), starting a standby,
 * graceful stop, capacity spillover (scale out / in) and headroom. Implemented for Azure (`@azure/arm-compute`) and
 * Oracle Cloud (`oci-core`, `oci-limits`); activities call it, orchestrations never do.
 */

export type Cloud = 'azure' | 'oci';

export interface SiteRef {
  cloud: Cloud;
  region: string;
  /** Azure availability zone or OCI availability domain. */
  zone?: string;
}

/** A node's compute: an Azure VM (or VMSS instance) resource id, or an OCI instance OCID. */
export type NodeRef = { kind: 'azure-vm'; resourceId: string } | { kind: 'oci-instance'; ocid: string };

export type PowerState =
  'starting' | 'running' | 'stopping' | 'stopped' | 'deallocating' | 'deallocated' | 'unknown';

export interface ProviderCallOptions {
  /**
   * Makes the call safe to repeat: the same key for the same operation causes one change. Activities derive it from
   * the orchestration instance and step, so a replayed or redelivered activity repeats the call harmlessly.
   */
  idempotencyKey: string;
  abortSignal?: AbortSignal;
  /** Long-running operations are followed to completion until this deadline (ms from now); then `Timeout`. */
  deadlineMs?: number;
}

export interface ScaleOutRequest {
  site: SiteRef;
  /** VM size (Azure, e.g. Standard_NC24ads_A100_v4) or shape (OCI, e.g. BM.GPU.A100-v2.8). */
  size: string;
  count: number;
  /** Azure: the VM scale set resource id to grow; OCI: the instance pool OCID or a compartment to launch into. */
  group: string;
}

export interface Headroom {
  site: SiteRef;
  size: string;
  /** How many more nodes of `size` the quota allows (the tighter of the family and the regional limit). */
  quotaNodes: number;
  quota: { scope: string; limit: number; used: number }[];
  /** Capacity where the cloud reports it (OCI capacity reports): `unknown` otherwise. */
  capacityNodes: number | 'unknown';
  /** A restriction that rules the size out in this site (Azure resource SKU restrictions). */
  restricted?: string;
}

export interface ComputeProvider {
  readonly cloud: Cloud;
  getPowerState(node: NodeRef, options?: { abortSignal?: AbortSignal }): Promise<PowerState>;
  start(node: NodeRef, options: ProviderCallOptions): Promise<void>;
  /** Fence: immediate power off, no graceful shutdown. */
  powerOff(node: NodeRef, options: ProviderCallOptions): Promise<void>;
  /** Graceful stop that releases the compute (Azure deallocate, OCI SOFTSTOP). */
  deallocate(node: NodeRef, options: ProviderCallOptions): Promise<void>;
  scaleOut(request: ScaleOutRequest, options: ProviderCallOptions): Promise<{ nodes: NodeRef[] }>;
  scaleIn(group: string, nodes: NodeRef[], options: ProviderCallOptions): Promise<void>;
  headroom(site: SiteRef, size: string, options?: { abortSignal?: AbortSignal }): Promise<Headroom>;
}
