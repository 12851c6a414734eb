/** The Lineage tab: the graph around one node; click a node to re-centre on it. */
import * as React from 'react';
import { layoutLineage, NODE_H, NODE_W } from './lineageLayout';
import { MlopsService } from './service';
import { ILineageGraph } from './types';
import { useAsync } from './useAsync';

export interface ILineageTabProps {
  service: MlopsService;
  node: string;
  onNodeChange(node: string): void;
  refreshCount: number;
}

const DEFAULT_DEPTH = 3;

/**
 * Whether the answer names a node the store does not know: the server answers 404, or (older
 * servers) a lone root with no edges whose label is just the id it was asked for.
 */
export function isUnknownNode(graph: ILineageGraph | undefined, error: unknown): boolean {
  if ((error as { status?: number } | undefined)?.status === 404) {
    return true;
  }
  return (
    !!graph &&
    graph.edges.length === 0 &&
    graph.nodes.length === 1 &&
    graph.nodes[0].id === graph.root &&
    graph.nodes[0].label === graph.root
  );
}

/** Keep labels inside their box; the full text stays in the tooltip. */
function clip(text: string, max = 20): string {
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}

export function LineageTab(props: ILineageTabProps): JSX.Element {
  const { service, node } = props;
  const [draft, setDraft] = React.useState(node);
  const [depth, setDepth] = React.useState(DEFAULT_DEPTH);
  React.useEffect(() => setDraft(node), [node]);
  const graph = useAsync(
    () =>
      node ? service.lineage(node, depth) : Promise.resolve({ root: '', nodes: [], edges: [] }),
    [service, node, depth, props.refreshCount]
  );

  return (
    <div className="jp-mlops-lineage">
      <form
        className="jp-mlops-filter"
        onSubmit={e => {
          e.preventDefault();
          props.onNodeChange(draft.trim());
        }}
      >
        <input
          className="jp-mlops-input jp-mlops-lineage-input"
          aria-label="Lineage node"
          placeholder="run:<id>, dataset:<name>@<version>, model:<name>…"
          value={draft}
          onChange={e => setDraft(e.target.value)}
        />
        <select
          aria-label="Lineage depth"
          title="Hops from the node"
          value={depth}
          onChange={e => setDepth(Number(e.target.value))}
        >
          {[1, 2, 3, 5, 10].map(d => (
            <option key={d} value={d}>
              {d} {d === 1 ? 'hop' : 'hops'}
            </option>
          ))}
        </select>
      </form>
      {!node && (
        <div className="jp-mlops-empty">Open a run and press “Lineage”, or type a node above.</div>
      )}
      {node && isUnknownNode(graph.value, graph.error) ? (
        <div className="jp-mlops-error jp-mlops-lineage-not-found" role="alert">
          {`Not found: ${node}. No run, dataset or model with this id is in the store.`}
        </div>
      ) : (
        graph.error && (
          <div className="jp-mlops-error" role="alert">
            {graph.error.message}
          </div>
        )
      )}
      {node && graph.value && !isUnknownNode(graph.value, graph.error) && (
        <LineageGraph graph={graph.value} focus={node} onSelect={props.onNodeChange} />
      )}
    </div>
  );
}

function LineageGraph(props: {
  graph: ILineageGraph;
  focus: string;
  onSelect(node: string): void;
}): JSX.Element {
  const layout = layoutLineage(props.graph);
  const byId = new Map(layout.nodes.map(n => [n.id, n]));
  const canvas = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    canvas.current
      ?.querySelector('.jp-mod-focus')
      ?.scrollIntoView({ block: 'nearest', inline: 'center' });
  }, [props.focus, props.graph]);
  if (layout.nodes.length === 0) {
    return <div className="jp-mlops-empty">No lineage recorded for this node.</div>;
  }
  return (
    <div className="jp-mlops-lineage-canvas" ref={canvas}>
      <svg
        width={layout.width}
        height={layout.height}
        role="img"
        aria-label={`Lineage of ${props.focus}`}
      >
        <defs>
          <marker
            id="jp-mlops-arrow"
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
        {props.graph.edges.map(e => {
          const a = byId.get(e.src);
          const b = byId.get(e.dst);
          if (!a || !b) {
            return null;
          }
          const forward = a.x <= b.x;
          const x1 = forward ? a.x + NODE_W : a.x;
          const x2 = forward ? b.x : b.x + NODE_W;
          const y1 = a.y + NODE_H / 2;
          const y2 = b.y + NODE_H / 2;
          const bend = Math.max(30, Math.abs(x2 - x1) / 2) * (forward ? 1 : -1);
          return (
            <g key={`${e.src}>${e.dst}:${e.relation}`} className="jp-mlops-edge">
              <path
                d={`M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`}
                markerEnd="url(#jp-mlops-arrow)"
              />
              <title>{e.relation}</title>
            </g>
          );
        })}
        {layout.nodes.map(n => (
          <g
            key={n.id}
            className={`jp-mlops-node jp-mlops-node-${n.type}${n.id === props.focus ? ' jp-mod-focus' : ''}`}
            transform={`translate(${n.x}, ${n.y})`}
            data-node-id={n.id}
            onClick={() => props.onSelect(n.id)}
          >
            <title>{`${n.type}: ${n.label}\n${n.id}`}</title>
            <rect className="jp-mlops-node-box" width={NODE_W} height={NODE_H} rx={4} />
            <rect className="jp-mlops-node-stripe" width={4} height={NODE_H} rx={2} />
            <text x={10} y={13} className="jp-mlops-node-type">
              {n.type}
            </text>
            <text x={10} y={27} className="jp-mlops-node-label">
              {clip(n.label)}
            </text>
          </g>
        ))}
      </svg>
      <LineageLegend types={layout.nodes.map(n => n.type)} />
    </div>
  );
}

/** Node kinds in the order the store lists them (store/lineage.py NODE_TYPES). */
const NODE_KINDS = [
  'run',
  'dataset',
  'artifact',
  'model',
  'cell',
  'pipeline',
  'monitor',
  'feature_view',
  'training_set',
  'materialization'
];

/** One entry per node kind drawn, with its stripe colour (the same CSS class as the node). */
function LineageLegend(props: { types: string[] }): JSX.Element {
  const present = new Set(props.types);
  const kinds = [
    ...NODE_KINDS.filter(k => present.has(k)),
    ...[...present].filter(k => !NODE_KINDS.includes(k)).sort()
  ];
  return (
    <div className="jp-mlops-legend jp-mlops-lineage-legend">
      {kinds.map(k => (
        <span key={k} className={`jp-mlops-legend-item jp-mlops-node-${k}`} data-kind={k}>
          <svg width={10} height={10} aria-hidden="true">
            <rect className="jp-mlops-node-stripe" width={10} height={10} rx={2} />
          </svg>
          {k.replace(/_/g, ' ')}
        </span>
      ))}
    </div>
  );
}
