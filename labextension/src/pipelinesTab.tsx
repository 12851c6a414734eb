/** The Pipelines tab: pipelines and schedules → a pipeline's runs → one run's DAG → a step's run. */
import * as React from 'react';
import { formatDuration, formatShortTime } from './format';
import { IPipeline } from './pipelineTypes';
import { PipelineRunView } from './pipelineRunView';
import { RunDetails } from './runDetails';
import { SchedulesView } from './schedulesView';
import { MlopsService } from './service';
import { StatusBadge } from './statusBadge';
import { Section } from './keyValueTable';
import { useAsync } from './useAsync';
import { ErrorLine } from './useAction';

export interface IPipelinesTabProps {
  service: MlopsService;
  refreshCount: number;
  onOpenNotebook(runId: string): Promise<void>;
  onShowLineage(node: string): void;
}

type View =
  | { kind: 'list' }
  | { kind: 'pipeline'; name: string }
  | { kind: 'run'; id: string; from: View }
  | { kind: 'step'; runId: string; from: View };

function label(view: View): string {
  switch (view.kind) {
    case 'list':
      return 'Pipelines';
    case 'pipeline':
      return view.name;
    default:
      return 'Pipeline run';
  }
}

export function PipelinesTab(props: IPipelinesTabProps): JSX.Element {
  const { service } = props;
  const [view, setView] = React.useState<View>({ kind: 'list' });
  const [runsTick, setRunsTick] = React.useState(0);

  switch (view.kind) {
    case 'step':
      return (
        <RunDetails
          service={service}
          runId={view.runId}
          backLabel={label(view.from)}
          onBack={() => setView(view.from)}
          onOpenNotebook={props.onOpenNotebook}
          onShowLineage={props.onShowLineage}
        />
      );
    case 'run':
      return (
        <PipelineRunView
          service={service}
          runId={view.id}
          backLabel={label(view.from)}
          onBack={() => setView(view.from)}
          onOpenStep={s => s.run_id && setView({ kind: 'step', runId: s.run_id, from: view })}
        />
      );
    case 'pipeline':
      return (
        <PipelineRuns
          service={service}
          name={view.name}
          onBack={() => setView({ kind: 'list' })}
          onOpenRun={id => setView({ kind: 'run', id, from: view })}
        />
      );
    default:
      return (
        <div className="jp-mlops-pipelines jp-mlops-scroll-page">
          <Section title="Pipelines">
            <PipelineList
              service={service}
              refreshCount={props.refreshCount + runsTick}
              onOpen={name => setView({ kind: 'pipeline', name })}
              onOpenRun={id => setView({ kind: 'run', id, from: view })}
            />
          </Section>
          <Section title="Schedules">
            <SchedulesView
              service={service}
              refreshCount={props.refreshCount}
              onOpenRun={id => setView({ kind: 'run', id, from: view })}
              onRunsChanged={() => setRunsTick(t => t + 1)}
            />
          </Section>
        </div>
      );
  }
}

function PipelineList(props: {
  service: MlopsService;
  refreshCount: number;
  onOpen(name: string): void;
  onOpenRun(id: string): void;
}): JSX.Element {
  const pipelines = useAsync(
    () => props.service.listPipelines(),
    [props.service, props.refreshCount]
  );
  if (pipelines.value?.length === 0) {
    return (
      <div className="jp-mlops-empty">
        No pipeline has run yet. Run one with jupyter mlops pipeline run pipeline.yaml.
      </div>
    );
  }
  return (
    <>
      <ErrorLine error={pipelines.error?.message} />
      <table className="jp-mlops-grid jp-mlops-pipeline-list">
        <thead>
          <tr>
            <th>pipeline</th>
            <th className="jp-mlops-num">steps</th>
            <th>last run</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(pipelines.value ?? []).map((p: IPipeline) => (
            <tr
              key={p.name}
              className="jp-mlops-clickable jp-mlops-pipeline-row"
              data-pipeline={p.name}
              onClick={() => props.onOpen(p.name)}
              title={p.path ?? ''}
            >
              <td className="jp-mlops-strong">{p.name}</td>
              <td className="jp-mlops-num">{p.steps.length}</td>
              <td>
                {p.last_run ? (
                  <>
                    <StatusBadge status={p.last_run.status} />{' '}
                    {formatShortTime(p.last_run.started_at)}
                  </>
                ) : (
                  '—'
                )}
              </td>
              <td>
                {p.last_run && (
                  <button
                    className="jp-mlops-link jp-mlops-open-last-run"
                    onClick={e => {
                      e.stopPropagation();
                      props.onOpenRun(p.last_run!.id);
                    }}
                  >
                    open last run
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function PipelineRuns(props: {
  service: MlopsService;
  name: string;
  onBack(): void;
  onOpenRun(id: string): void;
}): JSX.Element {
  const runs = useAsync(() => props.service.pipelineRuns(props.name), [props.service, props.name]);
  return (
    <div className="jp-mlops-pipeline-runs jp-mlops-scroll-page">
      <div className="jp-mlops-toolbar">
        <button className="jp-mlops-button jp-mlops-back" onClick={props.onBack}>
          ← Pipelines
        </button>
        <span className="jp-mlops-strong">{props.name}</span>
      </div>
      <ErrorLine error={runs.error?.message} />
      <table className="jp-mlops-grid">
        <thead>
          <tr>
            <th>run</th>
            <th>status</th>
            <th>trigger</th>
            <th>started</th>
            <th className="jp-mlops-num">time</th>
          </tr>
        </thead>
        <tbody>
          {(runs.value ?? []).map(r => (
            <tr
              key={r.id}
              className="jp-mlops-clickable jp-mlops-pipeline-run-row"
              data-pipeline-run={r.id}
              onClick={() => props.onOpenRun(r.id)}
            >
              <td>
                <code>{r.id.slice(0, 8)}</code>
              </td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td>{r.trigger}</td>
              <td>{formatShortTime(r.started_at)}</td>
              <td className="jp-mlops-num">{formatDuration(r.started_at, r.ended_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
