/**
 * One monitor: per-feature drift over the windows, prediction drift and live quality over
 * time, the latest window per feature, alerts and rules, and the standalone HTML report in a
 * sandboxed iframe (no scripts, opaque origin; the server also sends a sandboxing CSP).
 */
import * as React from 'react';
import { AlertsList, RulesList } from './alertsList';
import { saveBlob } from './download';
import { DriftChart, IWindowSeries } from './driftChart';
import {
  DRIFT_STATISTICS,
  DriftMeasure,
  thresholdLine,
  verdictRule
} from './driftThresholds';
import { formatNumber, formatShortTime } from './format';
import { KeyValueTable, Section } from './keyValueTable';
import { IColumnDrift, IMonitorSeries } from './monitoringTypes';
import { MlopsService } from './service';
import { useAsync } from './useAsync';
import { ErrorLine, useAction } from './useAction';

const WINDOWS = 200;
const QUALITY = ['accuracy', 'f1', 'mae', 'rmse'];

export interface IMonitorViewProps {
  service: MlopsService;
  name: string;
  refreshCount: number;
  onBack(): void;
}

function measureOf(c: IColumnDrift | null | undefined, measure: DriftMeasure): number | null {
  const v = c?.measures[measure];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * Per-feature series of one statistic (features without it, e.g. categorical ones for a KS
 * p-value, are left out); features drifted in the latest window first and flagged.
 */
export function featureSeries(
  series: IMonitorSeries,
  measure: DriftMeasure,
  kinds: Record<string, string> = {}
): IWindowSeries[] {
  const latest = series.windows[series.windows.length - 1];
  const kind = DRIFT_STATISTICS.find(x => x.measure === measure)?.kind;
  const out = series.features
    // A statistic only decides the verdict of its own kind of feature (PSI is also computed
    // for categorical features, but their verdict is chi-squared and Jensen–Shannon).
    .filter(f => !kinds[f] || kinds[f] === kind)
    .map(f => ({
      label: f,
      points: series.windows.map(
        w =>
          [w.seq, measureOf(w.features[f], measure), w.features[f]?.drifted ?? false] as [
            number,
            number | null,
            boolean
          ]
      ),
      flagged: latest?.features[f]?.drifted ?? false
    }))
    .filter(s => s.points.some(p => p[1] !== null));
  return out.sort((a, b) => Number(b.flagged) - Number(a.flagged));
}

function predictionSeries(series: IMonitorSeries, measure: DriftMeasure): IWindowSeries[] {
  if (!series.windows.some(w => measureOf(w.prediction, measure) !== null)) {
    return [];
  }
  const latest = series.windows[series.windows.length - 1];
  return [
    {
      label: series.prediction_feature,
      points: series.windows.map(w => [
        w.seq,
        measureOf(w.prediction, measure),
        w.prediction?.drifted ?? false
      ]),
      flagged: latest?.prediction?.drifted ?? false
    }
  ];
}

/** Every feature drifted in the latest window, whatever statistics it has. */
function driftedFeatures(series: IMonitorSeries): string[] {
  const latest = series.windows[series.windows.length - 1];
  return series.features.filter(f => latest?.features[f]?.drifted);
}

function qualitySeries(series: IMonitorSeries): IWindowSeries[] {
  return QUALITY.filter(m => series.windows.some(w => w.quality[m] !== undefined)).map(m => ({
    label: m,
    points: series.windows.map(w => [w.seq, w.quality[m] ?? null, false])
  }));
}

export function MonitorView(props: IMonitorViewProps): JSX.Element {
  const { service, name } = props;
  const deps = [service, name, props.refreshCount];
  const detail = useAsync(() => service.getMonitor(name), deps);
  const series = useAsync(() => service.monitorWindows(name, WINDOWS), deps);
  const alerts = useAsync(() => service.monitorAlerts(name), deps);
  const [showReport, setShowReport] = React.useState(false);
  const download = useAction();

  const d = detail.value;
  const s = series.value;
  const latest = s?.windows[s.windows.length - 1];
  const [measure, setMeasure] = React.useState<DriftMeasure>('psi');
  const thresholds = s?.thresholds ?? {};
  const kinds = Object.fromEntries((d?.reference.columns ?? []).map(c => [c.name, c.kind]));
  const features = s && d ? featureSeries(s, measure, kinds) : [];
  const drifted = s ? driftedFeatures(s) : [];
  const quality = s ? qualitySeries(s) : [];
  const prediction = s ? predictionSeries(s, measure) : [];
  const line = thresholdLine(measure, thresholds);
  const statLabel = DRIFT_STATISTICS.find(x => x.measure === measure)?.label ?? measure;

  return (
    <div className="jp-mlops-monitor jp-mlops-scroll-page" data-monitor={name}>
      <div className="jp-mlops-toolbar">
        <button className="jp-mlops-button jp-mlops-back" onClick={props.onBack}>
          ← Monitors
        </button>
        <button
          className="jp-mlops-button jp-mlops-open-report"
          onClick={() => setShowReport(v => !v)}
        >
          {showReport ? 'Hide report' : 'Open report'}
        </button>
        <button
          className="jp-mlops-button"
          disabled={download.busy}
          onClick={() =>
            download.run(async () =>
              saveBlob(await service.downloadMonitorReport(name), `monitor-${name}.html`)
            )
          }
        >
          Download report
        </button>
      </div>
      <h3 className="jp-mlops-run-title">
        <span className="jp-mlops-monitor-name">{name}</span>
        <span className="jp-mlops-muted">{d ? ` watches ${d.model_ref}` : ''}</span>
      </h3>
      <ErrorLine error={detail.error?.message ?? series.error?.message ?? download.error} />
      {latest && (
        <div
          className={`jp-mlops-monitor-status${drifted.length ? ' jp-mlops-monitor-drifted' : ''}`}
          role="status"
        >
          {drifted.length
            ? `Drift in window ${latest.seq}: ${drifted.join(', ')}` +
              (latest.prediction?.drifted ? ' and the predictions' : '')
            : `No feature drifted in window ${latest.seq}`}
          {` · ${latest.rows} rows · ${formatShortTime(latest.end_at)}`}
        </div>
      )}
      {s && s.windows.length === 0 && (
        <div className="jp-mlops-empty">
          No windows yet: windows close as mon.log_predictions(...) receives rows.
        </div>
      )}
      {showReport && (
        <iframe
          className="jp-mlops-report-frame"
          title={`Monitor report ${name}`}
          sandbox=""
          referrerPolicy="no-referrer"
          src={service.monitorReportUrl(name)}
        />
      )}
      {s && s.windows.length > 0 && (
        <>
          <div className="jp-mlops-toolbar jp-mlops-drift-statistic">
            <label>
              {'Statistic '}
              <select
                className="jp-mlops-drift-measure"
                aria-label="Drift statistic"
                value={measure}
                onChange={e => setMeasure(e.target.value as DriftMeasure)}
              >
                {DRIFT_STATISTICS.map(x => (
                  <option key={x.measure} value={x.measure}>
                    {`${x.label} (${x.kind})`}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <div className="jp-mlops-muted jp-mlops-drift-rule">{verdictRule(thresholds)}</div>
          {features.length > 0 ? (
            <DriftChart
              className="jp-mlops-feature-drift"
              series={features}
              title={`${statLabel} per feature over time`}
              measure={measure}
              threshold={line}
            />
          ) : (
            <div className="jp-mlops-empty jp-mlops-feature-drift">
              {`No feature has a ${statLabel} (it is computed for ${
                DRIFT_STATISTICS.find(x => x.measure === measure)?.kind
              } features).`}
            </div>
          )}
          {prediction.length > 0 && (
            <DriftChart
              className="jp-mlops-prediction-drift"
              series={prediction}
              title={`Prediction drift (${statLabel})`}
              measure={measure}
              threshold={line}
            />
          )}
          {quality.length > 0 ? (
            <DriftChart
              className="jp-mlops-quality"
              series={quality}
              title="Live quality over time"
              measure="quality"
            />
          ) : (
            <div className="jp-mlops-empty jp-mlops-quality">
              No live quality yet: it appears once mon.log_feedback(ids, y_true) joins ground truth.
            </div>
          )}
          <LatestWindowTable series={s} />
        </>
      )}
      <Section title="Alerts" count={alerts.value?.alerts.length}>
        <ErrorLine error={alerts.error?.message} />
        {alerts.value && <AlertsList alerts={alerts.value.alerts} />}
      </Section>
      <Section title="Alert rules" count={alerts.value?.rules.length} defaultOpen={false}>
        {alerts.value && <RulesList rules={alerts.value.rules} />}
      </Section>
      {d && (
        <Section title="Configuration and reference" defaultOpen={false}>
          <KeyValueTable
            entries={[
              ['model', d.model_ref],
              [
                'window',
                d.window?.rows
                  ? `${d.window.rows} rows`
                  : d.window?.seconds
                    ? `${d.window.seconds} s`
                    : ''
              ],
              ['task', d.task ?? ''],
              ['reference rows', d.reference.rows],
              [
                'reference columns',
                d.reference.columns.map(c => `${c.name} (${c.kind})`).join(', ')
              ],
              [
                'thresholds',
                Object.entries(d.thresholds)
                  .map(([k, v]) => `${k} ${formatNumber(v)}`)
                  .join(', ')
              ],
              [
                'predictions logged',
                `${d.predictions_logged} (${d.predictions_labelled} labelled)`
              ],
              ['created by', `${d.created_by} ${formatShortTime(d.created_at)}`]
            ]}
          />
        </Section>
      )}
    </div>
  );
}

/** The latest window, one row per feature: score, verdict, missing share. */
function LatestWindowTable(props: { series: IMonitorSeries }): JSX.Element | null {
  const s = props.series;
  const w = s.windows[s.windows.length - 1];
  if (!w) {
    return null;
  }
  const rows = [
    ...Object.entries(w.features),
    ...(w.prediction ? [[s.prediction_feature, w.prediction] as const] : [])
  ].sort((a, b) => Number(b[1].drifted) - Number(a[1].drifted));
  return (
    <Section title={`Latest window (${w.seq})`} count={rows.length}>
      <table className="jp-mlops-grid jp-mlops-latest-window">
        <thead>
          <tr>
            <th>feature</th>
            <th className="jp-mlops-num">{s.score_measure}</th>
            <th>drift</th>
            <th className="jp-mlops-num">missing</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([feature, c]) => (
            <tr
              key={feature}
              className={`jp-mlops-feature-row${c.drifted ? ' jp-mlops-feature-drifted' : ''}`}
              data-feature={feature}
              data-drifted={c.drifted ? 'true' : 'false'}
            >
              <td className="jp-mlops-strong">{feature}</td>
              <td className="jp-mlops-num">{formatNumber(c.score)}</td>
              <td>{c.drifted ? <span className="jp-mlops-drift-tag">drifted</span> : 'ok'}</td>
              <td className="jp-mlops-num">
                {c.missing_share === null ? '' : `${(c.missing_share * 100).toFixed(1)} %`}
                {c.missing_drifted ? ' ↑' : ''}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
