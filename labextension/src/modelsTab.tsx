/** The Models tab: registered models → one model (versions, requests, audit) → one version. */
import * as React from 'react';
import { AliasBadge } from './aliasBadge';
import { formatShortTime } from './format';
import { ModelVersionView } from './modelVersionView';
import { ModelView } from './modelView';
import { MlopsService } from './service';
import { useAsync } from './useAsync';
import { ErrorLine } from './useAction';

export interface IModelsTabProps {
  service: MlopsService;
  refreshCount: number;
  onShowLineage(node: string): void;
}

type View =
  | { kind: 'list' }
  | { kind: 'model'; name: string }
  | { kind: 'version'; name: string; version: number };

export function ModelsTab(props: IModelsTabProps): JSX.Element {
  const { service } = props;
  const [view, setView] = React.useState<View>({ kind: 'list' });
  const identity = useAsync(() => service.identity(), [service, props.refreshCount]);

  if (view.kind === 'model') {
    return (
      <ModelView
        service={service}
        name={view.name}
        identity={identity.value ?? null}
        refreshCount={props.refreshCount}
        onBack={() => setView({ kind: 'list' })}
        onOpenVersion={version => setView({ kind: 'version', name: view.name, version })}
      />
    );
  }
  if (view.kind === 'version') {
    return (
      <ModelVersionView
        service={service}
        name={view.name}
        version={view.version}
        onBack={() => setView({ kind: 'model', name: view.name })}
        onShowLineage={props.onShowLineage}
      />
    );
  }
  return (
    <ModelList
      service={service}
      refreshCount={props.refreshCount}
      onOpen={name => setView({ kind: 'model', name })}
    />
  );
}

function ModelList(props: {
  service: MlopsService;
  refreshCount: number;
  onOpen(name: string): void;
}): JSX.Element {
  const models = useAsync(() => props.service.listModels(), [props.service, props.refreshCount]);
  return (
    <div className="jp-mlops-models jp-mlops-scroll-page">
      <ErrorLine error={models.error?.message} />
      {models.value && models.value.length === 0 && (
        <div className="jp-mlops-empty">
          No registered models yet. Register one with mlops.register_model(model, "name").
        </div>
      )}
      {models.value && models.value.length > 0 && (
        <table className="jp-mlops-grid jp-mlops-model-list">
          <thead>
            <tr>
              <th>model</th>
              <th>latest</th>
              <th>aliases</th>
              <th>updated</th>
            </tr>
          </thead>
          <tbody>
            {models.value.map(m => (
              <tr
                key={m.name}
                className="jp-mlops-clickable jp-mlops-model-row"
                data-model={m.name}
                onClick={() => props.onOpen(m.name)}
              >
                <td className="jp-mlops-strong">{m.name}</td>
                <td>{m.latest_version !== null ? `v${m.latest_version}` : '—'}</td>
                <td>
                  {Object.entries(m.aliases).map(([a, v]) => (
                    <AliasBadge key={a} alias={a} version={v} />
                  ))}
                </td>
                <td>{formatShortTime(m.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {models.loading && !models.value && <div className="jp-mlops-empty">Loading…</div>}
    </div>
  );
}
