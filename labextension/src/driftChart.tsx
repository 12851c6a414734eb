/**
 * Values over monitoring windows as plain SVG: one line per feature, an optional dashed
 * threshold line, drifted points ringed. Used for drift scores and for live quality.
 */
import * as React from 'react';
import { ChartAxes, chartScales } from './chartAxes';
import { IThresholdLine } from './driftThresholds';
import { formatNumber } from './format';
import { niceTicks, SERIES_COLORS, useWidth } from './metricChart';

export interface IWindowSeries {
  label: string;
  /** [window seq, value or null, drifted] sorted by window. */
  points: Array<[number, number | null, boolean]>;
  /** Flag the series in the legend (e.g. drifted in the latest window). */
  flagged?: boolean;
}

const H = 220;
const MIN_W = 260;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

export function seriesColor(i: number): string {
  return SERIES_COLORS[i % SERIES_COLORS.length];
}

export function DriftChart(props: {
  series: IWindowSeries[];
  title: string;
  /** What the y axis measures (e.g. `psi`). */
  measure: string;
  /** The statistic's threshold, drawn dashed and labelled with its direction. */
  threshold?: IThresholdLine | null;
  /** Fix the y range's lower bound (default 0). */
  yMin?: number;
  className?: string;
}): JSX.Element {
  const box = React.useRef<HTMLDivElement>(null);
  const W = Math.max(MIN_W, useWidth(box, 420));
  const values = props.series.flatMap(s =>
    s.points.filter(p => p[1] !== null && Number.isFinite(p[1])).map(p => p[1] as number)
  );
  const seqs = props.series.flatMap(s => s.points.map(p => p[0]));
  const empty = values.length === 0;
  let x0 = Math.min(...seqs);
  let x1 = Math.max(...seqs);
  if (!Number.isFinite(x0)) {
    [x0, x1] = [0, 1];
  }
  if (x0 === x1) {
    [x0, x1] = [x0 - 0.5, x1 + 0.5];
  }
  const line = props.threshold && Number.isFinite(props.threshold.value) ? props.threshold : null;
  const threshold = line ? line.value : null;
  let y0 = Math.min(props.yMin ?? 0, ...values);
  let y1 = Math.max(...values, threshold ?? -Infinity);
  if (!Number.isFinite(y1)) {
    y1 = y0 + 1;
  }
  if (y1 === y0) {
    y1 = y0 + 1;
  }
  y1 += (y1 - y0) * 0.05;
  const { sx, sy } = chartScales(W, H, PAD, { x0, x1, y0, y1 });
  const xTicks = niceTicks(x0, x1, Math.max(2, Math.floor(W / 80))).filter(t =>
    Number.isInteger(t)
  );

  return (
    <div className={`jp-mlops-chart jp-mlops-drift-chart ${props.className ?? ''}`} ref={box}>
      <div className="jp-mlops-chart-title">{props.title}</div>
      {empty ? (
        <div className="jp-mlops-empty">No {props.measure} values yet.</div>
      ) : (
        <svg width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.title}>
          <ChartAxes
            width={W}
            height={H}
            pad={PAD}
            yTicks={niceTicks(y0, y1)}
            xTicks={xTicks}
            sx={sx}
            sy={sy}
            xLabel="window"
            formatX={String}
          />
          <text className="jp-mlops-chart-axis" x={4} y={PAD.top - 2}>
            {props.measure}
          </text>
          {line && threshold !== null && (
            <g
              className="jp-mlops-drift-threshold"
              data-measure={line.measure}
              data-threshold={String(line.value)}
              data-direction={line.direction}
              data-y={sy(threshold).toFixed(1)}
            >
              <line x1={PAD.left} x2={W - PAD.right} y1={sy(threshold)} y2={sy(threshold)} />
              {/* p-value lines sit near the x axis among the latest points: label them
                  on the left, above the line; the others on the right. */}
              <text
                x={line.direction === 'above' ? W - PAD.right : PAD.left + 4}
                y={sy(threshold) - 3}
                textAnchor={line.direction === 'above' ? 'end' : 'start'}
              >
                {line.label}
              </text>
            </g>
          )}
          {props.series.map((s, i) => (
            <g
              key={s.label}
              className="jp-mlops-drift-line"
              data-feature={s.label}
              stroke={seriesColor(i)}
            >
              <polyline
                fill="none"
                strokeWidth={1.5}
                points={s.points
                  .filter(p => p[1] !== null && Number.isFinite(p[1]))
                  .map(p => `${sx(p[0]).toFixed(1)},${sy(p[1] as number).toFixed(1)}`)
                  .join(' ')}
              />
              {s.points
                .filter(p => p[1] !== null && Number.isFinite(p[1]))
                .map(p => (
                  <circle
                    key={p[0]}
                    className={p[2] ? 'jp-mlops-drift-point-drifted' : 'jp-mlops-drift-point'}
                    cx={sx(p[0])}
                    cy={sy(p[1] as number)}
                    data-seq={p[0]}
                    data-value={String(p[1])}
                    data-drifted={p[2] ? 'true' : 'false'}
                    r={p[2] ? 4 : 2.5}
                    fill={seriesColor(i)}
                  >
                    <title>{`${s.label} window ${p[0]}: ${formatNumber(p[1])}${
                      p[2] ? ' (drifted)' : ''
                    }`}</title>
                  </circle>
                ))}
            </g>
          ))}
        </svg>
      )}
      <div className="jp-mlops-legend">
        {props.series.map((s, i) => {
          const last = [...s.points].reverse().find(p => p[1] !== null);
          return (
            <span
              key={s.label}
              className={`jp-mlops-legend-item${s.flagged ? ' jp-mlops-drift-flagged' : ''}`}
              data-feature={s.label}
            >
              <span className="jp-mlops-swatch" style={{ background: seriesColor(i) }} />
              {s.label}
              {last && <span className="jp-mlops-legend-value">{` ${formatNumber(last[1])}`}</span>}
              {s.flagged && <span className="jp-mlops-drift-tag">drifted</span>}
            </span>
          );
        })}
      </div>
    </div>
  );
}
