/**
 * A sweep in a run's details: the trials table, the optimisation history, parallel
 * coordinates and parameter importance (computed by the server with Optuna). SVG drawn from
 * the data; every param name and value is rendered as text.
 */
import * as React from 'react';
import { formatNumber } from './format';
import { MetricChart, useWidth } from './metricChart';
import { MlopsService } from './service';
import { useAsync } from './useAsync';
import { ISweepAxis, ISweepTrial, ISweepView, ParamValue } from './viewTypes';

const show = (v: ParamValue | undefined): string =>
  v === undefined ? '—' : typeof v === 'number' ? formatNumber(v) : String(v);

export function SweepSection(props: {
  service: MlopsService;
  runId: string;
  onOpenRun?(runId: string): void;
}): JSX.Element {
  const { service, runId } = props;
  const view = useAsync(() => service.sweepView(runId), [service, runId]);
  if (view.error) {
    return <div className="jp-mlops-error">{view.error.message}</div>;
  }
  const v = view.value;
  if (!v) {
    return <div className="jp-mlops-muted">Loading the sweep…</div>;
  }
  const counts = v.trials.reduce<Record<string, number>>((acc, t) => {
    acc[t.state] = (acc[t.state] ?? 0) + 1;
    return acc;
  }, {});
  return (
    <div className="jp-mlops-sweep" data-sweep={v.name}>
      <div className="jp-mlops-muted">
        {`Sweep ${v.name}: ${v.trials.length} trials (${Object.entries(counts)
          .map(([s, n]) => `${n} ${s.toLowerCase()}`)
          .join(', ')}), ${v.direction} ${v.metric}`}
      </div>
      <h4>Trials</h4>
      <TrialsTable view={v} onOpenRun={props.onOpenRun} />
      <h4>Optimisation history</h4>
      {v.history.length > 0 ? (
        <MetricChart
          title={v.metric}
          xLabel="trial"
          series={[
            {
              label: v.metric,
              color: '#1f77b4',
              dots: true,
              points: v.history.map(h => [h.number, h.value] as [number, number])
            },
            {
              label: 'best so far',
              color: '#d62728',
              points: v.history.map(h => [h.number, h.best] as [number, number])
            }
          ]}
        />
      ) : (
        <div className="jp-mlops-empty">No trial has completed yet.</div>
      )}
      <h4>Parallel coordinates</h4>
      <ParallelCoordinates view={v} />
      <h4>Parameter importance</h4>
      <Importance view={v} />
    </div>
  );
}

function TrialsTable(props: { view: ISweepView; onOpenRun?(id: string): void }): JSX.Element {
  const { view } = props;
  const params = view.space.map(a => a.name);
  const best = view.history.length ? view.history[view.history.length - 1].best : null;
  return (
    <div className="jp-mlops-scroll-x">
      <table className="jp-mlops-diff jp-mlops-trials">
        <thead>
          <tr>
            <th>#</th>
            <th>state</th>
            <th>{view.metric}</th>
            {params.map(p => (
              <th key={p} title={p}>
                {p}
              </th>
            ))}
            <th>run</th>
          </tr>
        </thead>
        <tbody>
          {view.trials.map(t => (
            <tr
              key={t.number}
              data-state={t.state}
              className={t.value !== null && t.value === best ? 'jp-mlops-highest' : undefined}
            >
              <td>{t.number}</td>
              <td>
                <span
                  className={`jp-mlops-trial-state jp-mlops-trial-${t.state.toLowerCase()}`}
                  title={t.reason ?? undefined}
                >
                  {t.state.toLowerCase()}
                </span>
              </td>
              <td title={t.reason ?? undefined}>
                {t.value === null ? '—' : formatNumber(t.value)}
              </td>
              {params.map(p => (
                <td key={p}>{show(t.params[p])}</td>
              ))}
              <td>
                {t.run_id && props.onOpenRun ? (
                  <button className="jp-mlops-link" onClick={() => props.onOpenRun!(t.run_id!)}>
                    {t.run_id.slice(0, 8)}
                  </button>
                ) : (
                  (t.run_id ?? '').slice(0, 8)
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const PC_H = 220;
const PC_PAD = { left: 16, right: 16, top: 34, bottom: 18 };

/** Position in [0, 1] of a value on a param's axis (log axes on a log scale). */
function axisPosition(
  axis: ISweepAxis,
  value: ParamValue | undefined,
  trials: ISweepTrial[]
): number | null {
  if (value === undefined) {
    return null;
  }
  if (axis.kind === 'categorical') {
    const choices = axis.choices ?? [];
    const i = choices.findIndex(c => c === value);
    return i < 0 ? null : choices.length > 1 ? i / (choices.length - 1) : 0.5;
  }
  if (typeof value !== 'number') {
    return null;
  }
  const seen = trials.map(t => t.params[axis.name]).filter(v => typeof v === 'number') as number[];
  let lo = axis.low ?? Math.min(...seen);
  let hi = axis.high ?? Math.max(...seen);
  let x = value;
  if (axis.log && lo > 0 && x > 0) {
    [lo, hi, x] = [Math.log(lo), Math.log(hi), Math.log(x)];
  }
  return hi > lo ? (x - lo) / (hi - lo) : 0.5;
}

export function ParallelCoordinates(props: { view: ISweepView }): JSX.Element {
  const { view } = props;
  const box = React.useRef<HTMLDivElement>(null);
  const W = Math.max(220, useWidth(box, 420));
  const done = view.trials.filter(t => t.state === 'COMPLETE' && t.value !== null);
  if (done.length === 0 || view.space.length === 0) {
    return (
      <div className="jp-mlops-chart" ref={box}>
        <div className="jp-mlops-empty">No completed trial to draw.</div>
      </div>
    );
  }
  const values = done.map(t => t.value as number);
  const [vlo, vhi] = [Math.min(...values), Math.max(...values)];
  const norm = (v: number) => (vhi > vlo ? (v - vlo) / (vhi - vlo) : 0.5);
  const axes = [...view.space.map(a => a.name), view.metric];
  const ax = (i: number) =>
    PC_PAD.left +
    (axes.length > 1 ? (i / (axes.length - 1)) * (W - PC_PAD.left - PC_PAD.right) : 0);
  const ay = (p: number) => PC_H - PC_PAD.bottom - p * (PC_H - PC_PAD.top - PC_PAD.bottom);
  // Better trials are drawn darker and on top.
  const goodness = (v: number) => (view.direction === 'minimize' ? 1 - norm(v) : norm(v));
  const ordered = [...done].sort((a, b) => goodness(a.value!) - goodness(b.value!));
  return (
    <div className="jp-mlops-chart jp-mlops-parallel" ref={box}>
      <svg
        width={W}
        height={PC_H}
        viewBox={`0 0 ${W} ${PC_H}`}
        role="img"
        aria-label="parallel coordinates"
      >
        {ordered.map(t => {
          const pts = view.space
            .map((a, i) => [ax(i), axisPosition(a, t.params[a.name], view.trials)] as const)
            .filter(([, p]) => p !== null)
            .map(([x, p]) => `${x.toFixed(1)},${ay(p as number).toFixed(1)}`);
          pts.push(`${ax(axes.length - 1).toFixed(1)},${ay(norm(t.value!)).toFixed(1)}`);
          const g = goodness(t.value!);
          return (
            <polyline
              key={t.number}
              className="jp-mlops-pc-line"
              fill="none"
              stroke={`hsl(210, 70%, ${Math.round(80 - 50 * g)}%)`}
              strokeWidth={1.2}
              points={pts.join(' ')}
            >
              <title>{`trial ${t.number}: ${formatNumber(t.value)}`}</title>
            </polyline>
          );
        })}
        {axes.map((name, i) => {
          const [top, bottom] = axisEnds(view, i, vlo, vhi);
          const anchor = i === 0 ? 'start' : i === axes.length - 1 ? 'end' : 'middle';
          return (
            <g key={name} className="jp-mlops-chart-grid">
              <line x1={ax(i)} x2={ax(i)} y1={PC_PAD.top} y2={PC_H - PC_PAD.bottom} />
              <text
                x={ax(i)}
                y={PC_PAD.top - 20}
                textAnchor={i === 0 ? 'start' : i === axes.length - 1 ? 'end' : 'middle'}
              >
                {name.length > 14 ? `${name.slice(0, 13)}…` : name}
              </text>
              <text x={ax(i)} y={PC_PAD.top - 3} textAnchor={anchor} className="jp-mlops-pc-end">
                {top}
              </text>
              <text x={ax(i)} y={PC_H - 4} textAnchor={anchor} className="jp-mlops-pc-end">
                {bottom}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}

/** The labels at the top and bottom of axis `i` (the last axis is the value). */
function axisEnds(view: ISweepView, i: number, vlo: number, vhi: number): [string, string] {
  const clip = (t: string) => (t.length > 10 ? `${t.slice(0, 9)}…` : t);
  const axis = view.space[i];
  if (!axis) {
    return [formatNumber(vhi), formatNumber(vlo)];
  }
  if (axis.kind === 'categorical') {
    const choices = axis.choices ?? [];
    return [clip(show(choices[choices.length - 1])), clip(show(choices[0]))];
  }
  return [formatNumber(axis.high ?? null), formatNumber(axis.low ?? null)];
}

function Importance(props: { view: ISweepView }): JSX.Element {
  const entries = Object.entries(props.view.importance).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) {
    return <div className="jp-mlops-empty">{props.view.importance_note ?? 'Not computed.'}</div>;
  }
  return (
    <table className="jp-mlops-kv jp-mlops-importance">
      <tbody>
        {entries.map(([name, share]) => (
          <tr key={name}>
            <th title={name}>{name}</th>
            <td>
              <span className="jp-mlops-bar" style={{ width: `${Math.max(1, share * 100)}%` }} />
              <span className="jp-mlops-bar-label">{formatNumber(share)}</span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
