import type { DrillReport, DrillSummary } from '../../shared/domain/drills';
import { duration, mark, pad, safe, table, time } from './text';

const rto = (d: Pick<DrillSummary, 'rtoMs' | 'predictedRtoMs'>) =>
  d.rtoMs !== undefined
    ? duration(d.rtoMs)
    : d.predictedRtoMs !== undefined
      ? `~${duration(d.predictedRtoMs)}`
      : '-';

/** `drill list`: one line per drill, newest first (`~`: a validate drill's predicted RTO). */
export function renderDrillList(drills: DrillSummary[]): string {
  if (drills.length === 0) return 'No drills.\n';
  return (
    table(
      ['DRILL', 'MODE', 'RESULT', 'ENDED', 'RTO', 'RTO OBJECTIVE'],
      drills.map((d) => [
        safe(d.drillId),
        safe(d.mode),
        safe(d.result),
        time(d.endedAt),
        rto(d),
        duration(d.objectives.rtoMs),
      ]),
    ).join('\n') + '\n'
  );
}

/** `drill show`: the report — result, measured against the objectives, each check and leg, why it did not pass. */
export function renderDrillReport(d: DrillReport): string {
  const lines = [
    `Drill ${safe(d.drillId)} (${safe(d.mode)}) of ${safe(d.clusterId)}: ${safe(d.result).toUpperCase()}`,
    `  started ${time(d.startedAt)}, ended ${time(d.endedAt)}, by ${safe(d.actor)}`,
    `  RTO ${d.measured.rtoMs !== undefined ? duration(d.measured.rtoMs) : d.measured.predictedRtoMs !== undefined ? `predicted ${duration(d.measured.predictedRtoMs)}` : '-'} (objective ${duration(d.objectives.rtoMs)}), RPO ${duration(d.measured.rpoMs)} (objective ${duration(d.objectives.rpoMs)})`,
    'Checks:',
  ];
  for (const c of d.checks)
    lines.push(
      `  ${mark(c.outcome)} ${pad(`${safe(c.name)}${c.nodeId ? ` ${safe(c.nodeId)}` : ''}`, 32)} ${duration(c.durationMs)}  ${safe(c.detail)}`,
    );
  if (d.checks.length === 0) lines.push('  none');
  if (d.legs.length) {
    lines.push('Legs:');
    for (const leg of d.legs)
      lines.push(
        `  ${mark(leg.status)} ${safe(leg.name)} (${safe(leg.kind)} ${safe(leg.operationId)})${leg.rtoMs !== undefined ? ` RTO ${duration(leg.rtoMs)}` : ''}`,
      );
  }
  if (d.reasons.length) {
    lines.push('Why:');
    for (const r of d.reasons) lines.push(`  ${safe(r)}`);
  }
  return lines.join('\n') + '\n';
}
