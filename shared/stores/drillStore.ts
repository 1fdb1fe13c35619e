// TEMPORARY STUB (replaced by h-reports at merge)
import type { DrillHistoryPoint, DrillReport, DrillSummary } from '../domain/drills';
export class DrillStore {
  save(_r: DrillReport, _h: string): Promise<void> {
    return Promise.resolve();
  }
  get(_c: string, _d: string): Promise<DrillReport | undefined> {
    return Promise.resolve(undefined);
  }
  getHtml(_c: string, _d: string): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }
  list(
    _c: string,
    _o: { limit?: number; continuation?: string } = {},
  ): Promise<{ drills: DrillSummary[]; continuation?: string }> {
    return Promise.resolve({ drills: [] });
  }
  history(_c: string, _n: number): Promise<DrillHistoryPoint[]> {
    return Promise.resolve([]);
  }
  latest(_c: string): Promise<DrillSummary | undefined> {
    return Promise.resolve(undefined);
  }
}
