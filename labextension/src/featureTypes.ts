/** Response shapes of the feature-store routes (docs/openapi.yaml, issue 16). */

export interface IFeatureMaterialization {
  materialized_to: string | null;
  rows_written: number;
  started_at: number;
  updated_at: number;
}

export interface IFeatureViewVersion {
  name: string;
  version: number;
  entity: string[];
  timestamp_column: string;
  features: string[];
  ttl_seconds: number | null;
  description: string | null;
  source: string | null;
  rows: number;
  entities: number;
  first_event: string | null;
  last_event: string | null;
  digest: string;
  created_by: string;
  created_at: number;
}

export interface IFeatureViewSummary extends IFeatureViewVersion {
  versions: number;
  materialized: IFeatureMaterialization | null;
}

export interface IFeatureDistribution {
  kind: 'histogram' | 'top';
  edges?: (number | null)[];
  counts?: number[];
  values?: [string, number][];
  distinct?: number;
}

export interface IFeatureStatistics {
  feature: string;
  dtype: string;
  kind: string | null;
  count: number | null;
  missing: number | null;
  missing_share: number | null;
  min: number | string | null;
  max: number | string | null;
  mean: number | null;
  std: number | null;
  distribution: IFeatureDistribution | null;
}

export interface IFeatureViewDetail {
  name: string;
  version: number;
  latest_version: number;
  view: IFeatureViewVersion;
  versions: IFeatureViewVersion[];
  materialized: IFeatureMaterialization | null;
  statistics: IFeatureStatistics[];
}
