/** A model alias (champion, challenger…) as a pill. */
import * as React from 'react';

export function AliasBadge(props: { alias: string; version?: number }): JSX.Element {
  const kind = props.alias === 'champion' ? ' jp-mlops-alias-champion' : '';
  return (
    <span className={`jp-mlops-alias${kind}`} data-alias={props.alias} title={`@${props.alias}`}>
      @{props.alias}
      {props.version !== undefined ? ` → v${props.version}` : ''}
    </span>
  );
}
