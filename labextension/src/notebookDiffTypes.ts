/**
 * Response of `GET runs/<id>/diff/<other_id>` (schema `RunDiff` in docs/openapi.yaml):
 * the server's `notebook_diff.diff_runs`, the one implementation the panel and the
 * `%mlops diff` magic share. The panel only renders it.
 */

export type CellStatus = 'same' | 'changed' | 'added' | 'removed';

export interface ICellDiff {
  status: CellStatus;
  cell_type: string;
  /** Index in the left notebook; null for an added cell. */
  left_index: number | null;
  /** Index in the right notebook; null for a removed cell. */
  right_index: number | null;
  left_source: string;
  right_source: string;
  /** Unified-diff lines of the sources ("@@ … @@", " ctx", "-old", "+new"); changed cells only. */
  source_diff: string[];
  /** The same for the outputs as text (streams, text/plain, errors, "[image/png]"). */
  outputs_diff: string[];
}

export interface IValueDiff {
  key: string;
  left: unknown;
  right: unknown;
}

export interface IRunDiff {
  left_run: string;
  right_run: string;
  /** Every aligned cell pair in notebook order, unchanged ones included. */
  cells: ICellDiff[];
  params: IValueDiff[];
  metrics: IValueDiff[];
  /** Ids of the runs without a notebook snapshot (their side of `cells` is empty). */
  missing_notebooks: string[];
}
