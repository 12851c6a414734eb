/** A model's promotion requests: pending ones with Approve / Reject, then decided ones. */
import * as React from 'react';
import { AliasBadge } from './aliasBadge';
import { formatShortTime } from './format';
import { IPromotion } from './registryTypes';

export function PromotionList(props: {
  promotions: IPromotion[];
  canDecide: boolean;
  decideTitle: string;
  busy: boolean;
  onDecide(id: number, approve: boolean): void;
}): JSX.Element {
  if (props.promotions.length === 0) {
    return <div className="jp-mlops-empty">No promotion requests.</div>;
  }
  const ordered = [...props.promotions].sort(
    (a, b) => Number(b.status === 'PENDING') - Number(a.status === 'PENDING') || b.id - a.id
  );
  return (
    <table className="jp-mlops-grid jp-mlops-promotions">
      <tbody>
        {ordered.map(p => (
          <tr
            key={p.id}
            className={`jp-mlops-promotion jp-mlops-promotion-${p.status.toLowerCase()}`}
            data-request-id={p.id}
          >
            <td>#{p.id}</td>
            <td>
              v{p.version} <AliasBadge alias={p.alias} />
            </td>
            <td>
              <span className={`jp-mlops-state jp-mlops-state-${p.status.toLowerCase()}`}>
                {p.status}
              </span>
            </td>
            <td title={p.reason ?? ''}>
              {p.proposed_by} · {formatShortTime(p.proposed_at)}
              {p.reason ? ` · “${p.reason}”` : ''}
              {p.decided_by ? ` · decided by ${p.decided_by}` : ''}
              {p.gate_verdict && p.gate_verdict.passed === false
                ? ` · gate: ${p.gate_verdict.summary ?? 'refused'}`
                : ''}
            </td>
            <td className="jp-mlops-actions">
              {p.status === 'PENDING' && (
                <>
                  <button
                    className="jp-mlops-button jp-mlops-primary jp-mlops-approve-button"
                    disabled={!props.canDecide || props.busy}
                    title={props.decideTitle}
                    onClick={() => props.onDecide(p.id, true)}
                  >
                    Approve
                  </button>
                  <button
                    className="jp-mlops-button jp-mlops-reject-button"
                    disabled={!props.canDecide || props.busy}
                    title={props.decideTitle}
                    onClick={() => props.onDecide(p.id, false)}
                  >
                    Reject
                  </button>
                </>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
