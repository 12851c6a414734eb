/** The Features tab: feature views (version, freshness) → one view's versions and statistics
 * → a feature's distribution (histogram of the REST statistics, or its top values). */
import * as React from 'react';
import { IFeatureDistribution, IFeatureStatistics, IFeatureViewDetail } from './featureTypes';
import { formatShortTime } from './format';
import { MlopsService } from './service';
import { useAsync } from './useAsync';
import { ErrorLine } from './useAction';

export interface IFeaturesTabProps {
  service: MlopsService;
  refreshCount: number;
}

export function FeaturesTab(props: IFeaturesTabProps): JSX.Element {
  const [open, setOpen] = React.useState<string | null>(null);
  if (open !== null) {
    return <FeatureViewPage {...props} name={open} onBack={() => setOpen(null)} />;
  }
  return <FeatureViewList {...props} onOpen={setOpen} />;
}

/** `2024-01-01T03:00:00` → `2024-01-01 03:00`. */
function eventTime(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').slice(0, 16) : '-';
}

function FeatureViewList(props: IFeaturesTabProps & { onOpen(name: string): void }): JSX.Element {
  const views = useAsync(
    () => props.service.listFeatureViews(),
    [props.service, props.refreshCount]
  );
  return (
    <div className="jp-mlops-features jp-mlops-scroll-page">
      <ErrorLine error={views.error?.message} />
      {views.value && views.value.length === 0 && (
        <div className="jp-mlops-empty">
          No feature views yet. Register one with mlops.features.register_view(name, source,
          entity=…, timestamp=…, features=…).
        </div>
      )}
      {views.value && views.value.length > 0 && (
        <table className="jp-mlops-grid jp-mlops-feature-view-list">
          <thead>
            <tr>
              <th>view</th>
              <th className="jp-mlops-num">version</th>
              <th>last event</th>
              <th>online</th>
            </tr>
          </thead>
          <tbody>
            {views.value.map(v => (
              <tr
                key={v.name}
                className="jp-mlops-clickable jp-mlops-feature-view-row"
                data-view={v.name}
                title={`${v.features.join(', ')} by ${v.entity.join(', ')}`}
                onClick={() => props.onOpen(v.name)}
              >
                <td className="jp-mlops-strong">{v.name}</td>
                <td className="jp-mlops-num">{v.version}</td>
                <td className="jp-mlops-feature-last-event">{eventTime(v.last_event)}</td>
                <td className="jp-mlops-feature-online">
                  {v.materialized
                    ? `to ${eventTime(v.materialized.materialized_to)}`
                    : 'not materialized'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {views.loading && !views.value && <div className="jp-mlops-empty">Loading…</div>}
    </div>
  );
}

function FeatureViewPage(props: IFeaturesTabProps & { name: string; onBack(): void }): JSX.Element {
  const [version, setVersion] = React.useState<number | null>(null);
  const [feature, setFeature] = React.useState<string | null>(null);
  const detail = useAsync(
    () => props.service.getFeatureView(props.name, version),
    [props.service, props.name, version, props.refreshCount]
  );
  const d: IFeatureViewDetail | null = detail.value ?? null;
  const chosen = d?.statistics.find(s => s.feature === feature) ?? d?.statistics[0] ?? null;
  return (
    <div className="jp-mlops-feature-view jp-mlops-scroll-page" data-view={props.name}>
      <button className="jp-mlops-button jp-mlops-back" onClick={props.onBack}>
        ← feature views
      </button>
      <ErrorLine error={detail.error?.message} />
      {d && (
        <>
          <div className="jp-mlops-feature-title jp-mlops-strong">{`${d.name}@${d.version}`}</div>
          <div className="jp-mlops-muted">
            {`by ${d.view.entity.join(', ')} · time ${d.view.timestamp_column}` +
              (d.materialized
                ? ` · online to ${eventTime(d.materialized.materialized_to)}`
                : ' · not materialized')}
          </div>
          {d.view.description && <div>{d.view.description}</div>}
          <table className="jp-mlops-grid jp-mlops-feature-versions">
            <thead>
              <tr>
                <th className="jp-mlops-num">version</th>
                <th className="jp-mlops-num">rows</th>
                <th>last event</th>
                <th>registered</th>
              </tr>
            </thead>
            <tbody>
              {d.versions.map(v => (
                <tr
                  key={v.version}
                  data-version={v.version}
                  className={
                    'jp-mlops-clickable jp-mlops-feature-version-row' +
                    (v.version === d.version ? ' jp-mod-selected' : '')
                  }
                  onClick={() => setVersion(v.version)}
                >
                  <td className="jp-mlops-num">{v.version}</td>
                  <td className="jp-mlops-num">{v.rows}</td>
                  <td>{eventTime(v.last_event)}</td>
                  <td>{`${formatShortTime(v.created_at)} ${v.created_by}`}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <label className="jp-mlops-feature-pick">
            {'Feature '}
            <select
              aria-label="Feature"
              value={chosen?.feature ?? ''}
              onChange={e => setFeature(e.target.value)}
            >
              {d.statistics.map(s => (
                <option key={s.feature} value={s.feature}>
                  {s.feature}
                </option>
              ))}
            </select>
          </label>
          {chosen && <FeatureStats stats={chosen} />}
        </>
      )}
      {detail.loading && !d && <div className="jp-mlops-empty">Loading…</div>}
    </div>
  );
}

function num(v: number | string | null | undefined): string {
  if (v === null || v === undefined) {
    return '-';
  }
  return typeof v === 'number' ? String(Number(v.toPrecision(6))) : v;
}

function FeatureStats(props: { stats: IFeatureStatistics }): JSX.Element {
  const s = props.stats;
  return (
    <div className="jp-mlops-feature-stats" data-feature={s.feature}>
      <div className="jp-mlops-muted">
        {`${s.dtype} · ${s.count ?? 0} values · ${((s.missing_share ?? 0) * 100).toFixed(1)}% ` +
          `missing · min ${num(s.min)} · mean ${num(s.mean)} · max ${num(s.max)}`}
      </div>
      <Distribution dist={s.distribution} />
    </div>
  );
}

const CHART_W = 200;
const CHART_H = 80;

/** A histogram as SVG bars (numbers), or the most frequent values as a list. */
function Distribution(props: { dist: IFeatureDistribution | null }): JSX.Element {
  const dist = props.dist;
  if (!dist) {
    return <div className="jp-mlops-empty">No distribution for this feature.</div>;
  }
  if (dist.kind === 'top') {
    const values = dist.values ?? [];
    const top = Math.max(1, ...values.map(v => v[1]));
    return (
      <table className="jp-mlops-grid jp-mlops-feature-top">
        <tbody>
          {values.map(([value, n]) => (
            <tr key={value} className="jp-mlops-feature-top-row">
              <td>{value}</td>
              <td className="jp-mlops-num">{n}</td>
              <td style={{ width: '40%' }}>
                <div
                  className="jp-mlops-feature-top-bar"
                  style={{ width: `${(100 * n) / top}%` }}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    );
  }
  const counts = dist.counts ?? [];
  const edges = dist.edges ?? [];
  const top = Math.max(1, ...counts);
  const w = CHART_W / Math.max(1, counts.length);
  return (
    <svg
      className="jp-mlops-feature-histogram"
      viewBox={`0 0 ${CHART_W} ${CHART_H + 14}`}
      width="100%"
      role="img"
      aria-label={`histogram of ${counts.length} bins from ${num(edges[0])} to ${num(
        edges[edges.length - 1]
      )}`}
    >
      {counts.map((c, i) => {
        const h = (CHART_H * c) / top;
        return (
          <rect
            key={i}
            className="jp-mlops-feature-bar"
            data-count={c}
            x={i * w + 0.5}
            y={CHART_H - h}
            width={Math.max(0.5, w - 1)}
            height={h}
          >
            <title>{`${num(edges[i])} – ${num(edges[i + 1])}: ${c}`}</title>
          </rect>
        );
      })}
      <text x={0} y={CHART_H + 12} className="jp-mlops-feature-axis">
        {num(edges[0])}
      </text>
      <text x={CHART_W} y={CHART_H + 12} textAnchor="end" className="jp-mlops-feature-axis">
        {num(edges[edges.length - 1])}
      </text>
    </svg>
  );
}
