/** Which OCI service limit a shape counts against, and how many units one node takes of it. */
export interface OciShapeLimit {
  /** Limits service name: `compute` for instance shapes. */
  serviceName: string;
  /** e.g. gpu-a100-v2-count (AD-scoped). */
  limitName: string;
  /** GPU shapes count GPUs, standard shapes OCPUs (flex shapes: the OCPUs you launch them with). */
  unitsPerNode: number;
}

/**
 * The shapes the control plane launches by default. Override or extend through `shapeLimits` in the provider's
 * dependencies (the limit names are those of the console's Limits, Quotas and Usage page).
 */
export const DEFAULT_OCI_SHAPE_LIMITS: Readonly<Record<string, OciShapeLimit>> = {
  'BM.GPU.A100-v2.8': { serviceName: 'compute', limitName: 'gpu-a100-v2-count', unitsPerNode: 8 },
  'BM.GPU4.8': { serviceName: 'compute', limitName: 'gpu-a100-count', unitsPerNode: 8 },
  'BM.GPU.H100.8': { serviceName: 'compute', limitName: 'gpu-h100-count', unitsPerNode: 8 },
  'BM.GPU.A10.4': { serviceName: 'compute', limitName: 'gpu-a10-count', unitsPerNode: 4 },
  'VM.GPU.A10.1': { serviceName: 'compute', limitName: 'gpu-a10-count', unitsPerNode: 1 },
  'VM.GPU.A10.2': { serviceName: 'compute', limitName: 'gpu-a10-count', unitsPerNode: 2 },
  'VM.Standard.E5.Flex': { serviceName: 'compute', limitName: 'standard-e5-core-count', unitsPerNode: 4 },
};
