/** Response models of the REST API (kept in step with docs/openapi.yaml). */

export type RunStatus = 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED' | string;

export interface IExperiment {
  id: number | string;
  name: string;
  description?: string | null;
  created_at?: number;
  [key: string]: unknown;
}

export interface IRun {
  id: string;
  name: string;
  experiment: string;
  experiment_id: number;
  status: RunStatus;
  user: string;
  start_time: number;
  end_time: number | null;
  parent_run_id: string | null;
  /** null: not checked; false: cells ran out of order (see the reason). */
  reproducible: boolean | null;
  not_reproducible_reason: string | null;
  params: Record<string, string>;
  metrics: Record<string, number>;
  tags: Record<string, string>;
}

export interface IRunsPage {
  runs: IRun[];
  total: number;
  limit: number;
  offset: number;
  /** Present when the filter names keys no run has: the closest known keys. */
  hint?: string | null;
}

export interface IArtifact {
  id: number;
  name: string;
  digest: string;
  size: number;
  media_type: string;
  kind: string;
}

export interface IDatasetVersion {
  id: number;
  name: string;
  version: number;
  digest: string;
  source: string | null;
  size: number | null;
  row_count: number | null;
  /** How this run used it: "input" or "output". */
  role: string | null;
}

export interface ICodeSnapshot {
  notebook_path: string | null;
  digest: string;
  git_commit: string | null;
  git_branch: string | null;
  git_dirty: boolean | null;
}

export interface IEnvironment {
  digest: string;
  python: string;
  platform: string;
  packages: Record<string, string>;
}

export interface IRunDetail extends IRun {
  metric_keys: string[];
  artifacts: IArtifact[];
  datasets: IDatasetVersion[];
  code: ICodeSnapshot | null;
  environment: IEnvironment | null;
  /** Ids of child runs (e.g. pipeline steps). */
  children: string[];
}

/** One metric point: step, value, timestamp. */
export type MetricPoint = [number, number, number];

export interface IMetricHistory {
  run_id: string;
  key: string;
  max_points: number;
  points: MetricPoint[];
}

export interface ILineageNode {
  id: string;
  type: string;
  label: string;
}

export interface ILineageEdge {
  src: string;
  dst: string;
  relation: string;
}

export interface ILineageGraph {
  root: string;
  nodes: ILineageNode[];
  edges: ILineageEdge[];
}

export interface IRunsQuery {
  filter?: string;
  experiment?: string;
  orderBy?: string[];
  limit: number;
  offset: number;
}
