/**
 * Cell-by-cell diff of two notebook snapshots (code and outputs): cells are
 * aligned by a longest common subsequence of their sources, unmatched cells
 * that face each other become "changed", and changed sources get a line diff.
 */

export interface ICellView {
  type: string;
  source: string;
  /** Plain-text rendering of the outputs (streams, text/plain, errors). */
  outputs: string;
}

export type CellDiffKind = 'same' | 'outputs' | 'changed' | 'added' | 'removed';

export interface ICellDiff {
  kind: CellDiffKind;
  left?: ICellView;
  right?: ICellView;
}

export interface ILineDiff {
  op: ' ' | '-' | '+';
  text: string;
}

const asText = (v: unknown): string =>
  Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : '';

function outputText(output: Record<string, any>): string {
  switch (output.output_type) {
    case 'stream':
      return asText(output.text);
    case 'error':
      return `${output.ename}: ${output.evalue}`;
    case 'execute_result':
    case 'display_data': {
      const data = output.data ?? {};
      if (data['text/plain'] !== undefined) {
        return asText(data['text/plain']);
      }
      return `[${Object.keys(data).join(', ')}]`;
    }
    default:
      return '';
  }
}

/** The comparable view of each cell of an nbformat v4 notebook. */
export function cellsOf(notebook: Record<string, any>): ICellView[] {
  return (notebook?.cells ?? []).map((c: Record<string, any>) => ({
    type: String(c.cell_type ?? 'code'),
    source: asText(c.source),
    outputs: (c.outputs ?? []).map(outputText).join('')
  }));
}

/** Indices of a longest common subsequence of `a` and `b` under `eq`. */
function lcs<T>(a: T[], b: T[], eq: (x: T, y: T) => boolean): Array<[number, number]> {
  const n = a.length;
  const m = b.length;
  const table: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i][j] = eq(a[i], b[j])
        ? table[i + 1][j + 1] + 1
        : Math.max(table[i + 1][j], table[i][j + 1]);
    }
  }
  const pairs: Array<[number, number]> = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (eq(a[i], b[j])) {
      pairs.push([i++, j++]);
    } else if (table[i + 1][j] >= table[i][j + 1]) {
      i++;
    } else {
      j++;
    }
  }
  return pairs;
}

export function diffCells(left: ICellView[], right: ICellView[]): ICellDiff[] {
  const same = (x: ICellView, y: ICellView) => x.type === y.type && x.source === y.source;
  const out: ICellDiff[] = [];
  let i = 0;
  let j = 0;
  const flushGap = (toI: number, toJ: number) => {
    // Cells between two matches: pair them up as edits, the rest are added / removed.
    while (i < toI && j < toJ) {
      out.push({ kind: 'changed', left: left[i++], right: right[j++] });
    }
    while (i < toI) {
      out.push({ kind: 'removed', left: left[i++] });
    }
    while (j < toJ) {
      out.push({ kind: 'added', right: right[j++] });
    }
  };
  for (const [mi, mj] of lcs(left, right, same)) {
    flushGap(mi, mj);
    const l = left[i++];
    const r = right[j++];
    out.push({ kind: l.outputs === r.outputs ? 'same' : 'outputs', left: l, right: r });
  }
  flushGap(left.length, right.length);
  return out;
}

/** A line-level diff of two texts. */
export function diffLines(a: string, b: string): ILineDiff[] {
  const x = a.split('\n');
  const y = b.split('\n');
  const out: ILineDiff[] = [];
  let i = 0;
  let j = 0;
  for (const [mi, mj] of lcs(x, y, (p, q) => p === q)) {
    while (i < mi) {
      out.push({ op: '-', text: x[i++] });
    }
    while (j < mj) {
      out.push({ op: '+', text: y[j++] });
    }
    out.push({ op: ' ', text: x[i++] });
    j++;
  }
  while (i < x.length) {
    out.push({ op: '-', text: x[i++] });
  }
  while (j < y.length) {
    out.push({ op: '+', text: y[j++] });
  }
  return out;
}
