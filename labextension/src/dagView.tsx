/**
 * A pipeline run as a layered DAG (edges left to right): each step coloured by its state,
 * a "cached" marker on cache hits, attempts and duration; clicking a step with a child run
 * opens that run.
 */
import * as React from 'react';
import { formatDuration } from './format';
import { layoutLineage, NODE_H, NODE_W } from './lineageLayout';
import { IStepRun } from './pipelineTypes';

export function DagView(props: {
  steps: IStepRun[];
  edges: Array<{ src: string; dst: string }>;
  onOpenStep(step: IStepRun): void;
}): JSX.Element {
  const byName = new Map(props.steps.map(s => [s.step, s]));
  const layout = layoutLineage({
    root: '',
    nodes: props.steps.map(s => ({ id: s.step, type: 'step', label: s.step })),
    edges: props.edges.map(e => ({ ...e, relation: 'then' }))
  });
  const placed = new Map(layout.nodes.map(n => [n.id, n]));
  return (
    <div className="jp-mlops-dag">
      <svg width={layout.width} height={layout.height} role="img" aria-label="Pipeline steps">
        <defs>
          <marker
            id="jp-mlops-dag-arrow"
            viewBox="0 0 10 10"
            refX="10"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" className="jp-mlops-arrowhead" />
          </marker>
        </defs>
        {props.edges.map(e => {
          const a = placed.get(e.src);
          const b = placed.get(e.dst);
          if (!a || !b) {
            return null;
          }
          const [x1, y1, x2, y2] = [a.x + NODE_W, a.y + NODE_H / 2, b.x, b.y + NODE_H / 2];
          const bend = Math.max(20, (x2 - x1) / 2);
          return (
            <path
              key={`${e.src}>${e.dst}`}
              className="jp-mlops-dag-edge"
              d={`M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`}
              markerEnd="url(#jp-mlops-dag-arrow)"
            />
          );
        })}
        {layout.nodes.map(n => {
          const s = byName.get(n.id)!;
          const status = s.status.toLowerCase();
          const clickable = Boolean(s.run_id);
          const detail = [
            s.status,
            s.attempts > 1 ? `${s.attempts} tries` : '',
            s.duration !== null && !s.cache_hit ? formatDuration(0, s.duration) : ''
          ]
            .filter(Boolean)
            .join(' · ');
          return (
            <g
              key={n.id}
              className={`jp-mlops-step jp-mlops-step-${status}${clickable ? ' jp-mod-clickable' : ''}`}
              data-step={s.step}
              data-status={s.status}
              transform={`translate(${n.x}, ${n.y})`}
              onClick={() => clickable && props.onOpenStep(s)}
            >
              <title>
                {`${s.step}: ${s.status}` +
                  (s.cache_hit ? ' (cache hit)' : '') +
                  (s.error ? `\n${s.error}` : '') +
                  (clickable ? '\nClick to open its run.' : '')}
              </title>
              <rect className="jp-mlops-step-box" width={NODE_W} height={NODE_H} rx={4} />
              <rect className="jp-mlops-step-stripe" width={5} height={NODE_H} rx={2} />
              <text x={11} y={14} className="jp-mlops-step-name">
                {s.step.length > 17 ? s.step.slice(0, 16) + '…' : s.step}
              </text>
              <text x={11} y={27} className="jp-mlops-step-detail">
                {detail}
              </text>
              {s.cache_hit && (
                <g className="jp-mlops-cache-marker" transform={`translate(${NODE_W - 44}, 4)`}>
                  <rect width={40} height={13} rx={6} />
                  <text x={20} y={10}>
                    cached
                  </text>
                </g>
              )}
            </g>
          );
        })}
      </svg>
      <div className="jp-mlops-dag-legend">
        {['SUCCEEDED', 'CACHED', 'RUNNING', 'FAILED', 'SKIPPED', 'PENDING'].map(st => (
          <span key={st} className={`jp-mlops-step-${st.toLowerCase()}`}>
            <svg width={10} height={10}>
              <rect className="jp-mlops-step-stripe" width={10} height={10} rx={2} />
            </svg>
            {st.toLowerCase()}
          </span>
        ))}
      </div>
    </div>
  );
}
