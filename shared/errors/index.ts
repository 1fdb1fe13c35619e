export { FailoverPlaneError, isRetryable, type FailoverPlaneErrorOptions } from './failoverPlaneError';
export { LeaseLostError } from './leaseLostError';
export { WitnessBusyError } from './witnessBusyError';
export { ConcurrencyError } from './concurrencyError';
export { StorageUnavailableError } from './storageUnavailableError';
export { StaleEpochError } from './staleEpochError';
export { WitnessNotFoundError } from './witnessNotFoundError';
export { WitnessRecordCorruptError } from './witnessRecordCorruptError';
export { DurableBackendUnavailableError } from './durableBackendUnavailableError';
