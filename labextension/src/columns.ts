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

/** Which metric and param columns the user chose; `null` = the default (first few keys). */
export interface IColumnChoice {
  metrics: string[] | null;
  params: string[] | null;
}

export const DEFAULT_CHOICE: IColumnChoice = { metrics: null, params: null };

/** Metric and param keys present in `sample`, each sorted. */
export function keysOf(sample: IRun[]): { metrics: string[]; params: string[] } {
  const metricKeys = new Set<string>();
  const paramKeys = new Set<string>();
  for (const run of sample) {
    Object.keys(run.metrics ?? {}).forEach(k => metricKeys.add(k));
    Object.keys(run.params ?? {}).forEach(k => paramKeys.add(k));
  }
  return { metrics: [...metricKeys].sort(), params: [...paramKeys].sort() };
}

/**
 * The name, one column per chosen metric (then param) key, then the other base columns;
 * without a choice, the first `maxMetrics` metric and `maxParams` param keys seen in the
 * loaded rows.
 */
export function columnsFor(
  sample: IRun[],
  choice: IColumnChoice = DEFAULT_CHOICE,
  maxMetrics = 4,
  maxParams = 2
): IColumn[] {
  const keys = keysOf(sample);
  const metricCols: IColumn[] = (choice.metrics ?? keys.metrics.slice(0, maxMetrics)).map(k => ({
    id: `metrics.${k}`,
    title: k,
    width: 84,
    // Metric values are numbers: the server orders them numerically.
    sortField: `metrics.${quoteKey(k)}`,
    text: r => formatNumber(r.metrics?.[k])
  }));
  const paramCols: IColumn[] = (choice.params ?? keys.params.slice(0, maxParams)).map(k => ({
    id: `params.${k}`,
    title: k,
    width: 84,
    sortField: `params.${quoteKey(k)}`,
    text: r => r.params?.[k] ?? ''
  }));
  // Metrics and params right after the name, so a narrow panel shows them without scrolling.
  return [BASE_COLUMNS[0], ...metricCols, ...paramCols, ...BASE_COLUMNS.slice(1)];
}

const CHOICE_STORAGE_KEY = 'jupyter-mlops:run-columns';

export function loadColumnChoice(): IColumnChoice {
  try {
    const raw = JSON.parse(window.localStorage.getItem(CHOICE_STORAGE_KEY) ?? 'null');
    const list = (v: unknown) =>
      Array.isArray(v) && v.every(x => typeof x === 'string') ? (v as string[]) : null;
    return raw ? { metrics: list(raw.metrics), params: list(raw.params) } : DEFAULT_CHOICE;
  } catch {
    return DEFAULT_CHOICE;
  }
}

export function saveColumnChoice(choice: IColumnChoice): void {
  try {
    window.localStorage.setItem(CHOICE_STORAGE_KEY, JSON.stringify(choice));
  } catch {
    // Storage full or disabled: the choice lasts for this session only.
  }
}
