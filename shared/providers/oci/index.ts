export { OciComputeProvider, ociRetryToken, type OciComputeProviderDeps } from './ociComputeProvider';
export { createOciAuthProvider, ociKeyFingerprint, type OciApiKeyConfig } from './ociAuth';
export {
  classifyOciError,
  parseOciQuotaNumbers,
  DEFAULT_OCI_RETRY_AFTER_MS,
  type OciErrorContext,
} from './ociErrors';
export { DEFAULT_OCI_SHAPE_LIMITS, type OciShapeLimit } from './ociShapes';
