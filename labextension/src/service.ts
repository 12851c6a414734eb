/** The one typed client of the jupyter_mlops REST API used by the panel. */
import { apiUrl, requestAPI, requestRaw } from './api';
import { IFeatureViewDetail, IFeatureViewSummary } from './featureTypes';
import { IMonitorAlerts, IMonitorDetail, IMonitorSeries, IMonitorSummary } from './monitoringTypes';
import { IRunDiff } from './notebookDiffTypes';
import { ICellTimeline, IRunGroups, ISweepView } from './viewTypes';
import {
  IPipeline,
  IPipelineRun,
  IPipelineRunDetail,
  ISchedule,
  IScheduleFire
} from './pipelineTypes';
import {
  IAuditEvent,
  IIdentity,
  IModelCard,
  IModelDetail,
  IModelVersionDetail,
  IPromotion,
  IRegisteredModel
} from './registryTypes';
import {
  IExperiment,
  ILineageGraph,
  IMetricHistory,
  IRunDetail,
  IRunsPage,
  IRunsQuery
} from './types';

const enc = encodeURIComponent;

/** Encode a slash-separated artifact name segment by segment. */
function encodePath(name: string): string {
  return name.split('/').map(enc).join('/');
}

export class MlopsService {
  async health(): Promise<{ status: string }> {
    return requestAPI('health');
  }

  async listExperiments(): Promise<IExperiment[]> {
    const body = await requestAPI<{ experiments: IExperiment[] }>('experiments');
    return body.experiments;
  }

  async listRuns(q: IRunsQuery): Promise<IRunsPage> {
    const query = new URLSearchParams();
    if (q.filter) {
      query.set('filter', q.filter);
    }
    if (q.experiment) {
      query.set('experiment', q.experiment);
    }
    for (const order of q.orderBy ?? []) {
      query.append('order_by', order);
    }
    query.set('limit', String(q.limit));
    query.set('offset', String(q.offset));
    return requestAPI<IRunsPage>('runs', {}, query);
  }

  async getRun(runId: string): Promise<IRunDetail> {
    return requestAPI<IRunDetail>(`runs/${enc(runId)}`);
  }

  async metricHistory(runId: string, key: string, maxPoints = 2000): Promise<IMetricHistory> {
    const query = new URLSearchParams({ max_points: String(maxPoints) });
    return requestAPI<IMetricHistory>(`runs/${enc(runId)}/metrics/${encodePath(key)}`, {}, query);
  }

  /** Fetch an artifact's bytes (through the auth headers, unlike a bare link). */
  async downloadArtifact(runId: string, name: string): Promise<Blob> {
    const response = await requestRaw(`runs/${enc(runId)}/artifacts/${encodePath(name)}`);
    return response.blob();
  }

  async notebook(runId: string): Promise<Record<string, unknown>> {
    return requestAPI<Record<string, unknown>>(`runs/${enc(runId)}/notebook`);
  }

  /** Diff of two runs' notebooks, params and metrics, computed by the server. */
  async runDiff(leftRunId: string, rightRunId: string): Promise<IRunDiff> {
    return requestAPI<IRunDiff>(`runs/${enc(leftRunId)}/diff/${enc(rightRunId)}`);
  }

  async lineage(node: string, depth?: number): Promise<ILineageGraph> {
    const query = new URLSearchParams({ node });
    if (depth !== undefined) {
      query.set('depth', String(depth));
    }
    return requestAPI<ILineageGraph>('lineage', {}, query);
  }

  /** Rename a run and/or set tags. */
  async updateRun(
    runId: string,
    change: { name?: string; tags?: Record<string, string> }
  ): Promise<IRunDetail> {
    return requestAPI<IRunDetail>(`runs/${enc(runId)}`, {
      method: 'PATCH',
      body: JSON.stringify(change)
    });
  }

  // ------------------------------------------------------------------ registry
  /** Who requests act as in the registry, with their roles and allowed actions. */
  async identity(): Promise<IIdentity> {
    return requestAPI<IIdentity>('identity');
  }

  async listModels(): Promise<IRegisteredModel[]> {
    const body = await requestAPI<{ models: IRegisteredModel[] }>('models');
    return body.models;
  }

  async getModel(name: string): Promise<IModelDetail> {
    return requestAPI<IModelDetail>(`models/${enc(name)}`);
  }

  /** `version`: a number or an alias. */
  async getModelVersion(name: string, version: number | string): Promise<IModelVersionDetail> {
    return requestAPI<IModelVersionDetail>(`models/${enc(name)}/versions/${enc(String(version))}`);
  }

  async modelCard(name: string, version: number | string): Promise<IModelCard> {
    return requestAPI<IModelCard>(`models/${enc(name)}/versions/${enc(String(version))}/card`);
  }

  async modelAudit(name: string, limit = 200): Promise<IAuditEvent[]> {
    const query = new URLSearchParams({ limit: String(limit) });
    const body = await requestAPI<{ events: IAuditEvent[] }>(
      `models/${enc(name)}/audit`,
      {},
      query
    );
    return body.events;
  }

  async propose(
    name: string,
    version: number,
    alias: string,
    reason?: string
  ): Promise<IPromotion> {
    return requestAPI<IPromotion>(`models/${enc(name)}/promotions`, {
      method: 'POST',
      body: JSON.stringify({ version, alias, ...(reason ? { reason } : {}) })
    });
  }

  async decide(requestId: number, approve: boolean, reason?: string): Promise<IPromotion> {
    return requestAPI<IPromotion>(`promotions/${requestId}/${approve ? 'approve' : 'reject'}`, {
      method: 'POST',
      body: JSON.stringify(reason ? { reason } : {})
    });
  }

  // ------------------------------------------------------------------ pipelines
  async listPipelines(): Promise<IPipeline[]> {
    const body = await requestAPI<{ pipelines: IPipeline[] }>('pipelines');
    return body.pipelines;
  }

  async pipelineRuns(name: string, limit = 50): Promise<IPipelineRun[]> {
    const query = new URLSearchParams({ limit: String(limit) });
    const body = await requestAPI<{ runs: IPipelineRun[] }>(
      `pipelines/${enc(name)}/runs`,
      {},
      query
    );
    return body.runs;
  }

  async getPipelineRun(id: string): Promise<IPipelineRunDetail> {
    return requestAPI<IPipelineRunDetail>(`pipeline-runs/${enc(id)}`);
  }

  async listSchedules(): Promise<ISchedule[]> {
    const body = await requestAPI<{ schedules: ISchedule[] }>('schedules');
    return body.schedules;
  }

  async scheduleHistory(name: string, limit = 20): Promise<IScheduleFire[]> {
    const query = new URLSearchParams({ limit: String(limit) });
    const body = await requestAPI<{ fires: IScheduleFire[] }>(
      `schedules/${enc(name)}/history`,
      {},
      query
    );
    return body.fires;
  }

  /** Pause, resume, or run a schedule once now (a new process on the server). */
  async scheduleAction(name: string, action: 'pause' | 'resume' | 'run'): Promise<unknown> {
    return requestAPI(`schedules/${enc(name)}/${action}`, { method: 'POST', body: '{}' });
  }

  // ------------------------------------------------------------------ monitoring
  async listMonitors(): Promise<IMonitorSummary[]> {
    const body = await requestAPI<{ monitors: IMonitorSummary[] }>('monitors');
    return body.monitors;
  }

  async getMonitor(name: string): Promise<IMonitorDetail> {
    return requestAPI<IMonitorDetail>(`monitors/${enc(name)}`);
  }

  /** The newest `limit` windows (oldest first): drift per feature, prediction, quality. */
  async monitorWindows(name: string, limit = 100): Promise<IMonitorSeries> {
    const query = new URLSearchParams({ limit: String(limit) });
    return requestAPI<IMonitorSeries>(`monitors/${enc(name)}/windows`, {}, query);
  }

  async monitorAlerts(name: string, limit = 100): Promise<IMonitorAlerts> {
    const query = new URLSearchParams({ limit: String(limit) });
    return requestAPI<IMonitorAlerts>(`monitors/${enc(name)}/alerts`, {}, query);
  }

  /** URL of the standalone HTML report, shown inline (for a `sandbox=""` iframe). */
  monitorReportUrl(name: string): string {
    return apiUrl(`monitors/${enc(name)}/report`, new URLSearchParams({ inline: '1' }));
  }

  /** The report as a file (through the auth headers, unlike a bare link). */
  async downloadMonitorReport(name: string): Promise<Blob> {
    const response = await requestRaw(`monitors/${enc(name)}/report`);
    return response.blob();
  }

  // ------------------------------------------------------------------ feature store
  async listFeatureViews(): Promise<IFeatureViewSummary[]> {
    const body = await requestAPI<{ views: IFeatureViewSummary[] }>('features');
    return body.views;
  }

  /** A view's versions and one version's statistics (the newest when `version` is null). */
  async getFeatureView(name: string, version: number | null = null): Promise<IFeatureViewDetail> {
    const query = version === null ? undefined : new URLSearchParams({ version: String(version) });
    return requestAPI<IFeatureViewDetail>(`features/${enc(name)}`, {}, query);
  }
  // ------------------------------------------------------------------ run views
  /** The sweep a parent (or trial) run belongs to: trials, history, space, importance. */
  async sweepView(runId: string): Promise<ISweepView> {
    return requestAPI<ISweepView>(`runs/${enc(runId)}/sweep`);
  }

  /** One row per executed cell: wall time, peak memory… (empty without cell metrics). */
  async cellTimeline(runId: string): Promise<ICellTimeline> {
    return requestAPI<ICellTimeline>(`runs/${enc(runId)}/cells`);
  }

  /** Runs grouped by `params.X` / `tags.X`: per metric, each group's mean and spread. */
  async groupRuns(runIds: string[], by: string): Promise<IRunGroups> {
    const query = new URLSearchParams();
    runIds.forEach(id => query.append('run', id));
    query.set('by', by);
    return requestAPI<IRunGroups>('compare/groups', {}, query);
  }

  /** A run's self-contained HTML report (fetched with the auth headers, then saved). */
  async downloadRunReport(runId: string): Promise<Blob> {
    const response = await requestRaw(`runs/${enc(runId)}/report`);
    return response.blob();
  }

  /** A comparison of runs as one self-contained HTML file. */
  async downloadCompareReport(runIds: string[]): Promise<Blob> {
    const query = new URLSearchParams();
    runIds.forEach(id => query.append('run', id));
    const response = await requestRaw('compare/report', {}, query);
    return response.blob();
  }
}
