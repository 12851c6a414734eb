/** The one typed client of the jupyter_mlops REST API used by the panel. */
import { requestAPI, requestRaw } from './api';
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
}
