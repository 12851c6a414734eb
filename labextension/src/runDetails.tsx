/** One run: header, actions, params, metrics (with history chart), tags, artifacts, data, environment. */
import * as React from 'react';
import { formatBytes, formatDuration, formatNumber, formatTime } from './format';
import { KeyValueTable, Section } from './keyValueTable';
import { MetricHistoryChart } from './metricHistoryChart';
import { MlopsService } from './service';
import { StatusBadge } from './statusBadge';
import { TagEditor } from './tagEditor';
import { IArtifact, IRunDetail } from './types';
import { saveBlob } from './download';
import { useAsync } from './useAsync';
import { CellTimeline } from './cellTimeline';
import { SweepSection } from './sweepView';

/** The tag a sweep's parent and trial runs carry (jupyter_mlops.sweeps.trial.TAG_SWEEP). */
const SWEEP_TAG = 'mlops.sweep';
/** Per-cell system metrics (jupyter_mlops.notebook.cell_metrics). */
const CELL_METRIC_PREFIX = 'system/cell_';

const LIVE_REFRESH_MS = 3000;

export interface IRunDetailsProps {
  service: MlopsService;
  runId: string;
  /** What the back button returns to (default "Runs"). */
  backLabel?: string;
  onBack(): void;
  onOpenNotebook(runId: string): Promise<void>;
  onShowLineage(node: string): void;
}

function reproducibility(r: IRunDetail): string {
  if (r.reproducible === null) {
    return 'not checked';
  }
  return r.reproducible ? 'yes' : `no: ${r.not_reproducible_reason ?? 'cells ran out of order'}`;
}

export function RunDetails(props: IRunDetailsProps): JSX.Element {
  const { service, runId } = props;
  const run = useAsync(() => service.getRun(runId), [service, runId]);
  const [actionError, setActionError] = React.useState<string | null>(null);
  const live = run.value?.status === 'RUNNING';

  React.useEffect(() => {
    if (!live) {
      return;
    }
    const timer = setInterval(run.reload, LIVE_REFRESH_MS);
    return () => clearInterval(timer);
  }, [live, run.reload]);

  const act = (what: () => Promise<unknown>) => {
    setActionError(null);
    what().catch(e => setActionError(e.message ?? String(e)));
  };

  const back = (
    <button className="jp-mlops-button jp-mlops-back" onClick={props.onBack}>
      ← {props.backLabel ?? 'Runs'}
    </button>
  );
  if (run.error && !run.value) {
    return (
      <div className="jp-mlops-details">
        {back}
        <div className="jp-mlops-error">{run.error.message}</div>
      </div>
    );
  }
  const r = run.value;
  if (!r) {
    return <div className="jp-mlops-details">{back} Loading…</div>;
  }
  return (
    <div className="jp-mlops-details" data-run-id={r.id}>
      <div className="jp-mlops-toolbar">
        {back}
        <button
          className="jp-mlops-button jp-mlops-open-notebook"
          onClick={() => act(() => props.onOpenNotebook(r.id))}
          title="Open the notebook as it was when this run executed"
        >
          Open notebook
        </button>
        <button className="jp-mlops-button" onClick={() => props.onShowLineage(`run:${r.id}`)}>
          Lineage
        </button>
        <button
          className="jp-mlops-button jp-mlops-report"
          title="Download this run as one self-contained HTML file"
          onClick={() =>
            act(() =>
              service
                .downloadRunReport(r.id)
                .then(b => saveBlob(b, `run-${r.id.slice(0, 12)}.html`))
            )
          }
        >
          Report
        </button>
      </div>
      {actionError && <div className="jp-mlops-error">{actionError}</div>}
      <h3 className="jp-mlops-run-title">
        <StatusBadge status={r.status} /> <span className="jp-mlops-run-name">{r.name}</span>
      </h3>
      <KeyValueTable
        entries={[
          ['id', r.id],
          ['experiment', r.experiment],
          ['user', r.user],
          ['started', formatTime(r.start_time)],
          ['ended', formatTime(r.end_time)],
          ['duration', formatDuration(r.start_time, r.end_time)],
          ...(r.parent_run_id ? ([['parent', r.parent_run_id]] as Array<[string, string]>) : []),
          ...(r.children.length
            ? ([['children', `${r.children.length} runs`]] as Array<[string, string]>)
            : []),
          ['reproducible', reproducibility(r)]
        ]}
      />
      <Section title="Parameters" count={Object.keys(r.params).length}>
        <KeyValueTable entries={Object.entries(r.params).sort()} empty="No parameters." />
      </Section>
      <Section title="Metrics" count={r.metric_keys.length}>
        <KeyValueTable
          entries={Object.entries(r.metrics)
            .sort()
            .map(([k, v]) => [k, formatNumber(v)])}
          empty="No metrics."
        />
        {r.metric_keys.length > 0 && (
          <MetricHistoryChart
            service={service}
            runIds={[r.id]}
            labels={[r.name]}
            keys={r.metric_keys}
            refreshKey={live ? r : 'done'}
          />
        )}
      </Section>
      {r.tags[SWEEP_TAG] !== undefined && (
        <Section title="Sweep">
          <SweepSection service={service} runId={r.id} />
        </Section>
      )}
      {r.metric_keys.some(k => k.startsWith(CELL_METRIC_PREFIX)) && (
        <Section title="Cells">
          <CellTimeline service={service} runId={r.id} refreshKey={live ? r : 'done'} />
        </Section>
      )}
      <Section title="Tags" count={Object.keys(r.tags).length}>
        <TagEditor
          tags={r.tags}
          onChange={tags => act(() => service.updateRun(r.id, { tags }).then(run.reload))}
          onRename={name => act(() => service.updateRun(r.id, { name }).then(run.reload))}
          name={r.name}
        />
      </Section>
      <Section title="Artifacts" count={r.artifacts.length}>
        <Artifacts
          artifacts={r.artifacts}
          load={a => service.downloadArtifact(r.id, a.name)}
          onDownload={a =>
            act(() =>
              service
                .downloadArtifact(r.id, a.name)
                .then(b => saveBlob(b, a.name.split('/').pop() || a.name))
            )
          }
        />
      </Section>
      <Section title="Datasets" count={r.datasets.length}>
        <KeyValueTable
          entries={r.datasets.map(d => [
            `${d.name} v${d.version}`,
            [
              d.role ?? '',
              d.digest.slice(0, 12),
              d.row_count !== null ? `${d.row_count} rows` : '',
              d.size !== null ? formatBytes(d.size) : '',
              d.source ?? ''
            ]
              .filter(Boolean)
              .join(' · ')
          ])}
          empty="No dataset versions recorded."
        />
      </Section>
      <Section title="Code" defaultOpen={false}>
        {r.code ? (
          <KeyValueTable
            entries={[
              ['notebook', r.code.notebook_path ?? '(unsaved)'],
              ['git commit', r.code.git_commit ?? '—'],
              ['git branch', r.code.git_branch ?? '—'],
              [
                'uncommitted changes',
                r.code.git_dirty === null ? '—' : r.code.git_dirty ? 'yes' : 'no'
              ],
              ['snapshot digest', r.code.digest]
            ]}
          />
        ) : (
          <div className="jp-mlops-empty">No code snapshot.</div>
        )}
      </Section>
      <Section title="Environment" defaultOpen={false}>
        {r.environment ? (
          <>
            <KeyValueTable
              entries={[
                ['python', r.environment.python],
                ['platform', r.environment.platform],
                ['digest', r.environment.digest]
              ]}
            />
            <Section
              title="Packages"
              count={Object.keys(r.environment.packages).length}
              defaultOpen={false}
            >
              <KeyValueTable entries={Object.entries(r.environment.packages).sort()} />
            </Section>
          </>
        ) : (
          <div className="jp-mlops-empty">No environment recorded.</div>
        )}
      </Section>
    </div>
  );
}

/** Image types shown as thumbnails (an <img> never runs scripts, SVG included). */
const THUMBNAIL_TYPES = /^image\/(png|jpeg|gif|webp|svg\+xml)$/;
const THUMBNAIL_MAX_BYTES = 5 * 1024 * 1024;

export function isThumbnail(a: IArtifact): boolean {
  return THUMBNAIL_TYPES.test(a.media_type) && a.size <= THUMBNAIL_MAX_BYTES;
}

/** A logged figure: its bytes fetched with the API's auth headers, shown from a blob URL. */
function Thumbnail(props: { artifact: IArtifact; load(a: IArtifact): Promise<Blob> }): JSX.Element {
  const { artifact, load } = props;
  const [url, setUrl] = React.useState<string | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    let objectUrl: string | null = null;
    let live = true;
    load(artifact)
      .then(blob => {
        if (live) {
          objectUrl = URL.createObjectURL(blob);
          setUrl(objectUrl);
        }
      })
      .catch(err => live && setError(String(err?.message ?? err)));
    return () => {
      live = false;
      if (objectUrl) {
        URL.revokeObjectURL(objectUrl);
      }
    };
  }, [artifact.name, artifact.digest]);
  if (error) {
    return <span className="jp-mlops-muted">{`no preview: ${error}`}</span>;
  }
  return url ? (
    <img className="jp-mlops-thumbnail" src={url} alt={artifact.name} title={artifact.name} />
  ) : (
    <span className="jp-mlops-muted">loading…</span>
  );
}

function Artifacts(props: {
  artifacts: IArtifact[];
  load(a: IArtifact): Promise<Blob>;
  onDownload(a: IArtifact): void;
}): JSX.Element {
  if (props.artifacts.length === 0) {
    return <div className="jp-mlops-empty">No artifacts.</div>;
  }
  const figures = props.artifacts.filter(isThumbnail);
  return (
    <>
      {figures.length > 0 && (
        <div className="jp-mlops-thumbnails">
          {figures.map(a => (
            <figure key={a.name} className="jp-mlops-figure" data-artifact={a.name}>
              <Thumbnail artifact={a} load={props.load} />
              <figcaption>{a.name}</figcaption>
            </figure>
          ))}
        </div>
      )}
      <table className="jp-mlops-kv jp-mlops-artifacts">
        <tbody>
          {props.artifacts.map(a => (
            <tr key={a.name}>
              <th title={`${a.kind} · ${a.media_type} · ${a.digest}`}>{a.name}</th>
              <td>{formatBytes(a.size)}</td>
              <td>
                <button className="jp-mlops-link" onClick={() => props.onDownload(a)}>
                  download
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
