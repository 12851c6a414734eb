/** Column model of the runs table and its mapping to server-side `order_by`. */
import { formatDuration, formatNumber, formatShortTime } from './format';
import { IRun } from './types';

export interface IColumn {
  id: string;
  title: string;
  /** Width in pixels: fixed, so every virtualised row lines up with the header. */
  width: number;
  /** The `order_by` field this column sorts on, if sortable. */
  sortField?: string;
  text(run: IRun): string;
}

export interface ISort {
  field: string;
  descending: boolean;
}

/** Quote a metric/param key for the filter and order_by language when needed. */
export function quoteKey(key: string): string {
  // Bare keys are [A-Za-z0-9_/-]+ joined by dots; anything else is back-ticked
  // (a back-tick inside is escaped by doubling it).
  return /^[A-Za-z0-9_/-]+(\.[A-Za-z0-9_/-]+)*$/.test(key)
    ? key
    : '`' + key.replace(/`/g, '``') + '`';
}

export function orderByClause(sort: ISort | null): string[] {
  return sort ? [`${sort.field} ${sort.descending ? 'DESC' : 'ASC'}`] : [];
}

const BASE_COLUMNS: IColumn[] = [
  { id: 'name', title: 'Name', width: 170, sortField: 'name', text: r => r.name },
  {
    id: 'experiment',
    title: 'Experiment',
    width: 100,
    sortField: 'experiment',
    text: r => r.experiment
  },
  {
    id: 'start',
    title: 'Started',
    width: 100,
    sortField: 'start_time',
    text: r => formatShortTime(r.start_time)
  },
  {
    id: 'duration',
    title: 'Duration',
    width: 66,
    text: r => formatDuration(r.start_time, r.end_time)
  },
  { id: 'user', title: 'User', width: 70, sortField: 'user', text: r => r.user }
];

/** Base columns plus one per metric (then param) key seen in the loaded rows. */
export function columnsFor(sample: IRun[], maxMetrics = 4, maxParams = 2): IColumn[] {
  const metricKeys = new Set<string>();
  const paramKeys = new Set<string>();
  for (const run of sample) {
    Object.keys(run.metrics ?? {}).forEach(k => metricKeys.add(k));
    Object.keys(run.params ?? {}).forEach(k => paramKeys.add(k));
  }
  const metricCols: IColumn[] = [...metricKeys]
    .sort()
    .slice(0, maxMetrics)
    .map(k => ({
      id: `metrics.${k}`,
      title: k,
      width: 84,
      sortField: `metrics.${quoteKey(k)}`,
      text: r => formatNumber(r.metrics?.[k])
    }));
  const paramCols: IColumn[] = [...paramKeys]
    .sort()
    .slice(0, maxParams)
    .map(k => ({
      id: `params.${k}`,
      title: k,
      width: 84,
      sortField: `params.${quoteKey(k)}`,
      text: r => r.params?.[k] ?? ''
    }));
  return [...BASE_COLUMNS, ...metricCols, ...paramCols];
}
