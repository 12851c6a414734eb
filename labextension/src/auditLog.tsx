/** A model's audit log, newest first: who did what, when, and why. */
import * as React from 'react';
import { formatTime } from './format';
import { IAuditEvent } from './registryTypes';

/** One line of the event's details, in words. */
export function describeEvent(e: IAuditEvent): string {
  const d = e.details ?? {};
  const v = (x: unknown) => (x === null || x === undefined ? '—' : `v${x}`);
  const gate = d.gate as { passed?: boolean; summary?: string } | undefined;
  const gateText = gate
    ? gate.passed
      ? ' (gates passed)'
      : ` (gate refused: ${gate.summary ?? 'failed'})`
    : '';
  switch (e.action) {
    case 'register':
      return `registered v${d.version} (${d.flavor})`;
    case 'set_alias':
      return `@${d.alias}: ${v(d.previous)} → ${v(d.version)}${
        d.request_id ? ` via request #${d.request_id}` : ''
      }${gateText}`;
    case 'delete_alias':
      return `@${d.alias} removed (was ${v(d.previous)})`;
    case 'gate_failed':
      return `@${d.alias} stays ${v(d.previous)}: not ${v(d.version)}${gateText}`;
    case 'propose':
      return `request #${d.request_id}: @${d.alias} → v${d.version}`;
    case 'approve':
    case 'reject':
      return `request #${d.request_id}: @${d.alias} → v${d.version}`;
    case 'set_gate_policy':
      return 'promotion gates changed';
    default:
      return JSON.stringify(d);
  }
}

export function AuditLog(props: { events: IAuditEvent[] }): JSX.Element {
  if (props.events.length === 0) {
    return <div className="jp-mlops-empty">No events.</div>;
  }
  return (
    <table className="jp-mlops-grid jp-mlops-audit">
      <thead>
        <tr>
          <th>when</th>
          <th>who</th>
          <th>action</th>
          <th>what</th>
          <th>why</th>
        </tr>
      </thead>
      <tbody>
        {props.events.map(e => (
          <tr key={e.id} className="jp-mlops-audit-row" data-action={e.action}>
            <td className="jp-mlops-nowrap">{formatTime(e.at)}</td>
            <td className="jp-mlops-nowrap">{e.user}</td>
            <td className="jp-mlops-audit-action">{e.action}</td>
            <td>{describeEvent(e)}</td>
            <td>{e.reason ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
