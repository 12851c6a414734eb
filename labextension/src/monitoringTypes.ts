/** Shapes of the monitoring routes' JSON (see docs/openapi.yaml). */

export interface IWindowSummary {
  seq: number;
  start_at: number;
  end_at: number;
  rows: number;
  model_version: number | null;
  columns_checked: number;
  columns_drifted: number;
  drift_share: number;
  drifted: string[];
  prediction_drifted: boolean;
  schema_issues: number;
}

export interface IMonitorSummary {
  name: string;
  model_name: string;
  model_ref: string;
  window: { rows?: number; seconds?: number } | null;
  created_by: string;
  created_at: number;
  updated_at: number;
  windows: number;
  latest_window: IWindowSummary | null;
  open_alerts: number;
  last_alert_at?: number | null;
}

export interface IProfileColumn {
  name: string;
  kind: 'numeric' | 'categorical';
  dtype: string;
  rows: number;
  missing_share: number | null;
}

export interface IAlertRule {
  id: number;
  measure: string;
  feature: string | null;
  op: string;
  threshold: number;
  pipeline: string | null;
  cooldown_s: number;
  enabled: boolean;
  last_triggered_at: number | null;
  created_by: string;
  created_at: number;
}

export interface IMonitorDetail extends IMonitorSummary {
  config: Record<string, unknown>;
  thresholds: Record<string, number>;
  task: string | null;
  score_measure: string;
  reference: {
    rows: number;
    data_digest: string;
    profile_digest: string;
    dataset_id: number | null;
    columns: IProfileColumn[];
    prediction: IProfileColumn | null;
  };
  rules: IAlertRule[];
  predictions_logged: number;
  predictions_labelled: number;
}

export interface IColumnDrift {
  score: number | null;
  drifted: boolean;
  missing_share: number | null;
  missing_drifted: boolean;
  measures: Record<string, number | null>;
}

export interface IMonitorWindow extends IWindowSummary {
  features: Record<string, IColumnDrift>;
  prediction: IColumnDrift | null;
  quality: Record<string, number | null>;
  schema: Array<{ feature: string; issue: string }>;
}

export interface IMonitorSeries {
  name: string;
  model_ref: string;
  score_measure: string;
  threshold: number | null;
  thresholds: Record<string, number>;
  features: string[];
  prediction_feature: string;
  windows: IMonitorWindow[];
}

export interface IMonitorAlert {
  id: number;
  rule_id: number;
  window_id: number | null;
  window_seq: number | null;
  at: number;
  measure: string;
  feature: string | null;
  value: number | null;
  threshold: number;
  message: string;
  action: string;
  pipeline_run_id: string | null;
  open: boolean;
}

export interface IMonitorAlerts {
  name: string;
  model_ref: string;
  alerts: IMonitorAlert[];
  rules: IAlertRule[];
}
