/** A model's versions: aliases as badges, metrics, who/when, and a Propose button per row. */
import * as React from 'react';
import { AliasBadge } from './aliasBadge';
import { formatNumber, formatShortTime } from './format';
import { IModelVersion } from './registryTypes';

const MAX_METRICS = 4;

export function VersionsTable(props: {
  versions: IModelVersion[];
  canPropose: boolean;
  proposeTitle: string;
  onPropose(version: number): void;
  onOpen(version: number): void;
}): JSX.Element {
  const keys = [...new Set(props.versions.flatMap(v => Object.keys(v.metrics)))]
    .sort()
    .slice(0, MAX_METRICS);
  const newestFirst = [...props.versions].sort((a, b) => b.version - a.version);
  return (
    <div className="jp-mlops-scroll-x">
      <table className="jp-mlops-grid jp-mlops-versions">
        <thead>
          <tr>
            <th>version</th>
            <th>aliases</th>
            {keys.map(k => (
              <th key={k} className="jp-mlops-num">
                {k}
              </th>
            ))}
            <th>by</th>
            <th>registered</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {newestFirst.map(v => (
            <tr key={v.version} className="jp-mlops-version-row" data-version={v.version}>
              <td>
                <button className="jp-mlops-link" onClick={() => props.onOpen(v.version)}>
                  v{v.version}
                </button>
              </td>
              <td className="jp-mlops-aliases">
                {v.aliases.map(a => (
                  <AliasBadge key={a} alias={a} />
                ))}
              </td>
              {keys.map(k => (
                <td key={k} className="jp-mlops-num">
                  {formatNumber(v.metrics[k] ?? null)}
                </td>
              ))}
              <td>{v.created_by}</td>
              <td>{formatShortTime(v.created_at)}</td>
              <td>
                <button
                  className="jp-mlops-button jp-mlops-propose-button"
                  disabled={!props.canPropose}
                  title={props.proposeTitle}
                  onClick={() => props.onPropose(v.version)}
                >
                  Propose…
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
