export {
  AzureComputeProvider,
  SCALE_OUT_TAG,
  headroomOf,
  planPowerAction,
  powerStateOf,
  type AzureComputeProviderDeps,
} from './azureComputeProvider';
export { classifyAzureError, parseAzureQuota, scrubSecrets, type AzureErrorContext } from './armErrors';
export {
  ARM_READ_LIMITS,
  ARM_WRITE_LIMITS,
  ArmThrottle,
  TokenBucket,
  armRequestKind,
  type ArmRequestKind,
  type ArmThrottleOptions,
  type ArmThrottleScope,
  type BucketDecision,
  type BucketLimits,
} from './armThrottle';
export {
  parseArmScaleSetId,
  parseArmVmId,
  type ArmScaleSetRef,
  type ArmScaleSetVmRef,
  type ArmVmRef,
} from './armResourceId';
export { StaticTokenCredential } from './staticTokenCredential';
export { createAzureCredential, type AzureCredentialConfig } from './azureCredential';
