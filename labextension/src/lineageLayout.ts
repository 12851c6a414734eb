/**
 * Layered ("Sugiyama-lite") layout of a lineage graph: every edge points left to
 * right (layer = longest path from a source), and each layer is ordered by the
 * mean position of its predecessors to keep crossings down.
 */
import { ILineageGraph, ILineageNode } from './types';

export interface IPlacedNode extends ILineageNode {
  layer: number;
  x: number;
  y: number;
}

export interface ILayout {
  nodes: IPlacedNode[];
  width: number;
  height: number;
}

export const NODE_W = 150;
export const NODE_H = 34;
const GAP_X = 60;
const GAP_Y = 14;
const MARGIN = 12;
const SWEEPS = 2;

/** Longest-path layers over the DAG (Kahn); nodes on a cycle go after their placed parents. */
export function assignLayers(graph: ILineageGraph): Map<string, number> {
  const preds = new Map<string, string[]>();
  const succs = new Map<string, string[]>();
  const indegree = new Map<string, number>();
  for (const n of graph.nodes) {
    preds.set(n.id, []);
    succs.set(n.id, []);
    indegree.set(n.id, 0);
  }
  for (const e of graph.edges) {
    if (!indegree.has(e.src) || !indegree.has(e.dst) || e.src === e.dst) {
      continue;
    }
    succs.get(e.src)!.push(e.dst);
    preds.get(e.dst)!.push(e.src);
    indegree.set(e.dst, indegree.get(e.dst)! + 1);
  }
  const layer = new Map<string, number>();
  const queue = graph.nodes.filter(n => indegree.get(n.id) === 0).map(n => n.id);
  queue.forEach(id => layer.set(id, 0));
  while (queue.length) {
    const id = queue.shift()!;
    for (const next of succs.get(id)!) {
      layer.set(next, Math.max(layer.get(next) ?? 0, layer.get(id)! + 1));
      indegree.set(next, indegree.get(next)! - 1);
      if (indegree.get(next) === 0) {
        queue.push(next);
      }
    }
  }
  for (const n of graph.nodes) {
    if (!layer.has(n.id)) {
      const placed = preds.get(n.id)!.filter(p => layer.has(p));
      layer.set(n.id, placed.length ? Math.max(...placed.map(p => layer.get(p)!)) + 1 : 0);
    }
  }
  return layer;
}

export function layoutLineage(graph: ILineageGraph): ILayout {
  const layerOf = assignLayers(graph);
  const preds = new Map<string, string[]>();
  for (const e of graph.edges) {
    preds.set(e.dst, [...(preds.get(e.dst) ?? []), e.src]);
  }
  const count = Math.max(0, ...[...layerOf.values()].map(l => l + 1));
  const layers: ILineageNode[][] = Array.from({ length: count }, () => []);
  for (const n of graph.nodes) {
    layers[layerOf.get(n.id)!].push(n);
  }
  for (const members of layers) {
    members.sort((a, b) => a.type.localeCompare(b.type) || a.label.localeCompare(b.label));
  }
  const position = new Map<string, number>();
  const record = () => layers.forEach(m => m.forEach((n, i) => position.set(n.id, i)));
  record();
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    for (let l = 1; l < count; l++) {
      const score = new Map<string, number>();
      for (const n of layers[l]) {
        const ps = (preds.get(n.id) ?? []).filter(p => layerOf.get(p) === l - 1);
        score.set(
          n.id,
          ps.length ? ps.reduce((s, p) => s + position.get(p)!, 0) / ps.length : position.get(n.id)!
        );
      }
      layers[l].sort((a, b) => score.get(a.id)! - score.get(b.id)!);
      record();
    }
  }

  const tallest = Math.max(1, ...layers.map(l => l.length));
  const height = MARGIN * 2 + tallest * NODE_H + (tallest - 1) * GAP_Y;
  const nodes: IPlacedNode[] = [];
  layers.forEach((members, layer) => {
    const top = (height - (members.length * NODE_H + (members.length - 1) * GAP_Y)) / 2;
    members.forEach((n, row) =>
      nodes.push({
        ...n,
        layer,
        x: MARGIN + layer * (NODE_W + GAP_X),
        y: top + row * (NODE_H + GAP_Y)
      })
    );
  });
  const width = MARGIN * 2 + count * NODE_W + Math.max(0, count - 1) * GAP_X;
  return { nodes, width, height };
}
