/** Response models of the pipeline and schedule routes (kept in step with docs/openapi.yaml). */

export interface IPipelineStepSpec {
  name: string;
  notebook: string;
  depends_on: string[];
}

export interface IPipelineRun {
  id: string;
  pipeline_id: number;
  pipeline: string;
  /** The parent tracked run. */
  run_id: string | null;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'KILLED' | string;
  parameters: Record<string, unknown> | null;
  trigger: string;
  schedule_id: number | null;
  executor: string | null;
  started_at: number;
  ended_at: number | null;
  duration: number | null;
  error: string | null;
}

export interface IPipeline {
  id: number;
  name: string;
  path: string | null;
  spec_digest: string;
  experiment: string | null;
  parameters: Record<string, unknown>;
  steps: IPipelineStepSpec[];
  created_at: number;
  updated_at: number;
  last_run: IPipelineRun | null;
}

export type StepStatus =
  'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED' | 'CACHED' | string;

export interface IStepRun {
  id: number;
  step: string;
  status: StepStatus;
  attempts: number;
  cache_hit: boolean;
  cached_from: number | null;
  /** The child run of the latest attempt. */
  run_id: string | null;
  started_at: number | null;
  ended_at: number | null;
  duration: number | null;
  error: string | null;
}

export interface IPipelineRunDetail extends IPipelineRun {
  steps: IStepRun[];
  /** src runs before dst. */
  edges: Array<{ src: string; dst: string }>;
}

export interface IScheduleFire {
  schedule_id: number;
  slot: number;
  fired_at: number;
  fired_by: string;
  manual: boolean;
  pipeline_run_id: string | null;
  status: 'FIRED' | 'SKIPPED' | 'FAILED' | string;
  pipeline_status: string | null;
}

export interface ISchedule {
  id: number;
  name: string;
  pipeline_path: string;
  cron: string;
  timezone: string;
  parameters: Record<string, unknown>;
  paused: boolean;
  next_fire_at: number | null;
  created_by: string;
  created_at: number;
  catchup: string;
  max_catchup_age: number | null;
  allow_overlap: boolean;
  last_fire: IScheduleFire | null;
}
