/** One model version: facts, metrics, signature, the run it came from, and its model card. */
import * as React from 'react';
import { AliasBadge } from './aliasBadge';
import { formatBytes, formatNumber, formatTime } from './format';
import { KeyValueTable, Section } from './keyValueTable';
import { ModelCardView } from './modelCardView';
import { MlopsService } from './service';
import { useAsync } from './useAsync';
import { ErrorLine } from './useAction';

export function ModelVersionView(props: {
  service: MlopsService;
  name: string;
  version: number;
  onBack(): void;
  onShowLineage(node: string): void;
}): JSX.Element {
  const { service, name, version } = props;
  const detail = useAsync(() => service.getModelVersion(name, version), [service, name, version]);
  const v = detail.value;
  return (
    <div className="jp-mlops-model-version jp-mlops-scroll-page">
      <div className="jp-mlops-toolbar">
        <button className="jp-mlops-button jp-mlops-back" onClick={props.onBack}>
          ← {name}
        </button>
        <button
          className="jp-mlops-button"
          onClick={() => props.onShowLineage(`model:${name}/${version}`)}
        >
          Lineage
        </button>
      </div>
      <h3 className="jp-mlops-run-title">
        {name} v{version}
        {v?.aliases.map(a => (
          <AliasBadge key={a} alias={a} />
        ))}
      </h3>
      <ErrorLine error={detail.error?.message} />
      {v && (
        <>
          <KeyValueTable
            entries={[
              ['uri', v.uri],
              ['model class', v.model_class],
              ['file', `${v.flavor}, ${formatBytes(v.size)}`],
              ['hash (BLAKE3)', v.digest],
              ['registered', `${formatTime(v.created_at)} by ${v.created_by}`],
              ['run', v.run ? `${v.run.name} (${v.run.experiment}, ${v.run.status})` : '—'],
              ['description', v.description ?? '—']
            ]}
          />
          <Section title="Metrics" count={Object.keys(v.metrics).length}>
            <KeyValueTable
              entries={Object.entries(v.metrics)
                .sort()
                .map(([k, x]) => [k, formatNumber(x)])}
              empty="No metrics were recorded on the run."
            />
          </Section>
          <Section title="Signature" count={v.signature_columns.length}>
            <KeyValueTable
              entries={v.signature_columns.map(c => [c.name, c.type])}
              empty="No signature: inputs are not checked."
            />
          </Section>
          <Section title="Model card">
            <ModelCardView service={service} name={name} version={version} />
          </Section>
        </>
      )}
    </div>
  );
}
