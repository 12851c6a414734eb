/** A tab whose feature has not landed yet: says so instead of showing fake data. */
import * as React from 'react';

export function PendingTab(props: { feature: string }): JSX.Element {
  return (
    <div className="jp-mlops-empty jp-mlops-pending">
      Available when the {props.feature} feature lands.
    </div>
  );
}
