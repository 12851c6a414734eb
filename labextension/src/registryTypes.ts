/** Response models of the registry routes (kept in step with docs/openapi.yaml). */
import { ILineageGraph } from './types';

/** Who the panel's requests act as in the registry, and what their roles allow. */
export interface IIdentity {
  user: string;
  /** "jupyter": the Jupyter user; "process": the server's own identity. */
  source: string;
  jupyter_user: string | null;
  jupyter_display_name: string | null;
  roles: string[];
  actions: string[];
}

export interface IRegisteredModel {
  id: number;
  name: string;
  description: string | null;
  gate_policy: Record<string, unknown> | null;
  created_at: number;
  updated_at: number;
  latest_version: number | null;
  /** alias -> version */
  aliases: Record<string, number>;
}

export interface IModelVersion {
  id: number;
  name: string;
  version: number;
  uri: string;
  run_id: string | null;
  digest: string;
  size: number;
  flavor: string;
  model_class: string;
  trusted_types: string[];
  metrics: Record<string, number | null>;
  description: string | null;
  created_by: string;
  created_at: number;
  aliases: string[];
  has_signature?: boolean;
}

export interface IPromotion {
  id: number;
  name: string;
  version: number;
  alias: string;
  status: 'PENDING' | 'APPROVED' | 'REJECTED' | string;
  proposed_by: string;
  proposed_at: number;
  reason: string | null;
  decided_by: string | null;
  decided_at: number | null;
  gate_verdict: { passed?: boolean; summary?: string } | null;
}

export interface IModelDetail extends IRegisteredModel {
  versions: IModelVersion[];
  promotions: IPromotion[];
}

export interface IModelVersionDetail extends IModelVersion {
  signature: Record<string, unknown> | null;
  signature_columns: Array<{ name: string; type: string }>;
  input_example: unknown;
  run: {
    id: string;
    name: string;
    experiment: string;
    status: string;
    user: string;
    start_time: number;
    end_time: number | null;
  } | null;
  lineage: ILineageGraph;
  promotions: IPromotion[];
}

export interface IModelCard {
  name: string;
  version: number;
  title: string;
  markdown: string;
  /** Every value escaped server-side; still shown only in a sandboxed frame. */
  html: string;
}

export interface IAuditEvent {
  id: number;
  at: number;
  user: string;
  action: string;
  target_type: string;
  target_id: string;
  details: Record<string, unknown> | null;
  reason: string | null;
}
