/** A small multi-series line chart drawn as plain SVG (no charting library). */
import * as React from 'react';
import { ChartAxes, chartScales } from './chartAxes';
import { formatNumber } from './format';

export interface ISeries {
  label: string;
  color: string;
  /** [step, value] pairs sorted by step. */
  points: Array<[number, number]>;
  /** Draw each point as a dot instead of joining them (values that are not a curve). */
  dots?: boolean;
}

const H = 220;
const MIN_W = 180;
const PAD = { left: 52, right: 12, top: 10, bottom: 26 };

/** A palette readable on both light and dark backgrounds. */
export const SERIES_COLORS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f'
];

/** About `count` round tick values spanning [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    return [];
  }
  if (hi === lo) {
    return [lo];
  }
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  }
  return ticks;
}

/** Track an element's width so the SVG is drawn at its real size (crisp text, no letterboxing). */
export function useWidth(ref: React.RefObject<HTMLElement>, initial: number): number {
  const [width, setWidth] = React.useState(initial);
  React.useEffect(() => {
    const el = ref.current;
    if (!el) {
      return;
    }
    const observer = new ResizeObserver(() => setWidth(el.clientWidth || initial));
    observer.observe(el);
    setWidth(el.clientWidth || initial);
    return () => observer.disconnect();
  }, [ref, initial]);
  return width;
}

export function MetricChart(props: {
  series: ISeries[];
  title?: string;
  /** What the x axis counts (default "step"). */
  xLabel?: string;
}): JSX.Element {
  const [hoverStep, setHoverStep] = React.useState<number | null>(null);
  const box = React.useRef<HTMLDivElement>(null);
  const W = Math.max(MIN_W, useWidth(box, 420));
  const all = props.series.flatMap(s => s.points);
  if (all.length === 0) {
    return (
      <div className="jp-mlops-chart" ref={box}>
        <div className="jp-mlops-empty">No points logged for this metric.</div>
      </div>
    );
  }
  let [x0, x1] = [Infinity, -Infinity];
  let [y0, y1] = [Infinity, -Infinity];
  for (const [x, y] of all) {
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    if (Number.isFinite(y)) {
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  if (x0 === x1) {
    x1 = x0 + 1;
  }
  if (y0 === y1) {
    [y0, y1] = [y0 - 0.5, y1 + 0.5];
  }
  const { sx, sy } = chartScales(W, H, PAD, { x0, x1, y0, y1 });

  const onMove = (e: React.MouseEvent<SVGSVGElement>) => {
    const box = e.currentTarget.getBoundingClientRect();
    const px = ((e.clientX - box.left) / box.width) * W;
    const step = x0 + ((px - PAD.left) / (W - PAD.left - PAD.right)) * (x1 - x0);
    setHoverStep(step >= x0 && step <= x1 ? step : null);
  };

  return (
    <div className="jp-mlops-chart" ref={box}>
      {props.title && <div className="jp-mlops-chart-title">{props.title}</div>}
      <svg
        width={W}
        height={H}
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={props.title ?? 'metric chart'}
        onMouseMove={onMove}
        onMouseLeave={() => setHoverStep(null)}
      >
        <ChartAxes
          width={W}
          height={H}
          pad={PAD}
          yTicks={niceTicks(y0, y1)}
          xTicks={niceTicks(x0, x1, Math.max(2, Math.floor(W / 90)))}
          sx={sx}
          sy={sy}
          xLabel={props.xLabel ?? 'step'}
        />
        {props.series.map(s =>
          s.dots ? (
            <g key={s.label} fill={s.color}>
              {s.points
                .filter(([, y]) => Number.isFinite(y))
                .map(([x, y]) => (
                  <circle key={x} cx={sx(x)} cy={sy(y)} r={2.5} />
                ))}
            </g>
          ) : (
            <polyline
              key={s.label}
              fill="none"
              stroke={s.color}
              strokeWidth={1.5}
              points={s.points
                .filter(([, y]) => Number.isFinite(y))
                .map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
                .join(' ')}
            />
          )
        )}
        {props.series.map(s =>
          s.points.length === 1 && !s.dots ? (
            <circle
              key={`${s.label}-pt`}
              cx={sx(s.points[0][0])}
              cy={sy(s.points[0][1])}
              r={3}
              fill={s.color}
            />
          ) : null
        )}
        {hoverStep !== null && (
          <line
            className="jp-mlops-chart-cursor"
            x1={sx(hoverStep)}
            x2={sx(hoverStep)}
            y1={PAD.top}
            y2={H - PAD.bottom}
          />
        )}
      </svg>
      <Legend series={props.series} hoverStep={hoverStep} xLabel={props.xLabel ?? 'step'} />
    </div>
  );
}

function nearest(points: Array<[number, number]>, step: number): [number, number] | undefined {
  let best: [number, number] | undefined;
  for (const p of points) {
    if (!best || Math.abs(p[0] - step) < Math.abs(best[0] - step)) {
      best = p;
    }
  }
  return best;
}

function Legend(props: {
  series: ISeries[];
  hoverStep: number | null;
  xLabel: string;
}): JSX.Element {
  return (
    <div className="jp-mlops-legend">
      {props.series.map(s => {
        const last = s.points[s.points.length - 1];
        const shown = props.hoverStep === null ? last : nearest(s.points, props.hoverStep);
        return (
          <span key={s.label} className="jp-mlops-legend-item">
            <span className="jp-mlops-swatch" style={{ background: s.color }} />
            {s.label}
            {shown && (
              <span className="jp-mlops-legend-value">
                {` ${props.xLabel} ${shown[0]}: ${formatNumber(shown[1])}`}
              </span>
            )}
          </span>
        );
      })}
    </div>
  );
}
