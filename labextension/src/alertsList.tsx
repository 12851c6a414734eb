/** A monitor's alerts (newest first, open ones highlighted) and the rules that raise them. */
import * as React from 'react';
import { formatNumber, formatShortTime, formatTime } from './format';
import { IAlertRule, IMonitorAlert } from './monitoringTypes';

export function AlertsList(props: { alerts: IMonitorAlert[] }): JSX.Element {
  if (props.alerts.length === 0) {
    return <div className="jp-mlops-empty jp-mlops-no-alerts">No alerts.</div>;
  }
  return (
    <table className="jp-mlops-grid jp-mlops-alerts">
      <thead>
        <tr>
          <th>when</th>
          <th>window</th>
          <th>feature</th>
          <th>measure</th>
          <th className="jp-mlops-num">value</th>
          <th>action</th>
          <th>message</th>
        </tr>
      </thead>
      <tbody>
        {props.alerts.map(a => (
          <tr
            key={a.id}
            className={`jp-mlops-alert-row${a.open ? ' jp-mlops-alert-open' : ''}`}
            data-alert={a.id}
            data-open={a.open ? 'true' : 'false'}
          >
            <td title={formatTime(a.at)}>{formatShortTime(a.at)}</td>
            <td>{a.window_seq ?? ''}</td>
            <td className="jp-mlops-strong">{a.feature ?? 'any'}</td>
            <td>{a.measure}</td>
            <td className="jp-mlops-num" title={`threshold ${a.threshold}`}>
              {formatNumber(a.value)}
            </td>
            <td>
              <span className={`jp-mlops-badge jp-mlops-alert-action-${a.action.toLowerCase()}`}>
                {a.open ? `${a.action} · open` : a.action}
              </span>
            </td>
            <td className="jp-mlops-alert-message">
              {a.message}
              {a.pipeline_run_id ? ` (pipeline run ${a.pipeline_run_id.slice(0, 8)})` : ''}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function RulesList(props: { rules: IAlertRule[] }): JSX.Element {
  if (props.rules.length === 0) {
    return (
      <div className="jp-mlops-empty">
        {'No alert rules. Add one with mon.add_alert("drift_share", 0.3, op=">=").'}
      </div>
    );
  }
  return (
    <ul className="jp-mlops-rules">
      {props.rules.map(r => (
        <li key={r.id} className="jp-mlops-rule" data-rule={r.id}>
          <code>{`${r.measure} ${r.op} ${formatNumber(r.threshold)}`}</code>
          {` on ${r.feature ?? 'any feature'}`}
          {r.pipeline ? ` → pipeline ${r.pipeline} (cool-down ${r.cooldown_s} s)` : ''}
          {r.enabled ? '' : ' (disabled)'}
        </li>
      ))}
    </ul>
  );
}
