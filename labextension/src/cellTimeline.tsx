/** A run's executed cells as a timeline: wall time and peak memory per cell, as bars. */
import * as React from 'react';
import { formatBytes, formatNumber } from './format';
import { MlopsService } from './service';
import { useAsync } from './useAsync';
import { ICellRow } from './viewTypes';

const num = (row: ICellRow, field: string): number | null => {
  const v = row[field];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};

function Bar(props: { value: number | null; max: number; text: string }): JSX.Element {
  const share = props.value !== null && props.max > 0 ? props.value / props.max : 0;
  return (
    <span className="jp-mlops-bar-cell">
      <span className="jp-mlops-bar" style={{ width: `${Math.max(1, share * 100)}%` }} />
      <span className="jp-mlops-bar-label">{props.text}</span>
    </span>
  );
}

export function CellTimeline(props: {
  service: MlopsService;
  runId: string;
  refreshKey?: unknown;
}): JSX.Element {
  const { service, runId } = props;
  const timeline = useAsync(() => service.cellTimeline(runId), [service, runId, props.refreshKey]);
  if (timeline.error) {
    return <div className="jp-mlops-error">{timeline.error.message}</div>;
  }
  const t = timeline.value;
  if (!t) {
    return <div className="jp-mlops-muted">Loading…</div>;
  }
  if (t.cells.length === 0) {
    return (
      <div className="jp-mlops-empty">
        No per-cell system metrics (turn them on with %mlops system-metrics on).
      </div>
    );
  }
  const maxWall = Math.max(0, ...t.cells.map(c => num(c, 'wall_seconds') ?? 0));
  const maxRss = Math.max(0, ...t.cells.map(c => num(c, 'peak_rss_bytes') ?? 0));
  return (
    <div className="jp-mlops-scroll-x">
      <table className="jp-mlops-kv jp-mlops-cells">
        <thead>
          <tr>
            <th>cell</th>
            <th>wall time</th>
            <th>peak memory</th>
          </tr>
        </thead>
        <tbody>
          {t.cells.map(c => {
            const wall = num(c, 'wall_seconds');
            const rss = num(c, 'peak_rss_bytes');
            const cpu = num(c, 'cpu_seconds');
            return (
              <tr key={c.cell} data-cell={c.cell}>
                <th title={c.source ?? undefined}>
                  {`[${c.cell}]`}
                  {c.source && <span className="jp-mlops-cell-source"> {c.source}</span>}
                </th>
                <td title={cpu !== null ? `CPU ${formatNumber(cpu)} s` : undefined}>
                  <Bar
                    value={wall}
                    max={maxWall}
                    text={wall === null ? '—' : `${formatNumber(wall)} s`}
                  />
                </td>
                <td>
                  <Bar value={rss} max={maxRss} text={rss === null ? '—' : formatBytes(rss)} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
