/**
 * Grouped curves in the compare view: the runs grouped by a param or tag (computed by the
 * server, GET compare/groups), and per metric one line per group — the mean over its runs at
 * each step — inside a min–max band. Group values are user text: rendered as text only.
 */
import * as React from 'react';
import { ChartAxes, chartScales } from './chartAxes';
import { formatNumber } from './format';
import { SERIES_COLORS, niceTicks, useWidth } from './metricChart';
import { MlopsService } from './service';
import { useAsync } from './useAsync';
import { GroupPoint, IRunGroups } from './viewTypes';

const H = 200;
const PAD = { left: 52, right: 12, top: 10, bottom: 26 };

export function GroupedCurves(props: {
  service: MlopsService;
  runIds: string[];
  /** `params.X` / `tags.X` choices offered. */
  choices: string[];
}): JSX.Element {
  const { service, runIds } = props;
  const [by, setBy] = React.useState('');
  return (
    <div className="jp-mlops-grouped">
      <label className="jp-mlops-muted">
        Group by{' '}
        <select className="jp-mlops-group-by" value={by} onChange={e => setBy(e.target.value)}>
          <option value="">(no grouping)</option>
          {props.choices.map(c => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      </label>
      {by && <Groups service={service} runIds={runIds} by={by} />}
    </div>
  );
}

function Groups(props: { service: MlopsService; runIds: string[]; by: string }): JSX.Element {
  const { service, runIds, by } = props;
  const groups = useAsync(() => service.groupRuns(runIds, by), [service, runIds.join(','), by]);
  if (groups.error) {
    return <div className="jp-mlops-error">{groups.error.message}</div>;
  }
  const g = groups.value;
  if (!g) {
    return <div className="jp-mlops-muted">Grouping…</div>;
  }
  const keys = Object.keys(g.metrics).sort();
  if (keys.length === 0) {
    return <div className="jp-mlops-empty">These runs logged no metrics.</div>;
  }
  return (
    <div className="jp-mlops-group-charts" data-by={g.by}>
      {keys.map(k => (
        <BandChart key={k} title={k} groups={g} series={g.metrics[k]} />
      ))}
    </div>
  );
}

function BandChart(props: {
  title: string;
  groups: IRunGroups;
  series: Array<{ group: string; points: GroupPoint[] }>;
}): JSX.Element {
  const box = React.useRef<HTMLDivElement>(null);
  const W = Math.max(220, useWidth(box, 420));
  const all = props.series.flatMap(s => s.points);
  const color = (group: string) =>
    SERIES_COLORS[props.groups.groups.findIndex(x => x.value === group) % SERIES_COLORS.length];
  if (all.length === 0) {
    return (
      <div className="jp-mlops-chart" ref={box}>
        <div className="jp-mlops-chart-title">{props.title}</div>
        <div className="jp-mlops-empty">No points logged for this metric.</div>
      </div>
    );
  }
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [step, , , lo, hi] of all) {
    [x0, x1] = [Math.min(x0, step), Math.max(x1, step)];
    [y0, y1] = [Math.min(y0, lo), Math.max(y1, hi)];
  }
  if (x0 === x1) {
    x1 = x0 + 1;
  }
  if (y0 === y1) {
    [y0, y1] = [y0 - 0.5, y1 + 0.5];
  }
  const { sx, sy } = chartScales(W, H, PAD, { x0, x1, y0, y1 });
  const xy = (x: number, y: number) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
  return (
    <div className="jp-mlops-chart jp-mlops-band-chart" ref={box} data-metric={props.title}>
      <div className="jp-mlops-chart-title">{props.title}</div>
      <svg
        width={W}
        height={H}
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${props.title} by group`}
      >
        <ChartAxes
          width={W}
          height={H}
          pad={PAD}
          yTicks={niceTicks(y0, y1)}
          xTicks={niceTicks(x0, x1, Math.max(2, Math.floor(W / 90)))}
          sx={sx}
          sy={sy}
          xLabel="step"
        />
        {props.series.map(s => (
          <g key={s.group} className="jp-mlops-band" data-group={s.group}>
            {s.points.length > 1 && (
              <polygon
                fill={color(s.group)}
                fillOpacity={0.18}
                stroke="none"
                points={[
                  ...s.points.map(p => xy(p[0], p[4])),
                  ...[...s.points].reverse().map(p => xy(p[0], p[3]))
                ].join(' ')}
              />
            )}
            <polyline
              fill="none"
              stroke={color(s.group)}
              strokeWidth={1.6}
              points={s.points.map(p => xy(p[0], p[1])).join(' ')}
            />
          </g>
        ))}
      </svg>
      <div className="jp-mlops-legend">
        {props.series.map(s => {
          const last = s.points[s.points.length - 1];
          const runs = props.groups.groups.find(x => x.value === s.group)?.runs.length ?? 0;
          return (
            <span key={s.group} className="jp-mlops-legend-item">
              <span className="jp-mlops-swatch" style={{ background: color(s.group) }} />
              {s.group}
              <span className="jp-mlops-legend-value">
                {` (${runs} runs)`}
                {last &&
                  ` mean ${formatNumber(last[1])}, ${formatNumber(last[3])}–${formatNumber(last[4])}`}
              </span>
            </span>
          );
        })}
      </div>
    </div>
  );
}
