/**
 * Two runs' notebook snapshots side by side: which cells changed, in code and in outputs.
 *
 * The diff itself comes from the server (`GET runs/<id>/diff/<other_id>`, the Python
 * `notebook_diff.diff_runs` that `%mlops diff` uses too); this view only renders it, every
 * user-supplied string as a text node.
 */
import * as React from 'react';
import { ICellDiff, IRunDiff } from './notebookDiffTypes';
import { MlopsService } from './service';
import { useAsync } from './useAsync';

/** Longest output diff shown per cell (outputs can be huge; the rest is summarised). */
const MAX_OUTPUT_LINES = 200;

export function NotebookDiffView(props: {
  service: MlopsService;
  runIds: [string, string];
  labels: [string, string];
}): JSX.Element {
  const { service, runIds, labels } = props;
  const diff = useAsync<IRunDiff>(
    () => service.runDiff(runIds[0], runIds[1]),
    [service, runIds.join(',')]
  );
  if (diff.error) {
    return <div className="jp-mlops-error">{diff.error.message}</div>;
  }
  if (!diff.value) {
    return <div className="jp-mlops-empty">Loading notebook diff…</div>;
  }
  const { cells, missing_notebooks } = diff.value;
  const missing = runIds
    .map((id, i) => (missing_notebooks.includes(id) ? labels[i] : null))
    .filter(Boolean);
  if (missing.length) {
    return <div className="jp-mlops-empty">No notebook snapshot for {missing.join(' and ')}.</div>;
  }
  const count = (k: CellKind) => cells.filter(c => kindOf(c) === k).length;
  if (cells.every(c => c.status === 'same')) {
    return (
      <div className="jp-mlops-empty">The two notebooks are identical ({cells.length} cells).</div>
    );
  }
  return (
    <div className="jp-mlops-nbdiff">
      <div className="jp-mlops-muted jp-mlops-nbdiff-summary">
        {`${count('changed')} changed, ${count('added')} added, ${count('removed')} removed, ` +
          `${count('outputs')} with different outputs, ${count('same')} unchanged`}
      </div>
      {groupUnchanged(cells).map((item, i) =>
        typeof item === 'number' ? (
          <div key={i} className="jp-mlops-nbdiff-skip">
            … {item} unchanged {item === 1 ? 'cell' : 'cells'}
          </div>
        ) : (
          <CellDiff key={i} cell={item} labels={labels} />
        )
      )}
    </div>
  );
}

/** `changed` split in two: the code changed, or only the outputs did. */
type CellKind = 'same' | 'changed' | 'outputs' | 'added' | 'removed';

function kindOf(cell: ICellDiff): CellKind {
  if (cell.status === 'changed' && cell.left_source === cell.right_source) {
    return 'outputs';
  }
  return cell.status;
}

/** Runs of unchanged cells become a count so the changes stand out. */
function groupUnchanged(cells: ICellDiff[]): Array<ICellDiff | number> {
  const out: Array<ICellDiff | number> = [];
  for (const c of cells) {
    if (c.status === 'same') {
      const last = out[out.length - 1];
      typeof last === 'number' ? (out[out.length - 1] = last + 1) : out.push(1);
    } else {
      out.push(c);
    }
  }
  return out;
}

/** Every line of `text` prefixed with `op`, as unified-diff lines. */
function asDiffLines(text: string, op: '+' | '-' | ' '): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') {
    lines.pop();
  }
  return lines.map(l => op + l);
}

/** Unified-diff lines ("@@ … @@", " ctx", "-old", "+new"), each a coloured text row. */
function DiffLines(props: { lines: string[]; max?: number }): JSX.Element {
  const { lines, max } = props;
  const shown = max !== undefined && lines.length > max ? lines.slice(0, max) : lines;
  return (
    <pre className="jp-mlops-nbdiff-code">
      {shown.map((line, i) => {
        const hunk = line.startsWith('@@');
        const op = line.charAt(0);
        const kind = hunk ? 'hunk' : op === '+' ? 'add' : op === '-' ? 'del' : 'ctx';
        return (
          <div
            key={i}
            className={`jp-mlops-line jp-mlops-line-${kind}${hunk ? ' jp-mlops-muted' : ''}`}
          >
            {hunk ? line : `${op || ' '} ${line.slice(1)}`}
          </div>
        );
      })}
      {shown.length < lines.length && (
        <div className="jp-mlops-line jp-mlops-muted">
          … {lines.length - shown.length} more lines
        </div>
      )}
    </pre>
  );
}

/** CSS class suffix per kind of cell change. */
const CELL_CLASS: Record<CellKind, string> = {
  same: 'same',
  changed: 'changed',
  outputs: 'outputs-only',
  added: 'added',
  removed: 'removed'
};

function CellDiff(props: { cell: ICellDiff; labels: [string, string] }): JSX.Element {
  const { cell, labels } = props;
  const kind = kindOf(cell);
  const l = cell.left_index === null ? null : cell.left_index + 1;
  const r = cell.right_index === null ? null : cell.right_index + 1;
  const title = {
    changed: `changed ${cell.cell_type} cell (${l} → ${r})`,
    outputs: `same code, different outputs (${l} → ${r})`,
    added: `only in ${labels[1]} (${cell.cell_type} cell ${r})`,
    removed: `only in ${labels[0]} (${cell.cell_type} cell ${l})`,
    same: 'unchanged'
  }[kind];
  let code: JSX.Element;
  if (kind === 'changed' && cell.source_diff.length > 0) {
    code = <DiffLines lines={cell.source_diff} />;
  } else if (kind === 'added') {
    code = <DiffLines lines={asDiffLines(cell.right_source, '+')} />;
  } else if (kind === 'removed') {
    code = <DiffLines lines={asDiffLines(cell.left_source, '-')} />;
  } else {
    // Unchanged code, or a change the line diff cannot show (only a trailing newline).
    code = <pre className="jp-mlops-nbdiff-code">{cell.right_source}</pre>;
  }
  return (
    <div className={`jp-mlops-nbdiff-cell jp-mlops-nbdiff-${CELL_CLASS[kind]}`}>
      <div className="jp-mlops-nbdiff-title">{title}</div>
      {code}
      {cell.outputs_diff.length > 0 && (
        <div className="jp-mlops-nbdiff-output-diff">
          <div className="jp-mlops-muted jp-mlops-nbdiff-title">
            outputs ({labels[0]} → {labels[1]})
          </div>
          <DiffLines lines={cell.outputs_diff} max={MAX_OUTPUT_LINES} />
        </div>
      )}
    </div>
  );
}
