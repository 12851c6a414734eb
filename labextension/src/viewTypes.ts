/** Shapes of the run views: a sweep, grouped curves, a run's cell timeline (docs/openapi.yaml). */

export type ParamValue = string | number | boolean | null;

export interface ISweepTrial {
  number: number;
  state: string;
  value: number | null;
  params: Record<string, ParamValue>;
  run_id: string | null;
  reason: string | null;
}

export interface ISweepAxis {
  name: string;
  kind: 'float' | 'int' | 'categorical';
  low?: number;
  high?: number;
  log?: boolean;
  choices?: ParamValue[];
}

export interface ISweepView {
  name: string;
  parent_run_id: string;
  metric: string;
  direction: 'minimize' | 'maximize';
  n_trials: number | null;
  trials: ISweepTrial[];
  history: Array<{ number: number; value: number; best: number }>;
  space: ISweepAxis[];
  importance: Record<string, number>;
  importance_note: string | null;
}

/** [step, mean, std, min, max, n] */
export type GroupPoint = [number, number, number, number, number, number];

export interface IRunGroups {
  by: string;
  groups: Array<{ value: string; runs: Array<{ id: string; name: string }> }>;
  metrics: Record<string, Array<{ group: string; points: GroupPoint[] }>>;
}

export interface ICellRow {
  cell: number;
  source: string | null;
  [field: string]: number | string | null;
}

export interface ICellTimeline {
  run_id: string;
  fields: string[];
  cells: ICellRow[];
}
