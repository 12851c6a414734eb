/**
 * The drift statistics the server's verdict uses (jupyter_mlops/monitoring/drift.py) and the
 * threshold line each one draws: a numeric feature drifts when its KS p-value is below its
 * threshold AND its PSI is at or above its threshold; a categorical feature when its
 * chi-squared p-value is below its threshold AND its Jensen–Shannon distance is at or above
 * its threshold. Each chart shows one statistic against its own threshold and direction.
 */

export type DriftMeasure = 'psi' | 'ks_pvalue' | 'chi2_pvalue' | 'js';

export interface IDriftStatistic {
  measure: DriftMeasure;
  label: string;
  /** The feature kind whose verdict uses it. */
  kind: 'numeric' | 'categorical';
  /** `above`: drift needs value ≥ threshold; `below`: drift needs value < threshold. */
  direction: 'above' | 'below';
}

export const DRIFT_STATISTICS: IDriftStatistic[] = [
  { measure: 'psi', label: 'PSI', kind: 'numeric', direction: 'above' },
  { measure: 'ks_pvalue', label: 'KS p-value', kind: 'numeric', direction: 'below' },
  { measure: 'chi2_pvalue', label: 'χ² p-value', kind: 'categorical', direction: 'below' },
  { measure: 'js', label: 'Jensen–Shannon', kind: 'categorical', direction: 'above' }
];

export interface IThresholdLine {
  measure: DriftMeasure;
  value: number;
  direction: 'above' | 'below';
  /** e.g. `drift when PSI ≥ 0.1`. */
  label: string;
}

function fmt(v: number): string {
  return String(Number(v.toPrecision(4)));
}

/** The threshold line of one statistic, or null when the monitor has no threshold for it. */
export function thresholdLine(
  measure: DriftMeasure,
  thresholds: Record<string, number>
): IThresholdLine | null {
  const stat = DRIFT_STATISTICS.find(s => s.measure === measure);
  const value = thresholds[measure];
  if (!stat || typeof value !== 'number' || !Number.isFinite(value)) {
    return null;
  }
  const op = stat.direction === 'above' ? '≥' : '<';
  return {
    measure,
    value,
    direction: stat.direction,
    label: `drift when ${stat.label} ${op} ${fmt(value)}`
  };
}

/** Whether `value` is on the drift side of its statistic's threshold. */
export function beyondThreshold(line: IThresholdLine, value: number): boolean {
  return line.direction === 'above' ? value >= line.value : value < line.value;
}

/** The verdict rule in words, with this monitor's thresholds. */
export function verdictRule(thresholds: Record<string, number>): string {
  const part = (a: DriftMeasure, b: DriftMeasure) => {
    const la = thresholdLine(a, thresholds);
    const lb = thresholdLine(b, thresholds);
    return la && lb ? `${la.label.replace('drift when ', '')} and ${lb.label.replace('drift when ', '')}` : '';
  };
  return (
    `A numeric feature drifts when ${part('ks_pvalue', 'psi')}; ` +
    `a categorical one when ${part('chi2_pvalue', 'js')}.`
  );
}
