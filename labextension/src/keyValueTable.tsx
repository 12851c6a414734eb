/** A two-column key/value table with every value rendered as text. */
import * as React from 'react';

export function KeyValueTable(props: {
  entries: Array<[string, React.ReactNode]>;
  empty?: string;
  className?: string;
}): JSX.Element {
  if (props.entries.length === 0) {
    return <div className="jp-mlops-empty">{props.empty ?? 'None'}</div>;
  }
  return (
    <table className={`jp-mlops-kv ${props.className ?? ''}`}>
      <tbody>
        {props.entries.map(([k, v]) => (
          <tr key={k}>
            <th title={k}>{k}</th>
            <td>{typeof v === 'string' || typeof v === 'number' ? String(v) : v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Section(props: {
  title: string;
  count?: number;
  defaultOpen?: boolean;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <details className="jp-mlops-section" open={props.defaultOpen ?? true}>
      <summary>
        {props.title}
        {props.count !== undefined && <span className="jp-mlops-count">{props.count}</span>}
      </summary>
      {props.children}
    </details>
  );
}
