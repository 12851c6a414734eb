/** Two runs' notebook snapshots side by side: which cells changed, in code and in outputs. */
import * as React from 'react';
import { ApiError } from './api';
import { cellsOf, diffCells, diffLines, ICellDiff } from './notebookDiff';
import { MlopsService } from './service';
import { useAsync } from './useAsync';

const MAX_OUTPUT = 2000;

export function NotebookDiffView(props: {
  service: MlopsService;
  runIds: [string, string];
  labels: [string, string];
}): JSX.Element {
  const { service, runIds } = props;
  const notebooks = useAsync(
    () =>
      Promise.all(
        runIds.map(id =>
          service.notebook(id).catch(e => {
            if (e instanceof ApiError && e.status === 404) {
              return null;
            }
            throw e;
          })
        )
      ),
    [service, runIds.join(',')]
  );
  if (notebooks.error) {
    return <div className="jp-mlops-error">{notebooks.error.message}</div>;
  }
  if (!notebooks.value) {
    return <div className="jp-mlops-empty">Loading notebooks…</div>;
  }
  const [a, b] = notebooks.value;
  const missing = [a, b].map((nb, i) => (nb ? null : props.labels[i])).filter(Boolean);
  if (missing.length) {
    return <div className="jp-mlops-empty">No notebook snapshot for {missing.join(' and ')}.</div>;
  }
  const diff = diffCells(cellsOf(a!), cellsOf(b!));
  const count = (k: string) => diff.filter(d => d.kind === k).length;
  if (diff.every(d => d.kind === 'same')) {
    return (
      <div className="jp-mlops-empty">The two notebooks are identical ({diff.length} cells).</div>
    );
  }
  return (
    <div className="jp-mlops-nbdiff">
      <div className="jp-mlops-muted jp-mlops-nbdiff-summary">
        {`${count('changed')} changed, ${count('added')} added, ${count('removed')} removed, ` +
          `${count('outputs')} with different outputs, ${count('same')} unchanged`}
      </div>
      {groupUnchanged(diff).map((item, i) =>
        typeof item === 'number' ? (
          <div key={i} className="jp-mlops-nbdiff-skip">
            … {item} unchanged {item === 1 ? 'cell' : 'cells'}
          </div>
        ) : (
          <CellDiff key={i} diff={item} labels={props.labels} />
        )
      )}
    </div>
  );
}

/** Runs of unchanged cells become a count so the changes stand out. */
function groupUnchanged(diff: ICellDiff[]): Array<ICellDiff | number> {
  const out: Array<ICellDiff | number> = [];
  for (const d of diff) {
    if (d.kind === 'same') {
      const last = out[out.length - 1];
      typeof last === 'number' ? (out[out.length - 1] = last + 1) : out.push(1);
    } else {
      out.push(d);
    }
  }
  return out;
}

function clip(text: string): string {
  return text.length > MAX_OUTPUT ? text.slice(0, MAX_OUTPUT) + '\n…' : text;
}

function CellDiff(props: { diff: ICellDiff; labels: [string, string] }): JSX.Element {
  const { kind, left, right } = props.diff;
  const lines = diffLines(left?.source ?? '', right?.source ?? '');
  const title = {
    changed: 'changed cell',
    added: `only in ${props.labels[1]}`,
    removed: `only in ${props.labels[0]}`,
    outputs: 'same code, different outputs',
    same: 'unchanged'
  }[kind];
  return (
    <div className={`jp-mlops-nbdiff-cell jp-mlops-nbdiff-${kind}`}>
      <div className="jp-mlops-nbdiff-title">{title}</div>
      {kind === 'outputs' ? (
        <pre className="jp-mlops-nbdiff-code">{left?.source}</pre>
      ) : (
        <pre className="jp-mlops-nbdiff-code">
          {lines.map((l, i) => (
            <div
              key={i}
              className={`jp-mlops-line jp-mlops-line-${l.op === '+' ? 'add' : l.op === '-' ? 'del' : 'ctx'}`}
            >
              {`${l.op} ${l.text}`}
            </div>
          ))}
        </pre>
      )}
      {(left?.outputs ?? '') !== (right?.outputs ?? '') && (
        <div className="jp-mlops-nbdiff-outputs">
          {[left, right].map((cell, i) => (
            <div key={i}>
              <div className="jp-mlops-muted">{props.labels[i]} output</div>
              <pre>{cell ? clip(cell.outputs) || '(none)' : '—'}</pre>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
