// TEMPORARY STUB (replaced by h-validate at merge)
import type { Services } from '../../services/services';
import type { ValidateOutcome } from './drillTypes';
export async function runValidateChecks(
  _services: Services,
  _clusterId: string,
  _options: { abortSignal?: AbortSignal; drillId?: string } = {},
): Promise<ValidateOutcome | undefined> {
  return Promise.resolve({ checks: [], prediction: { ms: 0, parts: [] } });
}
