/** The grid lines, tick labels and x-axis name every line chart of the panel draws. */
import * as React from 'react';
import { formatNumber } from './format';

export interface IChartPadding {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** SVG children (inside the chart's `<svg>`): horizontal grid lines at `yTicks` with their
 * values, `xTicks` labels under the plot, and `xLabel` at the bottom right. */
export function ChartAxes(props: {
  width: number;
  height: number;
  pad: IChartPadding;
  yTicks: number[];
  xTicks: number[];
  sx(x: number): number;
  sy(y: number): number;
  xLabel: string;
  formatX?: (t: number) => string;
}): JSX.Element {
  const { width: W, height: H, pad } = props;
  const formatX = props.formatX ?? formatNumber;
  return (
    <>
      {props.yTicks.map(t => (
        <g key={`y${t}`} className="jp-mlops-chart-grid">
          <line x1={pad.left} x2={W - pad.right} y1={props.sy(t)} y2={props.sy(t)} />
          <text x={pad.left - 4} y={props.sy(t) + 3} textAnchor="end">
            {formatNumber(t)}
          </text>
        </g>
      ))}
      {props.xTicks.map(t => (
        <g key={`x${t}`} className="jp-mlops-chart-grid">
          <text x={props.sx(t)} y={H - pad.bottom + 14} textAnchor="middle">
            {formatX(t)}
          </text>
        </g>
      ))}
      <text className="jp-mlops-chart-axis" x={W - pad.right} y={H - 2} textAnchor="end">
        {props.xLabel}
      </text>
    </>
  );
}

/** The linear maps from data to SVG coordinates for a `width` x `height` chart whose plot area
 * is inset by `pad`: x grows rightwards, y upwards (SVG's y grows downwards). */
export function chartScales(
  width: number,
  height: number,
  pad: IChartPadding,
  domain: { x0: number; x1: number; y0: number; y1: number }
): { sx(x: number): number; sy(y: number): number } {
  const { x0, x1, y0, y1 } = domain;
  return {
    sx: (x: number) => pad.left + ((x - x0) / (x1 - x0)) * (width - pad.left - pad.right),
    sy: (y: number) =>
      height - pad.bottom - ((y - y0) / (y1 - y0)) * (height - pad.top - pad.bottom)
  };
}
