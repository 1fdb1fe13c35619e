import { percentile, round } from '../benchKit';

export interface Distribution {
  n: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
}

/** p50/p99 (nearest rank), min and max of the defined values. */
export function distribution(values: readonly (number | undefined)[]): Distribution {
  const sorted = values
    .filter((v): v is number => v !== undefined && Number.isFinite(v))
    .sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    min: sorted[0] ?? NaN,
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

export const describe = (d: Distribution) =>
  `p50 ${round(d.p50, 0)} ms, p99 ${round(d.p99, 0)} ms (n=${d.n}, min ${round(d.min, 0)}, max ${round(d.max, 0)})`;

/** `b - a` when both are known. */
export const span = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? undefined : b - a;
