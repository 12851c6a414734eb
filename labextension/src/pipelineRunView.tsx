/** One pipeline run: its DAG with step states, and the steps as a table. */
import * as React from 'react';
import { DagView } from './dagView';
import { formatDuration, formatTime } from './format';
import { KeyValueTable, Section } from './keyValueTable';
import { IPipelineRunDetail, IStepRun } from './pipelineTypes';
import { MlopsService } from './service';
import { StatusBadge } from './statusBadge';
import { useAsync } from './useAsync';
import { ErrorLine } from './useAction';

const LIVE_REFRESH_MS = 3000;

export function PipelineRunView(props: {
  service: MlopsService;
  runId: string;
  backLabel: string;
  onBack(): void;
  onOpenStep(step: IStepRun): void;
}): JSX.Element {
  const { service, runId } = props;
  const run = useAsync(() => service.getPipelineRun(runId), [service, runId]);
  const live = run.value?.status === 'RUNNING';
  React.useEffect(() => {
    if (!live) {
      return;
    }
    const timer = setInterval(run.reload, LIVE_REFRESH_MS);
    return () => clearInterval(timer);
  }, [live, run.reload]);
  const r = run.value;
  return (
    <div className="jp-mlops-pipeline-run jp-mlops-scroll-page" data-pipeline-run={runId}>
      <div className="jp-mlops-toolbar">
        <button className="jp-mlops-button jp-mlops-back" onClick={props.onBack}>
          ← {props.backLabel}
        </button>
      </div>
      <ErrorLine error={run.error?.message} />
      {r && <RunBody run={r} onOpenStep={props.onOpenStep} />}
    </div>
  );
}

function RunBody(props: {
  run: IPipelineRunDetail;
  onOpenStep(step: IStepRun): void;
}): JSX.Element {
  const r = props.run;
  return (
    <>
      <h3 className="jp-mlops-run-title">
        <StatusBadge status={r.status} />
        <span className="jp-mlops-strong">{r.pipeline}</span>
        <span className="jp-mlops-muted">{r.id.slice(0, 12)}</span>
      </h3>
      <KeyValueTable
        entries={[
          [
            'trigger',
            r.schedule_id !== null ? `${r.trigger}, schedule #${r.schedule_id}` : r.trigger
          ],
          ['started', formatTime(r.started_at)],
          ['duration', formatDuration(r.started_at, r.ended_at)],
          ['executor', r.executor ?? '—'],
          ...(r.error ? ([['error', r.error]] as Array<[string, string]>) : [])
        ]}
      />
      <Section title="Steps" count={r.steps.length}>
        <DagView steps={r.steps} edges={r.edges} onOpenStep={props.onOpenStep} />
        <table className="jp-mlops-grid jp-mlops-steps">
          <thead>
            <tr>
              <th>step</th>
              <th>status</th>
              <th className="jp-mlops-num">tries</th>
              <th className="jp-mlops-num">time</th>
              <th>error</th>
            </tr>
          </thead>
          <tbody>
            {r.steps.map(s => (
              <tr key={s.step} className="jp-mlops-step-row" data-step={s.step}>
                <td>
                  {s.run_id ? (
                    <button
                      className="jp-mlops-link"
                      title="Open the step's run"
                      onClick={() => props.onOpenStep(s)}
                    >
                      {s.step}
                    </button>
                  ) : (
                    s.step
                  )}
                </td>
                <td>
                  <StatusBadge status={s.status} />
                  {s.cache_hit && s.cached_from !== null && (
                    <span className="jp-mlops-muted"> from step run #{s.cached_from}</span>
                  )}
                </td>
                <td className="jp-mlops-num">{s.attempts}</td>
                <td className="jp-mlops-num">
                  {s.duration !== null && !s.cache_hit ? formatDuration(0, s.duration) : ''}
                </td>
                <td className="jp-mlops-step-error">{s.error ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      {r.parameters && Object.keys(r.parameters).length > 0 && (
        <Section title="Parameters" defaultOpen={false}>
          <KeyValueTable
            entries={Object.entries(r.parameters).map(([k, v]) => [k, JSON.stringify(v)])}
          />
        </Section>
      )}
    </>
  );
}
