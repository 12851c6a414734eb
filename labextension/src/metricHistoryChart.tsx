/** Pick a metric key and chart its (server-downsampled) history for one or more runs. */
import * as React from 'react';
import { ISeries, MetricChart, SERIES_COLORS } from './metricChart';
import { MlopsService } from './service';
import { useAsync } from './useAsync';

const MAX_POINTS = 1000;

export interface IMetricHistoryChartProps {
  service: MlopsService;
  runIds: string[];
  /** Legend label per run id (same order). */
  labels: string[];
  /** Metric keys offered in the picker. */
  keys: string[];
  /** Changing it re-fetches the histories (used while a run is live). */
  refreshKey?: unknown;
}

export function MetricHistoryChart(props: IMetricHistoryChartProps): JSX.Element {
  const { service, runIds, labels, keys } = props;
  const [key, setKey] = React.useState(keys[0]);
  const current = keys.includes(key) ? key : keys[0];

  const histories = useAsync(
    () =>
      Promise.all(
        runIds.map(id => service.metricHistory(id, current, MAX_POINTS).catch(() => null))
      ),
    [service, runIds.join(','), current, props.refreshKey]
  );

  const series: ISeries[] = [];
  (histories.value ?? []).forEach((h, i) => {
    if (h) {
      series.push({
        label: labels[i] ?? runIds[i],
        color: SERIES_COLORS[i % SERIES_COLORS.length],
        points: h.points.map(([step, value]) => [step, value] as [number, number])
      });
    }
  });

  return (
    <div className="jp-mlops-history">
      <label className="jp-mlops-field">
        Metric{' '}
        <select
          className="jp-mlops-metric-select"
          value={current}
          onChange={e => setKey(e.target.value)}
        >
          {keys.map(k => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
      </label>
      {histories.error && <div className="jp-mlops-error">{histories.error.message}</div>}
      {histories.value ? (
        <MetricChart series={series} title={current} />
      ) : (
        <div className="jp-mlops-empty">Loading…</div>
      )}
    </div>
  );
}
