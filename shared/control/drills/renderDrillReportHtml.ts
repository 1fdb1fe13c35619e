// TEMPORARY STUB (replaced by h-reports at merge)
import type { DrillReport } from '../../domain/drills';
export function renderDrillReportHtml(report: DrillReport): string {
  return `<!doctype html><title>${report.drillId}</title>`;
}
