/**
 * A virtualised runs table: a spacer as tall as all rows, and only the rows in
 * (or just around) the viewport rendered, absolutely positioned.
 */
import * as React from 'react';
import { IColumn, ISort } from './columns';
import { StatusBadge } from './statusBadge';
import { IRun } from './types';

export const ROW_HEIGHT = 26;
const OVERSCAN = 10;

export interface IRunsTableProps {
  total: number;
  columns: IColumn[];
  rowAt(index: number): IRun | undefined;
  sort: ISort | null;
  onSort(field: string): void;
  selected: ReadonlySet<string>;
  onToggle(runId: string): void;
  onOpen(runId: string): void;
  onVisibleChange(first: number, last: number): void;
  /** Changing it scrolls back to the top (a new query). */
  resetKey: string;
}

export function RunsTable(props: IRunsTableProps): JSX.Element {
  const scroller = React.useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = React.useState(0);
  const [height, setHeight] = React.useState(400);
  const { total, onVisibleChange } = props;

  React.useEffect(() => {
    const el = scroller.current;
    if (!el) {
      return;
    }
    const observer = new ResizeObserver(() => setHeight(el.clientHeight));
    observer.observe(el);
    setHeight(el.clientHeight);
    return () => observer.disconnect();
  }, []);

  React.useEffect(() => {
    if (scroller.current) {
      scroller.current.scrollTop = 0;
    }
    setScrollTop(0);
  }, [props.resetKey]);

  const bodyHeight = Math.max(0, height - ROW_HEIGHT);
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(total - 1, Math.ceil((scrollTop + bodyHeight) / ROW_HEIGHT) + OVERSCAN);

  React.useEffect(() => {
    if (total > 0) {
      onVisibleChange(first, last);
    }
  }, [first, last, total, onVisibleChange]);

  const widths = [28, 86, ...props.columns.map(c => c.width)];
  const grid = widths.map(w => `${w}px`).join(' ');
  const rowWidth = widths.reduce((a, b) => a + b, 0);
  const rows: JSX.Element[] = [];
  for (let i = first; i <= last; i++) {
    rows.push(
      <Row
        key={i}
        index={i}
        run={props.rowAt(i)}
        grid={grid}
        width={rowWidth}
        columns={props.columns}
        selected={props.selected}
        onToggle={props.onToggle}
        onOpen={props.onOpen}
      />
    );
  }

  return (
    <div
      className="jp-mlops-table"
      ref={scroller}
      onScroll={e => setScrollTop((e.target as HTMLDivElement).scrollTop)}
      role="grid"
      aria-rowcount={total}
    >
      <Header grid={grid} width={rowWidth} {...props} />
      <div
        className="jp-mlops-table-body"
        style={{ height: total * ROW_HEIGHT, minWidth: rowWidth }}
      >
        {rows}
      </div>
    </div>
  );
}

function Header(props: IRunsTableProps & { grid: string; width: number }): JSX.Element {
  const arrow = (field?: string) =>
    props.sort && field && props.sort.field === field ? (props.sort.descending ? ' ▼' : ' ▲') : '';
  return (
    <div
      className="jp-mlops-row jp-mlops-header"
      style={{ gridTemplateColumns: props.grid, minWidth: props.width }}
      role="row"
    >
      <span />
      <span className="jp-mlops-sortable" onClick={() => props.onSort('status')}>
        Status{arrow('status')}
      </span>
      {props.columns.map(col => (
        <span
          key={col.id}
          title={col.sortField ? `Sort by ${col.title}` : col.title}
          className={col.sortField ? 'jp-mlops-sortable' : undefined}
          data-sort-field={col.sortField}
          onClick={() => col.sortField && props.onSort(col.sortField)}
        >
          {col.title}
          {arrow(col.sortField)}
        </span>
      ))}
    </div>
  );
}

interface IRowProps {
  index: number;
  run: IRun | undefined;
  grid: string;
  width: number;
  columns: IColumn[];
  selected: ReadonlySet<string>;
  onToggle(runId: string): void;
  onOpen(runId: string): void;
}

function Row(props: IRowProps): JSX.Element {
  const style: React.CSSProperties = {
    gridTemplateColumns: props.grid,
    minWidth: props.width,
    transform: `translateY(${props.index * ROW_HEIGHT}px)`
  };
  const run = props.run;
  if (!run) {
    return (
      <div className="jp-mlops-row jp-mlops-row-loading" style={style}>
        <span />
        <span>…</span>
      </div>
    );
  }
  const isSelected = props.selected.has(run.id);
  return (
    <div
      className={`jp-mlops-row jp-mlops-run-row${isSelected ? ' jp-mod-selected' : ''}`}
      style={style}
      data-run-id={run.id}
      role="row"
      onClick={() => props.onOpen(run.id)}
    >
      <span onClick={e => e.stopPropagation()}>
        <input
          type="checkbox"
          className="jp-mlops-select"
          aria-label={`Select run ${run.name}`}
          checked={isSelected}
          onChange={() => props.onToggle(run.id)}
        />
      </span>
      <span>
        <StatusBadge status={run.status} />
      </span>
      {props.columns.map(col => {
        const text = col.text(run);
        return (
          <span key={col.id} title={text} data-col={col.id}>
            {text}
          </span>
        );
      })}
    </div>
  );
}
