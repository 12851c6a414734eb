/** The Monitoring tab: monitors (model, latest window, open alerts) → one monitor. */
import * as React from 'react';
import { formatShortTime } from './format';
import { MonitorView } from './monitorView';
import { MlopsService } from './service';
import { useAsync } from './useAsync';
import { ErrorLine } from './useAction';

export interface IMonitoringTabProps {
  service: MlopsService;
  refreshCount: number;
}

export function MonitoringTab(props: IMonitoringTabProps): JSX.Element {
  const [open, setOpen] = React.useState<string | null>(null);
  if (open !== null) {
    return (
      <MonitorView
        service={props.service}
        name={open}
        refreshCount={props.refreshCount}
        onBack={() => setOpen(null)}
      />
    );
  }
  return <MonitorList {...props} onOpen={setOpen} />;
}

function MonitorList(props: IMonitoringTabProps & { onOpen(name: string): void }): JSX.Element {
  const monitors = useAsync(
    () => props.service.listMonitors(),
    [props.service, props.refreshCount]
  );
  return (
    <div className="jp-mlops-monitors jp-mlops-scroll-page">
      <ErrorLine error={monitors.error?.message} />
      {monitors.value && monitors.value.length === 0 && (
        <div className="jp-mlops-empty">
          No monitors yet. Create one with mlops.monitor("model@alias", reference=X_train).
        </div>
      )}
      {monitors.value && monitors.value.length > 0 && (
        <table className="jp-mlops-grid jp-mlops-monitor-list">
          <thead>
            <tr>
              <th>monitor</th>
              <th>model</th>
              <th className="jp-mlops-num">windows</th>
              <th>latest window</th>
              <th>alerts</th>
            </tr>
          </thead>
          <tbody>
            {monitors.value.map(m => {
              const w = m.latest_window;
              return (
                <tr
                  key={m.name}
                  className="jp-mlops-clickable jp-mlops-monitor-row"
                  data-monitor={m.name}
                  onClick={() => props.onOpen(m.name)}
                >
                  <td className="jp-mlops-strong">{m.name}</td>
                  <td>{m.model_ref}</td>
                  <td className="jp-mlops-num">{m.windows}</td>
                  <td className="jp-mlops-monitor-latest">
                    {w
                      ? `${w.columns_drifted}/${w.columns_checked} drifted` +
                        (w.drifted.length ? ` (${w.drifted.join(', ')})` : '') +
                        ` · ${formatShortTime(w.end_at)}`
                      : 'no windows yet'}
                  </td>
                  <td>
                    {m.open_alerts > 0 ? (
                      <span className="jp-mlops-badge jp-mlops-alert-badge">
                        {`${m.open_alerts} open`}
                      </span>
                    ) : (
                      <span className="jp-mlops-muted">none open</span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {monitors.loading && !monitors.value && <div className="jp-mlops-empty">Loading…</div>}
    </div>
  );
}
