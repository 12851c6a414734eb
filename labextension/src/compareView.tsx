/** Compare 2+ runs: overlaid metric curves, a param diff and latest metric values. */
import * as React from 'react';
import { formatNumber } from './format';
import { SERIES_COLORS } from './metricChart';
import { MetricHistoryChart } from './metricHistoryChart';
import { NotebookDiffView } from './notebookDiffView';
import { MlopsService } from './service';
import { StatusBadge } from './statusBadge';
import { IRunDetail } from './types';
import { useAsync } from './useAsync';
import { saveBlob } from './download';
import { GroupedCurves } from './groupedCurves';

export interface ICompareViewProps {
  service: MlopsService;
  runIds: string[];
  onBack(): void;
  onOpenRun(runId: string): void;
}

/** Union of the keys of `pick(run)` over all runs, sorted. */
function keysOf(runs: IRunDetail[], pick: (r: IRunDetail) => Record<string, unknown>): string[] {
  const keys = new Set<string>();
  runs.forEach(r => Object.keys(pick(r) ?? {}).forEach(k => keys.add(k)));
  return [...keys].sort();
}

export function CompareView(props: ICompareViewProps): JSX.Element {
  const { service, runIds } = props;
  const [onlyDiff, setOnlyDiff] = React.useState(true);
  const [actionError, setActionError] = React.useState<string | null>(null);
  const runs = useAsync(
    () => Promise.all(runIds.map(id => service.getRun(id))),
    [service, runIds.join(',')]
  );

  const back = (
    <button className="jp-mlops-button jp-mlops-back" onClick={props.onBack}>
      ← Runs
    </button>
  );
  if (runs.error) {
    return (
      <div className="jp-mlops-compare">
        {back}
        <div className="jp-mlops-error">{runs.error.message}</div>
      </div>
    );
  }
  if (!runs.value) {
    return <div className="jp-mlops-compare">{back} Loading…</div>;
  }
  const list = runs.value;
  const metricKeys = keysOf(list, r => r.metrics);
  const paramKeys = keysOf(list, r => r.params).filter(
    k => !onlyDiff || new Set(list.map(r => r.params[k] ?? '\u0000missing')).size > 1
  );

  const header = (
    <tr>
      <th />
      {list.map((r, i) => (
        <th key={r.id} className="jp-mlops-compare-run">
          <span
            className="jp-mlops-swatch"
            style={{ background: SERIES_COLORS[i % SERIES_COLORS.length] }}
          />
          <button className="jp-mlops-link" onClick={() => props.onOpenRun(r.id)} title={r.id}>
            {r.name}
          </button>{' '}
          <StatusBadge status={r.status} />
        </th>
      ))}
    </tr>
  );

  return (
    <div className="jp-mlops-compare">
      <div className="jp-mlops-toolbar">
        {back}
        <span className="jp-mlops-muted">Comparing {list.length} runs</span>
        <button
          className="jp-mlops-button jp-mlops-report"
          title="Download this comparison as one self-contained HTML file"
          onClick={() => {
            setActionError(null);
            service
              .downloadCompareReport(list.map(r => r.id))
              .then(b => saveBlob(b, `compare-${list.length}-runs.html`))
              .catch(e => setActionError(e.message ?? String(e)));
          }}
        >
          Download report
        </button>
      </div>
      {actionError && <div className="jp-mlops-error">{actionError}</div>}
      {metricKeys.length > 0 ? (
        <MetricHistoryChart
          service={service}
          runIds={list.map(r => r.id)}
          labels={list.map(r => r.name)}
          keys={metricKeys}
        />
      ) : (
        <div className="jp-mlops-empty">These runs logged no metrics.</div>
      )}
      {metricKeys.length > 0 && (
        <GroupedCurves
          service={service}
          runIds={list.map(r => r.id)}
          choices={[
            ...keysOf(list, r => r.params).map(k => `params.${k}`),
            ...keysOf(list, r => r.tags)
              .filter(k => !k.startsWith('mlops.'))
              .map(k => `tags.${k}`)
          ]}
        />
      )}
      <h4>
        Parameters{' '}
        <label className="jp-mlops-muted">
          <input type="checkbox" checked={onlyDiff} onChange={e => setOnlyDiff(e.target.checked)} />{' '}
          only differences
        </label>
      </h4>
      <div className="jp-mlops-scroll-x">
        <table className="jp-mlops-diff jp-mlops-param-diff">
          <thead>{header}</thead>
          <tbody>
            {paramKeys.length === 0 && (
              <tr>
                <td colSpan={list.length + 1} className="jp-mlops-empty">
                  {onlyDiff ? 'All parameters are equal.' : 'No parameters.'}
                </td>
              </tr>
            )}
            {paramKeys.map(k => {
              const values = list.map(r => r.params[k]);
              const differs = new Set(values.map(v => v ?? '\u0000missing')).size > 1;
              return (
                <tr key={k} className={differs ? 'jp-mlops-differs' : undefined}>
                  <th title={k}>{k}</th>
                  {values.map((v, i) => (
                    <td
                      key={list[i].id}
                      className={v === undefined ? 'jp-mlops-missing' : undefined}
                    >
                      {v ?? '—'}
                    </td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {list.length === 2 && (
        <>
          <h4>Notebook diff</h4>
          <NotebookDiffView
            service={service}
            runIds={[list[0].id, list[1].id]}
            labels={[list[0].name, list[1].name]}
          />
        </>
      )}
      <h4>Latest metrics</h4>
      <div className="jp-mlops-scroll-x">
        <table className="jp-mlops-diff jp-mlops-metric-diff">
          <thead>{header}</thead>
          <tbody>
            {metricKeys.map(k => {
              const values = list.map(r => r.metrics[k]);
              const finite = values.filter(v => v !== undefined && Number.isFinite(v)) as number[];
              const highest = finite.length > 1 ? Math.max(...finite) : undefined;
              return (
                <tr key={k}>
                  <th title={k}>{k}</th>
                  {values.map((v, i) => (
                    <td
                      key={list[i].id}
                      className={v !== undefined && v === highest ? 'jp-mlops-highest' : undefined}
                      title={v !== undefined && v === highest ? 'highest' : undefined}
                    >
                      {v === undefined ? '—' : formatNumber(v)}
                    </td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
