/** A coloured pill showing a run's status. */
import * as React from 'react';

export function StatusBadge(props: { status: string }): JSX.Element {
  const status = (props.status || 'UNKNOWN').toUpperCase();
  return (
    <span className={`jp-mlops-badge jp-mlops-badge-${status.toLowerCase()}`} title={status}>
      {status}
    </span>
  );
}
