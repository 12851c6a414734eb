/** Schedules: cron, next fire, state, last fire; pause / resume / run now; fire history. */
import * as React from 'react';
import { formatShortTime, formatTime } from './format';
import { IScheduleFire, ISchedule } from './pipelineTypes';
import { MlopsService } from './service';
import { StatusBadge } from './statusBadge';
import { useAsync } from './useAsync';
import { ErrorLine, useAction } from './useAction';

const LIVE_REFRESH_MS = 2000;
const FINAL = ['SUCCEEDED', 'FAILED', 'KILLED'];

export function SchedulesView(props: {
  service: MlopsService;
  refreshCount: number;
  onOpenRun(pipelineRunId: string): void;
  /** A run this view started has finished (other lists may want to re-fetch). */
  onRunsChanged(): void;
}): JSX.Element {
  const { service } = props;
  const schedules = useAsync(() => service.listSchedules(), [service, props.refreshCount]);
  const [open, setOpen] = React.useState<string | null>(null);
  const [historyTick, setHistoryTick] = React.useState(0);
  const action = useAction();
  const act = (s: ISchedule, what: 'pause' | 'resume' | 'run') =>
    action.run(() =>
      service.scheduleAction(s.name, what).then(() => {
        schedules.reload();
        if (what === 'run') {
          setOpen(s.name);
        }
        setHistoryTick(t => t + 1);
      })
    );
  if (schedules.value?.length === 0) {
    return (
      <div className="jp-mlops-empty">
        No schedules. Add one with jupyter mlops schedule add pipeline.yaml --cron "0 3 * * *".
      </div>
    );
  }
  return (
    <div className="jp-mlops-schedules">
      <ErrorLine error={schedules.error?.message} />
      <ErrorLine error={action.error} />
      <table className="jp-mlops-grid">
        <thead>
          <tr>
            <th>schedule</th>
            <th>cron</th>
            <th>next</th>
            <th>last fire</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(schedules.value ?? []).map(s => (
            <React.Fragment key={s.id}>
              <tr className="jp-mlops-schedule-row" data-schedule={s.name}>
                <td>
                  <span className="jp-mlops-strong">{s.name}</span>{' '}
                  <StatusBadge status={s.paused ? 'PAUSED' : 'ACTIVE'} />
                </td>
                <td title={s.pipeline_path}>
                  <code>{s.cron}</code> <span className="jp-mlops-muted">{s.timezone}</span>
                </td>
                <td>{s.paused ? '—' : formatShortTime(s.next_fire_at)}</td>
                <td className="jp-mlops-last-fire">
                  {s.last_fire ? <FireSummary fire={s.last_fire} /> : '—'}
                </td>
                <td className="jp-mlops-actions">
                  <button
                    className="jp-mlops-button jp-mlops-pause-button"
                    disabled={action.busy}
                    onClick={() => act(s, s.paused ? 'resume' : 'pause')}
                  >
                    {s.paused ? 'Resume' : 'Pause'}
                  </button>
                  <button
                    className="jp-mlops-button jp-mlops-run-now-button"
                    disabled={action.busy}
                    title="Run the pipeline once now, in a new process on the server"
                    onClick={() => act(s, 'run')}
                  >
                    Run now
                  </button>
                  <button
                    className="jp-mlops-button jp-mlops-history-button"
                    aria-expanded={open === s.name}
                    onClick={() => setOpen(open === s.name ? null : s.name)}
                  >
                    History
                  </button>
                </td>
              </tr>
              {open === s.name && (
                <tr className="jp-mlops-history-row">
                  <td colSpan={5}>
                    <ScheduleHistory
                      service={service}
                      name={s.name}
                      tick={historyTick + props.refreshCount}
                      onOpenRun={props.onOpenRun}
                      onSettled={() => {
                        schedules.reload();
                        props.onRunsChanged();
                      }}
                    />
                  </td>
                </tr>
              )}
            </React.Fragment>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function FireSummary(props: { fire: IScheduleFire }): JSX.Element {
  const f = props.fire;
  return (
    <span title={`slot ${formatTime(f.slot)}, by ${f.fired_by}`}>
      {formatShortTime(f.fired_at)} <StatusBadge status={f.pipeline_status ?? f.status} />
    </span>
  );
}

function ScheduleHistory(props: {
  service: MlopsService;
  name: string;
  tick: number;
  onOpenRun(pipelineRunId: string): void;
  onSettled(): void;
}): JSX.Element {
  const { service, name } = props;
  const fires = useAsync(() => service.scheduleHistory(name), [service, name, props.tick]);
  const pending = (fires.value ?? []).some(
    f => f.status === 'FIRED' && !FINAL.includes(f.pipeline_status ?? '')
  );
  const wasPending = React.useRef(false);
  React.useEffect(() => {
    if (wasPending.current && !pending) {
      props.onSettled();
    }
    wasPending.current = pending;
  }, [pending]);
  React.useEffect(() => {
    if (!pending) {
      return;
    }
    const timer = setInterval(fires.reload, LIVE_REFRESH_MS);
    return () => clearInterval(timer);
  }, [pending, fires.reload]);
  if (fires.error) {
    return <ErrorLine error={fires.error.message} />;
  }
  if (fires.value?.length === 0) {
    return <div className="jp-mlops-empty">Never fired yet.</div>;
  }
  return (
    <table className="jp-mlops-grid jp-mlops-history">
      <thead>
        <tr>
          <th>slot</th>
          <th>fire</th>
          <th>run</th>
          <th>by</th>
        </tr>
      </thead>
      <tbody>
        {(fires.value ?? []).map(f => (
          <tr key={f.slot} className="jp-mlops-fire-row" data-fire-status={f.status}>
            <td className="jp-mlops-nowrap">{formatTime(f.slot)}</td>
            <td>
              <StatusBadge status={f.status} />
              {f.manual ? <span className="jp-mlops-muted"> run now</span> : null}
            </td>
            <td>
              {f.pipeline_run_id ? (
                <button
                  className="jp-mlops-link"
                  onClick={() => props.onOpenRun(f.pipeline_run_id!)}
                >
                  <StatusBadge status={f.pipeline_status ?? 'RUNNING'} />{' '}
                  {f.pipeline_run_id.slice(0, 8)}
                </button>
              ) : f.status === 'FIRED' ? (
                <span className="jp-mlops-muted">starting…</span>
              ) : (
                ''
              )}
            </td>
            <td className="jp-mlops-muted">{f.fired_by}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
