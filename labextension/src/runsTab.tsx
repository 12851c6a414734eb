/** The Runs tab: filter, sortable virtualised table, selection → compare, click → details. */
import * as React from 'react';
import { ApiError } from './api';
import {
  columnsFor,
  IColumnChoice,
  ISort,
  keysOf,
  loadColumnChoice,
  orderByClause,
  saveColumnChoice
} from './columns';
import { CompareView } from './compareView';
import { RunDetails } from './runDetails';
import { RunsTable } from './runsTable';
import { PAGE_SIZE, useRunsWindow } from './runsWindow';
import { MlopsService } from './service';
import { IRun } from './types';
import { useAsync } from './useAsync';

const LIVE_REFRESH_MS = 3000;

export interface IRunsTabProps {
  service: MlopsService;
  /** Incremented by the `mlops:refresh` command. */
  refreshCount: number;
  onOpenNotebook(runId: string): Promise<void>;
  onShowLineage(node: string): void;
}

type View =
  { kind: 'list' } | { kind: 'run'; runId: string } | { kind: 'compare'; runIds: string[] };

export function RunsTab(props: IRunsTabProps): JSX.Element {
  const { service } = props;
  const [draft, setDraft] = React.useState('');
  const [filter, setFilter] = React.useState('');
  const [experiment, setExperiment] = React.useState('');
  const [sort, setSort] = React.useState<ISort | null>({ field: 'start_time', descending: true });
  const [selected, setSelected] = React.useState<Set<string>>(new Set());
  const [view, setView] = React.useState<View>({ kind: 'list' });
  const experiments = useAsync(() => service.listExperiments(), [service, props.refreshCount]);

  const selection = React.useMemo(
    () => ({ filter, experiment, orderBy: orderByClause(sort) }),
    [filter, experiment, sort]
  );
  const runs = useRunsWindow(service, selection);
  const visibleRange = React.useRef<[number, number]>([0, 0]);

  const onVisibleChange = React.useCallback(
    (first: number, last: number) => {
      visibleRange.current = [first, last];
      runs.setVisible(first, last);
    },
    [runs.setVisible]
  );

  // Columns come from the first loaded page so they do not jump while scrolling.
  const sample: IRun[] = [];
  for (let i = 0; i < Math.min(PAGE_SIZE, runs.total ?? 0); i++) {
    const r = runs.rowAt(i);
    if (r) {
      sample.push(r);
    }
  }
  const sampleKey = sample.map(r => r.id).join();
  const [choice, setChoice] = React.useState<IColumnChoice>(loadColumnChoice);
  const [picking, setPicking] = React.useState(false);
  const keys = React.useMemo(() => keysOf(sample), [sampleKey]);
  const columns = React.useMemo(() => columnsFor(sample, choice), [sampleKey, choice]);
  const shown = new Set(columns.map(c => c.id));
  const toggleColumn = (kind: 'metrics' | 'params', key: string) => {
    const current = columns.filter(c => c.id.startsWith(`${kind}.`)).map(c => c.title);
    const next = current.includes(key) ? current.filter(k => k !== key) : [...current, key];
    const updated = { ...choice, [kind]: next };
    setChoice(updated);
    saveColumnChoice(updated);
  };

  // Poll while any on-screen run is live.
  const anyLiveVisible = (): boolean => {
    const [first, last] = visibleRange.current;
    for (let i = first; i <= last; i++) {
      if (runs.rowAt(i)?.status === 'RUNNING') {
        return true;
      }
    }
    return false;
  };
  React.useEffect(() => {
    const timer = setInterval(() => {
      if (view.kind === 'list' && anyLiveVisible()) {
        runs.refresh();
      }
    }, LIVE_REFRESH_MS);
    return () => clearInterval(timer);
  }, [runs.refresh, view.kind]);

  React.useEffect(() => {
    if (props.refreshCount > 0) {
      runs.refresh();
    }
  }, [props.refreshCount]);

  const onSort = (field: string) =>
    setSort(s =>
      s && s.field === field ? { field, descending: !s.descending } : { field, descending: true }
    );

  const toggle = (id: string) =>
    setSelected(prev => {
      const next = new Set(prev);
      next.has(id) ? next.delete(id) : next.add(id);
      return next;
    });

  const filterError =
    runs.error instanceof ApiError && runs.error.status === 400 ? runs.error : null;
  const otherError = runs.error && !filterError ? runs.error : null;

  return (
    <div className="jp-mlops-runs">
      <div
        className="jp-mlops-runs-list"
        style={{ display: view.kind === 'list' ? undefined : 'none' }}
      >
        <form
          className="jp-mlops-filter"
          onSubmit={e => {
            e.preventDefault();
            // The input's own value, not `draft`: an Enter that follows a keystroke before
            // React re-rendered would otherwise submit the previous text.
            const input = e.currentTarget.elements.namedItem('filter') as HTMLInputElement | null;
            const text = (input?.value ?? draft).trim();
            setDraft(text);
            setFilter(text);
          }}
        >
          <input
            name="filter"
            className="jp-mlops-input jp-mlops-filter-input"
            placeholder="Filter, e.g. metrics.acc > 0.9 and params.lr = '0.01'"
            aria-label="Filter runs"
            value={draft}
            onChange={e => setDraft(e.target.value)}
          />
          <select
            className="jp-mlops-experiment-select"
            aria-label="Experiment"
            value={experiment}
            onChange={e => setExperiment(e.target.value)}
          >
            <option value="">All experiments</option>
            {(experiments.value ?? []).map(x => (
              <option key={x.name} value={x.name}>
                {x.name}
              </option>
            ))}
          </select>
        </form>
        {filterError && (
          <pre className="jp-mlops-error jp-mlops-filter-error" role="alert">
            {filterError.message}
          </pre>
        )}
        {runs.hint && !filterError && (
          <div className="jp-mlops-filter-hint" role="status">
            {runs.hint}
          </div>
        )}
        {otherError && (
          <div className="jp-mlops-error" role="alert">
            {otherError.message}
          </div>
        )}
        <div className="jp-mlops-toolbar">
          <span className="jp-mlops-muted jp-mlops-total">
            {runs.total === null
              ? runs.loading
                ? 'Loading…'
                : ''
              : `${runs.total.toLocaleString()} runs`}
          </span>
          <button
            className="jp-mlops-button jp-mlops-columns-button"
            aria-expanded={picking}
            aria-controls="jp-mlops-column-picker"
            onClick={() => setPicking(p => !p)}
          >
            Columns
          </button>
          <button
            className="jp-mlops-button jp-mlops-compare-button"
            disabled={selected.size < 2}
            onClick={() => setView({ kind: 'compare', runIds: [...selected] })}
          >
            Compare ({selected.size})
          </button>
          {selected.size > 0 && (
            <button className="jp-mlops-button" onClick={() => setSelected(new Set())}>
              Clear
            </button>
          )}
        </div>
        {picking && (
          <div
            className="jp-mlops-column-picker"
            id="jp-mlops-column-picker"
            role="group"
            aria-label="Columns"
          >
            {(['metrics', 'params'] as const).map(kind => (
              <fieldset key={kind} className="jp-mlops-column-group">
                <legend>{kind === 'metrics' ? 'Metrics' : 'Params'}</legend>
                {keys[kind].length === 0 && <span className="jp-mlops-muted">none logged</span>}
                {keys[kind].map(k => (
                  <label key={k} className="jp-mlops-column-option" data-column={`${kind}.${k}`}>
                    <input
                      type="checkbox"
                      checked={shown.has(`${kind}.${k}`)}
                      onChange={() => toggleColumn(kind, k)}
                    />
                    {k}
                  </label>
                ))}
              </fieldset>
            ))}
          </div>
        )}
        {runs.total === 0 && !runs.error ? (
          <div className="jp-mlops-empty">
            {filter || experiment
              ? 'No runs match.'
              : 'No runs yet. Log one with %mlops start in a notebook.'}
          </div>
        ) : (
          <RunsTable
            total={runs.total ?? 0}
            columns={columns}
            rowAt={runs.rowAt}
            sort={sort}
            onSort={onSort}
            selected={selected}
            onToggle={toggle}
            onOpen={runId => setView({ kind: 'run', runId })}
            onVisibleChange={onVisibleChange}
            resetKey={JSON.stringify(selection)}
          />
        )}
      </div>
      {view.kind === 'run' && (
        <RunDetails
          service={service}
          runId={view.runId}
          onBack={() => setView({ kind: 'list' })}
          onOpenNotebook={props.onOpenNotebook}
          onShowLineage={props.onShowLineage}
        />
      )}
      {view.kind === 'compare' && (
        <CompareView
          service={service}
          runIds={view.runIds}
          onBack={() => setView({ kind: 'list' })}
          onOpenRun={runId => setView({ kind: 'run', runId })}
        />
      )}
    </div>
  );
}
